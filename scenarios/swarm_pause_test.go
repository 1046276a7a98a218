package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/sim"
)

// TestPipelineDrainedFiresOnAStuckPrepare: a primary holding a prepare its paused, cut-off
// backups never received has not drained its pipeline (the pause round's check fails);
// once they resume and its resend reaches them, it has.
func TestPipelineDrainedFiresOnAStuckPrepare(t *testing.T) {
	tc := newTestCluster(t, testOptions{replicas: 3, seed: 1})
	tc.commitN(3, 1000)
	run := &swarmRun{c: tc.Cluster}
	require.True(t, tc.RunUntil(run.pipelineDrained, 200), "idle cluster: %s", tc.describe())
	p := tc.primary()
	for i := 0; i < 3; i++ {
		if i != p {
			tc.Nodes[i].Pause()
			tc.Network.Isolate(i)
		}
	}
	tc.load = true
	tc.RunFor(5 * sim.TickInterval)
	tc.load = false
	tc.RunFor(100 * sim.TickInterval)
	require.False(t, run.pipelineDrained(), "a prepare no backup received: %s", tc.describe())
	tc.Network.Heal()
	for i := 0; i < 3; i++ {
		tc.Nodes[i].Unpause()
	}
	require.True(t, tc.RunUntil(run.pipelineDrained, 200), "after the resume: %s", tc.describe())
}
