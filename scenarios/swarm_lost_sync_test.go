package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/faults"
	"vopr/sim"
)

// The bound has teeth: a replica that lost its checkpoint and that the network cuts off again
// as soon as the round heals its links (the knob) never gets a snapshot, as if it kept
// refusing every peer's newer one, and the run fails as a liveness failure naming the round.
func TestSwarmLostSyncRoundFailsOnAReplicaLeftRecovering(t *testing.T) {
	seed := seedReaching(t, "coverage.mark.lost_sync.round", 30)
	cut := func(c *sim.Cluster, x int) { c.Network.Isolate(x) }
	r := runSwarmWith(Options{Seed: seed}, swarmKnobs{afterLostSyncHeal: cut})
	require.Equal(t, Liveness, r.Outcome, r.Reason)
	require.Contains(t, r.Reason, "lost its checkpoint and took")
	require.Contains(t, r.Reason, "had not recovered and executed op")
}

// A round whose X falls back past both rotten checkpoints to the format's state, its whole
// log on disk, replays that log instead of reporting its checkpoint lost: by design, so the
// round counts it (lost_sync.replayed) and times nothing. The checkers see the crash before
// the damage (swarm seed 2030600404: seen after recovery had removed the rotten files, the
// restart at checkpoint 0 looked like one below its durable checkpoint 192; still a
// regression seed, but since the storage fixes of 2cc5c15 and 16321b0 changed its disk's
// writes it no longer replays, so seed 2030601773, found by a scan of the same range, does).
func TestSwarmLostSyncRoundCountsAReplayFromTheLog(t *testing.T) {
	r := runSwarmWith(Options{Seed: 2030601773, SwarmOverride: SwarmOverride{Without: []faults.Kind{faults.NodeKnobs}}}, swarmKnobs{})
	require.Equal(t, Pass, r.Outcome, r.Reason)
	require.Equal(t, uint64(1), r.Counters["lost_sync.replayed"])
	require.Zero(t, r.Counters["coverage.mark.lost_sync.round"])
}
