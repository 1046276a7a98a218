package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/sim"
)

// The bound has teeth: a backup the network cuts off again as soon as its partition heals
// (the knob), as if its repair and sync requests went unanswered until the load stopped,
// never catches up, and the run fails as a liveness failure naming the round while the
// clients still write.
func TestSwarmCutCatchUpRoundFailsOnABackupLeftBehind(t *testing.T) {
	seed := seedReaching(t, "coverage.mark.catchup.cut_timed", 120)
	cut := func(c *sim.Cluster, backup int) { c.Network.Isolate(backup) }
	r := runSwarmWith(Options{Seed: seed}, swarmKnobs{afterCutCatchUpHeal: cut})
	require.Equal(t, Liveness, r.Outcome, r.Reason)
	require.Contains(t, r.Reason, "committed when its partition healed")
	require.Contains(t, r.Reason, "did not rejoin the quorum")
}

// A frozen backup (its process paused through the partition, so that it neither runs up its
// view nor misses a heartbeat's view): one paused again as soon as it resumes fails too.
func TestSwarmCutCatchUpRoundFailsOnAFrozenBackup(t *testing.T) {
	seed := seedReaching(t, "coverage.mark.catchup.cut_frozen", 200)
	freeze := func(c *sim.Cluster, backup int) { c.Nodes[backup].Pause() }
	r := runSwarmWith(Options{Seed: seed}, swarmKnobs{afterCutCatchUpHeal: freeze})
	require.Equal(t, Liveness, r.Outcome, r.Reason)
	require.Contains(t, r.Reason, "did not rejoin the quorum")
}
