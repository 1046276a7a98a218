package faults

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/sim"
)

// The fault is on in most seeds with evictions and in few others, and off is nil, whose
// every method does nothing.
func TestStaleRequestsDrawn(t *testing.T) {
	on := map[bool]int{}
	seeds := map[bool]int{}
	for seed := uint64(1); seed <= 800; seed++ {
		s := DrawSwarm(sim.Stream(seed, "swarm"))
		evicting := s.ClientTable > 0
		seeds[evicting]++
		if DrawStaleRequests(sim.Stream(seed, "nemesis/stale_requests"), s) != nil {
			on[evicting]++
		}
	}
	require.InDelta(t, 0.75, float64(on[true])/float64(seeds[true]), 0.12, "seeds with evictions")
	require.InDelta(t, 0.125, float64(on[false])/float64(seeds[false]), 0.05, "seeds without")
	var off *StaleRequests
	off.Capture(1, 0, []byte("x"))
	off.Step(nil)
	off.OnNewPrimary(nil, 0)
	off.Stop()
	counters := map[string]uint64{}
	off.Counters(counters)
	require.Empty(t, counters)
}

// staleRequestsOn draws, from seed on, a swarm of four clients sharing three sessions and
// a stale-requests nemesis that is on.
func staleRequestsOn(t *testing.T, seed uint64) (Swarm, *StaleRequests, uint64) {
	t.Helper()
	for ; seed < 1000; seed++ {
		s, err := DrawSwarmOverride(sim.Stream(seed, "swarm"), Override{Clients: 4, NoStandbys: true, NoReconfig: true})
		require.NoError(t, err)
		s.ClientTable = 3
		if st := DrawStaleRequests(sim.Stream(seed, "nemesis/stale_requests"), s); st != nil {
			return s, st, seed
		}
	}
	t.Fatal("no seed with the fault on")
	return Swarm{}, nil, 0
}

// Copies of clients' requests and registers come back seconds later, many of a session the
// client no longer has (evicted, or registered again), none before the drawn least delay
// and none after Stop.
func TestStaleRequestsReleaseLate(t *testing.T) {
	s, st, seed := staleRequestsOn(t, 1)
	opts := s.ClusterOptions(seed)
	opts.OnClientSend = func(client, slot int, msg []byte) { st.Capture(opts.ClusterID, client, msg) }
	c := sim.NewCluster(opts)
	var out strings.Builder
	c.Trace.Out, c.Trace.Level = &out, sim.LevelShort
	r := sim.Stream(seed, "workload")
	for i := 0; i < s.Clients; i++ {
		c.SetClientTick(i, clientTick(c, i, r))
	}
	firstRelease := -1
	for tick := 1; tick <= 2000; tick++ {
		c.RunFor(sim.TickInterval)
		st.Step(c)
		if firstRelease < 0 && st.Released > 0 {
			firstRelease = tick
		}
	}
	require.Greater(t, st.Captured, uint64(0))
	require.Greater(t, st.Released, uint64(0))
	require.Greater(t, st.ReleasedOldSession, uint64(0), "no copy outlived its session")
	require.GreaterOrEqual(t, firstRelease, st.delayMin, "a copy released before the least delay")
	require.Contains(t, out.String(), "stale_request: c")
	st.Stop()
	released, captured := st.Released, st.Captured
	for tick := 0; tick < 2000; tick++ {
		c.RunFor(sim.TickInterval)
		st.Step(c)
		st.OnNewPrimary(c, 0)
	}
	require.Equal(t, released, st.Released, "released after Stop")
	require.Equal(t, captured, st.Captured, "captured after Stop")
	require.Empty(t, st.held)
}
