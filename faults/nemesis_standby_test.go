package faults

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/sim"
)

// TestNemesisCrashesStandbys: with standbys and node.crash on, the nemesis crashes and
// restarts standbys, never counts them against the atlas's bound, no replica fail-stops, and
// the heal brings every standby back up with fault-free disks.
func TestNemesisCrashesStandbys(t *testing.T) {
	s, seed := swarmWith(t, 3, 1)
	s.addStandbys(2)
	run := runNemesis(t, aggressive(s), seed, 600)
	counts := run.nemesis.Counts()
	require.Positive(t, counts[ActionStandbyCrash])
	require.Positive(t, counts[ActionStandbyRestart])
	require.LessOrEqual(t, run.unavailableMax, run.atlas.F, "standbys are outside the bound")
	// A standby that crashed before its view's log was durable restarts between views; it
	// once entered normal status outside its log view and fail-stopped on the assertion.
	require.Empty(t, run.c.Failures())
	run.nemesis.Heal(run.c)
	for i := s.Replicas; i < s.Replicas+s.Standbys; i++ {
		require.Equal(t, sim.NodeUp, run.c.Nodes[i].Status(), "standby %d after the heal", i)
	}
	t.Logf("standby crashes %d, restarts %d", counts[ActionStandbyCrash], counts[ActionStandbyRestart])
}
