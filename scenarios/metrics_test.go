package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/sim"
)

func observeFor(tc *testCluster, mon *Monitor, ticks int) {
	for i := 0; i < ticks; i++ {
		tc.RunFor(sim.TickInterval)
		mon.Observe()
	}
}

// A healthy run under load raises no P0 or P1 alert, and its metrics move.
func TestMetricsHealthyRunRaisesNoP0P1(t *testing.T) {
	for _, replicas := range []int{3, 5} {
		tc := newTestCluster(t, testOptions{replicas: replicas, clients: 2, seed: uint64(20 + replicas)})
		mon := NewMonitor(tc.Cluster)
		tc.load = true
		observeFor(tc, mon, 2000)
		require.Empty(t, mon.FiredAtOrAbove(P1), "alerts: %v", mon.Events())
		require.Greater(t, tc.totalAcked(), 100)
		last := mon.Samples()[len(mon.Samples())-1]
		require.Equal(t, replicas, last.Healthy)
		require.Equal(t, replicas, last.StatusTotals["normal"])
		require.Greater(t, last.CommitsTotal, uint64(100))
		require.Greater(t, last.CommitLatencyP99Ms, int64(0))
		lag, _ := last.MaxLagMs()
		require.Less(t, lag, int64(500))
		require.Len(t, mon.Samples(), 200) // one per 100 ms of simulated time
		tc.requireNoFailures()
	}
}

func TestMetricsAlertsFireOnForcedConditions(t *testing.T) {
	tc := newTestCluster(t, testOptions{replicas: 3, clients: 1, seed: 31})
	mon := NewMonitor(tc.Cluster)
	tc.load = true
	observeFor(tc, mon, 300)
	require.Empty(t, mon.FiredAtOrAbove(P3))
	primary := tc.primary()
	require.GreaterOrEqual(t, primary, 0)
	backup, other := (primary+1)%3, (primary+2)%3

	// A lagging backup: cut off, the cluster commits on without it.
	tc.Network.Isolate(backup)
	observeFor(tc, mon, 300)
	require.True(t, mon.Fired(AlertReplicationLag), "events: %v", mon.Events())
	require.True(t, mon.Fired(AlertReplicationLagP2))
	tc.Network.Heal()
	observeFor(tc, mon, 1000)
	require.False(t, mon.Firing(AlertReplicationLag), "lag alert still firing after heal: %v", mon.Events())

	// One replica down: the runbook's Scenario 1 alert; a short blip (< For) does not fire.
	require.False(t, mon.Fired(AlertQuorumLost))
	tc.CrashReplica(backup)
	observeFor(tc, mon, 150)
	require.True(t, mon.Firing(AlertReplicasUnhealthy))
	require.False(t, mon.Fired(AlertQuorumLost))
	// Two down: quorum lost, P0.
	tc.CrashReplica(other)
	observeFor(tc, mon, 150)
	require.True(t, mon.Firing(AlertQuorumLost))
	tc.StartReplica(backup)
	tc.StartReplica(other)
	observeFor(tc, mon, 1000)
	require.False(t, mon.Firing(AlertQuorumLost))
	require.False(t, mon.Firing(AlertReplicasUnhealthy), "events: %v", mon.Events())

	// A full disk: 80/90/95 at P3/P1/P0 (load stopped, so auto-compaction at 85% does not
	// free it before the alerts' 1 s).
	tc.load = false
	observeFor(tc, mon, 200)
	disk := tc.Nodes[primary].Disk
	disk.SetCapacity(disk.Usage().Used * 100 / 97)
	observeFor(tc, mon, 150)
	for _, rule := range []string{AlertDiskUsage80, AlertDiskUsage90, AlertDiskUsage95} {
		require.True(t, mon.Fired(rule), "%s: %v", rule, mon.Events())
	}
	require.False(t, mon.Fired(AlertAssertionFailure))
	require.False(t, mon.Fired(AlertViewChangeStorm))
}

// Synthetic samples for the rules a live cluster does not reach without a planted bug.
func TestMetricsSyntheticRules(t *testing.T) {
	mon := &Monitor{Rules: RunbookAlerts(), pendingSince: map[string]sim.Time{}, firing: map[string]bool{}}
	sample := func(at sim.Time, views uint64, assertions uint64) Sample {
		rs := []ReplicaSample{{Status: "normal", ViewChangesTotal: views, LagMs: -1}, {Status: "normal", LagMs: 0},
			{Status: "normal", LagMs: 0}}
		return Sample{At: at, Replicas: rs, Healthy: 3, Quorum: 2, AssertionFailuresTotal: assertions}
	}
	// 10 view changes within 5 s: not a storm; 11: a storm.
	for k := 0; k <= 50; k++ {
		mon.Add(sample(sim.Time(k)*sim.Time(100*sim.Millisecond), uint64(k/5), 0))
	}
	require.False(t, mon.Fired(AlertViewChangeStorm), "%v", mon.Events())
	for k := 51; k <= 100; k++ {
		mon.Add(sample(sim.Time(k)*sim.Time(100*sim.Millisecond), 10+uint64(k-50)/2, 0))
	}
	require.True(t, mon.Fired(AlertViewChangeStorm), "%v", mon.Events())
	require.False(t, mon.Fired(AlertAssertionFailure))
	mon.Add(sample(sim.Time(101)*sim.Time(100*sim.Millisecond), 35, 1))
	require.True(t, mon.Firing(AlertAssertionFailure), "fires at once")
	require.NotEmpty(t, mon.FiredAtOrAbove(P0))
}
