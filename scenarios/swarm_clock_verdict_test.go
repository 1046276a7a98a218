package scenarios

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
	"vopr/sim"
)

// skewPongs makes the pongs one backup receives, from the moment the healed cluster
// converged, claim clocks skewNs ahead of their senders': a fault the harness does not see (the
// network is whole and every clock true), as a replica that misreads its peers' clocks would
// make it. The pong is re-encoded, so it passes its checksums.
func skewPongs(skewNs int64, victim *int) func(c *sim.Cluster) {
	return func(c *sim.Cluster) {
		active, _ := c.Members()
		for _, i := range active {
			if i != c.Primary() {
				*victim = i
				break
			}
		}
		c.Network.SetDeliver(func(from, to int, msg []byte) {
			if command, ok := vsr.PeekCommand(msg); ok && command == vsr.CommandPong && to == *victim {
				if m, err := vsr.Decode(msg, c.ClusterID()); err == nil {
					m.Header.Timestamp += skewNs
					msg = vsr.Encode(m.Header, nil)
				}
			}
			c.Nodes[to].Deliver(from, msg)
		})
	}
}

// The clock verdicts of the healed, idle cluster are checked, and fire on a backup whose
// samples say its peers' clocks are 2 s ahead (it concludes, rightly from what it holds, that
// its own clock is unsynchronised; the harness knows every clock is true) and on one whose
// samples say 100 ms (it stays synchronised, but reports an offset that is not there).
func TestClockVerdictsOfAHealthyCluster(t *testing.T) {
	const seed = 7 // five active replicas, no failover
	r := runSwarmWith(Options{Seed: seed}, swarmKnobs{})
	require.Equal(t, Pass, r.Outcome, r.Reason)
	require.Equal(t, uint64(1), r.Counters["coverage.mark.clock_verdict.checked"], "the rule applies to this seed")
	require.Positive(t, r.Counters["coverage.mark.latency_witness.checked"], "the swarm's latency witness is wired")

	victim := -1
	r = runSwarmWith(Options{Seed: seed}, swarmKnobs{afterConverged: skewPongs(2*int64(sim.Second), &victim)})
	require.Equal(t, Correctness, r.Outcome, r.Reason)
	require.GreaterOrEqual(t, victim, 0)
	require.Contains(t, r.Reason, fmt.Sprintf("clock: replica %d reports its clock unsynchronised", victim))

	r = runSwarmWith(Options{Seed: seed}, swarmKnobs{afterConverged: skewPongs(100*int64(sim.Millisecond), &victim)})
	require.Equal(t, Correctness, r.Outcome, r.Reason)
	require.Contains(t, r.Reason, fmt.Sprintf("clock: replica %d reports a cluster clock offset of", victim))
}
