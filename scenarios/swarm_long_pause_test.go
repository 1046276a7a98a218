package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/sim"
)

// The clock truth check passes replicas whose verdict the clocks allow, and fires on one that
// reports synchronised with its clock far off every other node's for two sample ages; a
// replica just resumed (its verdict from before the pause stands until its first tick) and
// one off by less than two sample errors and the tolerance are not failed.
func TestClockTruthFiresOnAFarOffSynchronisedClock(t *testing.T) {
	tc := newTestCluster(t, testOptions{replicas: 3, seed: 1})
	tc.Nodes[0].Clock.Step(30 * int64(sim.Second)) // off from the start
	tc.Nodes[1].Clock.Step(5 * int64(sim.Second))  // off, within what samples allow
	var truth clockTruth
	for tick := 0; tick < 2500; tick++ { // 25 s: the window forgets every clock's earlier reading
		tc.RunFor(sim.TickInterval)
		now := int64(tc.Loop.Now())
		truth.observe(tc.Cluster, now)
		for i := 0; i < 3; i++ {
			in := tc.Replica(i).InspectState() // the replicas' own verdicts: correct code
			require.Empty(t, truth.check(tc.Cluster, i, &in, now), "tick %d", tick)
		}
	}
	now := int64(tc.Loop.Now())
	in := tc.Replica(1).InspectState()
	in.ClockSynchronized = true
	require.Empty(t, truth.check(tc.Cluster, 1, &in, now), "5 s off: a sample could allow it")
	tc.Nodes[0].Pause()
	tc.RunFor(sim.TickInterval)
	truth.observe(tc.Cluster, int64(tc.Loop.Now()))
	tc.Nodes[0].Unpause()
	truth.observe(tc.Cluster, int64(tc.Loop.Now()))
	in = tc.Replica(0).InspectState()
	in.ClockSynchronized = true
	require.Empty(t, truth.check(tc.Cluster, 0, &in, int64(tc.Loop.Now())), "just resumed: the verdict stands")
	tc.RunFor(2 * sim.TickInterval)
	truth.observe(tc.Cluster, int64(tc.Loop.Now()))
	require.Contains(t, truth.check(tc.Cluster, 0, &in, int64(tc.Loop.Now())),
		"clock_truth: replica 0 reports its clock synchronised while it is 30.000s off true time")
}

// The swarm draws the long pause in some seeds (its own stream) and reports it: a seed that
// draws it pauses a replica once for 10 to 40 s, resumes it, and passes.
func TestSwarmLongPauseHappens(t *testing.T) {
	swarm, ok := Lookup("swarm")
	require.True(t, ok)
	r := swarm.Run(Options{Seed: 2045000017}) // the primary, deposed while paused
	require.Equal(t, Pass, r.Outcome, r.Reason)
	require.Equal(t, uint64(1), r.Counters["nemesis.pause.long"])
	require.Equal(t, uint64(1), r.Counters["nemesis.unpause.long"])
	require.Equal(t, uint64(1), r.Counters["coverage.mark.long_pause.primary"])
	require.Equal(t, uint64(1), r.Counters["coverage.mark.long_pause.deposed"])
	r = swarm.Run(Options{Seed: 2045000000})
	require.Equal(t, Pass, r.Outcome, r.Reason)
	require.Zero(t, r.Counters["nemesis.pause.long"], "a seed that does not draw it")
	require.Zero(t, r.Counters["coverage.mark.long_pause.paused"])
}
