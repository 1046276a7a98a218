package faults

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/kv"
	"vopr/sim"
)

// The straggler move waits for its shape (every replica but the primary and one other on the
// newest binary), then cuts that one replica off from the other replicas and reboots the
// primary on the newest binary, as any crash may (mayTakeDown); the cut ends with every path
// back.
func TestNemesisUpgradeStraggler(t *testing.T) {
	run := newAimedRun(t, 3, 90, NemesisOptions{UpgradeStragglerProbability: 1})
	c, n := run.c, run.n
	c.RunFor(300 * sim.Millisecond)
	n.Step(c)
	require.Nil(t, n.shape, "every replica on the base release: no straggler yet")
	require.Zero(t, n.Counts()[ActionUpgradeStraggler])

	primary, _ := testPrimary(c)
	require.GreaterOrEqual(t, primary, 0)
	upgraded := (primary + 1) % 3
	straggler := (primary + 2) % 3
	c.SetRelease(upgraded, kv.ReleaseLatest) // its next boot runs the newest binary
	// The reboot keeps the rule of every other crash: not within the primary's stability
	// period, nor past the atlas's availability bound.
	n.stableUntil[primary] = n.tick + 5
	n.Step(c)
	require.Nil(t, n.shape, "the primary rebooted within its stability period")
	require.Zero(t, n.Counts()[ActionUpgradeStraggler])
	n.stableUntil[primary] = 0
	restartsBefore := c.Restarts()
	n.Step(c)
	require.NotNil(t, n.shape)
	require.Equal(t, 1, int(n.Counts()[ActionUpgradeStraggler]))
	require.Equal(t, kv.ReleaseLatest, c.Release(primary), "the primary rebooted on the newest binary")
	require.Equal(t, restartsBefore+1, c.Restarts(), "the primary rebooted")
	requireCutFromReplicas(t, c, straggler)

	n.o.UpgradeStragglerProbability = 0
	requireShapeEnds(t, c, n, 2)
}
