package faults

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/sim"
)

// The primary left behind cuts exactly the current primary's replica paths and keeps them
// cut while the others elect a new primary and commit; it reconnects the old primary only
// once a primary of the others has checkpointed above the old one's op_number (never
// before), with every path back, and then watches the old primary catch up across that
// checkpoint.
func TestNemesisPrimaryLeftBehind(t *testing.T) {
	for _, replicas := range []int{3, 5} {
		run := newAimedRun(t, replicas, 40, NemesisOptions{PrimaryBehindProbability: 1})
		c, n := run.c, run.n
		c.RunFor(sim.Second)
		old, oldView := testPrimary(c)
		require.GreaterOrEqual(t, old, 0, "no primary")
		n.Step(c)
		n.o.PrimaryBehindProbability = 0 // one move, from here to its end
		require.Equal(t, isolationBehind, n.isolation.phase)
		require.Equal(t, old, n.isolation.old)
		for tick := 0; n.isolation.phase == isolationBehind; tick++ {
			require.Less(t, tick, behindTicksMax, "replicas=%d: the others never passed the old primary", replicas)
			requireCutFromReplicas(t, c, old)
			c.RunFor(sim.TickInterval)
			n.Step(c)
		}
		requireAllConnected(t, c)
		next, view := testPrimary(c)
		require.NotEqual(t, old, next)
		require.Greater(t, view, oldView)
		hits := n.Marks()
		require.Equal(t, uint64(1), hits.Count(MarkPrimaryBehindPassed), "replicas=%d", replicas)
		require.Greater(t, c.Replica(next).Inspect().CheckpointOp, c.Replica(old).Inspect().Op,
			"replicas=%d: reconnected before the others passed it", replicas)
		counts := n.Counts()
		require.Equal(t, uint64(1), counts[ActionPrimaryBehind])
		require.Equal(t, uint64(1), counts[ActionReconnect])
		require.Equal(t, old, n.watch.replica, "the old primary is watched after its reconnect")
		for tick := 0; tick < behindWatchTicks && c.Replica(old).Inspect().CommitMin < c.Replica(next).Inspect().CheckpointOp; tick++ {
			c.RunFor(sim.TickInterval)
			n.Step(c)
		}
		require.GreaterOrEqual(t, c.Replica(old).Inspect().CommitMin, c.Replica(next).Inspect().CheckpointOp,
			"replicas=%d: the old primary did not catch up across the checkpoint", replicas)
	}
}
