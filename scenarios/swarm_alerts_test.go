package scenarios

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/sim"
)

// faultFreeSeeds returns the first n seeds whose swarm draws no fault kind at all (about one
// seed in two hundred), so the test runs the swarm scenario exactly as `vopr swarm` would.
func faultFreeSeeds(t *testing.T, n int) []uint64 {
	t.Helper()
	var seeds []uint64
	for seed := uint64(1); seed <= 5000 && len(seeds) < n; seed++ {
		// The reconfiguring nemesis and failovers disturb too; node.knobs does not.
		if s := drawSwarm(seed); s.FaultFree() && !s.Failover {
			seeds = append(seeds, seed)
		}
	}
	require.Len(t, seeds, n)
	return seeds
}

// faultFreeSeedOf returns the first fault-free seed of a cluster of replicas.
func faultFreeSeedOf(t *testing.T, replicas int) uint64 {
	t.Helper()
	seeds := faultFreeSeeds(t, 8)
	i := slices.IndexFunc(seeds, func(seed uint64) bool { return drawSwarm(seed).Replicas == replicas })
	require.GreaterOrEqual(t, i, 0, "a fault-free seed of %d replicas", replicas)
	return seeds[i]
}

// p0p1Rules are the names of the runbook's P0 and P1 alert rules.
func p0p1Rules() []string {
	var names []string
	for _, rule := range RunbookAlerts() {
		if rule.Severity <= P1 {
			names = append(names, rule.Name)
		}
	}
	return names
}

// A swarm without faults (every replica up, a clean network, disks and clocks) never raises a
// P0 or P1 alert, from the cluster's start to the end of the alert hold.
func TestHealthySwarmRaisesNoP0P1Alert(t *testing.T) {
	for _, seed := range faultFreeSeeds(t, 3) {
		r := runSwarm(Options{Seed: seed})
		require.Equal(t, Pass, r.Outcome, "seed %d: %s", seed, r.Reason)
		require.Positive(t, r.Counters["requests_acked"], "seed %d", seed)
		for _, name := range p0p1Rules() {
			n, ok := r.Counters["alert."+name]
			require.True(t, ok, "seed %d: no counter alert.%s: the Monitor is not wired in", seed, name)
			require.Zero(t, n, "seed %d: %s fired", seed, name)
		}
	}
}

// The check has teeth: a majority crashed once the healed cluster has converged raises the
// P0 QuorumLost alert within the hold, and the run fails as a liveness failure naming it.
// (A disk filled to 97% would not do: the storage engine compacts it back at once.)
func TestSwarmFailsWhenAnAlertFiresAfterConvergence(t *testing.T) {
	crashMajority := func(c *sim.Cluster) {
		for i := 1; i < c.ReplicaCount(); i++ {
			c.CrashReplica(i)
		}
	}
	seed := faultFreeSeedOf(t, 3)
	r := runSwarmWith(Options{Seed: seed}, swarmKnobs{afterConverged: crashMajority})
	require.Equal(t, Liveness, r.Outcome, r.Reason)
	require.Contains(t, r.Reason, "P0 alert "+AlertQuorumLost+" ")
	require.Contains(t, r.Reason, "after the cluster converged")
	require.Equal(t, uint64(1), r.Counters["alert."+AlertQuorumLost])
}

// syntheticSample is a synthetic sample of a cluster of three healthy replicas, each having gone
// through views[i] view changes.
func syntheticSample(at sim.Time, healthy int, views ...uint64) Sample {
	s := Sample{At: at, Healthy: healthy, Quorum: 2, Primary: 0}
	for _, v := range views {
		s.Replicas = append(s.Replicas, ReplicaSample{ViewChangesTotal: v, LagMs: -1})
	}
	return s
}

func newSyntheticAlerts(faultFree bool) *swarmAlerts {
	return &swarmAlerts{mon: &Monitor{Interval: 100 * sim.Millisecond, Rules: RunbookAlerts(),
		pendingSince: map[string]sim.Time{}, firing: map[string]bool{}}, faultFree: faultFree}
}

// feed adds one sample every 100 ms from `from` to `to` (exclusive) to the whole run's
// Monitor and to the post-heal evaluation.
func (a *swarmAlerts) feed(from, to sim.Time, sample func(at sim.Time) Sample) {
	for at := from; at < to; at += sim.Time(100 * sim.Millisecond) {
		s := sample(at)
		a.mon.Add(s)
		a.sampled(s)
	}
}

// The view-change storm of the fault phase keeps the whole run's alert firing for its 30 s
// window after the heal, but the post-heal evaluation counts only the healed cluster's own
// view changes: a storm that stopped at the heal passes (a), one that goes on fails it.
func TestSwarmAlertsClipTheViewChangeWindowAtTheHeal(t *testing.T) {
	healAt, convergedAt := 10*sim.Time(sim.Second), 11*sim.Time(sim.Second)
	storm := func(stopAt sim.Time) func(at sim.Time) Sample {
		return func(at sim.Time) Sample {
			v := uint64(min(at, stopAt) / sim.Time(sim.Second) * 4) // four view changes a second
			return syntheticSample(at, 3, v, v, 0)
		}
	}
	for _, tc := range []struct {
		stopAt sim.Time
		want   string
	}{{healAt, ""}, {sim.Time(1 << 62), AlertViewChangeStorm}} {
		a := newSyntheticAlerts(false)
		a.feed(0, healAt, storm(tc.stopAt))
		require.True(t, a.mon.Firing(AlertViewChangeStorm))
		a.heal()
		a.feed(healAt, convergedAt, storm(tc.stopAt))
		a.converged(convergedAt)
		a.feed(convergedAt, convergedAt+sim.Time(alertSettle+alertHold), storm(tc.stopAt))
		require.True(t, a.mon.Firing(AlertViewChangeStorm), "the whole run's window still sees the storm")
		if tc.want == "" {
			require.Empty(t, a.unhealthy())
		} else {
			require.Contains(t, a.unhealthy(), "alert "+tc.want+" ")
		}
	}
}

// Without faults, a P0 alert at any time fails the run, even one long resolved; with faults
// it is what the fault phase is for.
func TestSwarmAlertsFaultFreeRunRaisesNone(t *testing.T) {
	for _, faultFree := range []bool{false, true} {
		a := newSyntheticAlerts(faultFree)
		a.feed(0, 2*sim.Time(sim.Second), func(at sim.Time) Sample { return syntheticSample(at, 1, 0, 0, 0) })
		a.feed(2*sim.Time(sim.Second), 4*sim.Time(sim.Second), func(at sim.Time) Sample {
			return syntheticSample(at, 3, 0, 0, 0)
		})
		require.True(t, a.mon.Fired(AlertQuorumLost))
		require.False(t, a.mon.Firing(AlertQuorumLost))
		if faultFree {
			require.Contains(t, a.unhealthy(), AlertQuorumLost)
		} else {
			require.Empty(t, a.unhealthy())
		}
	}
}
