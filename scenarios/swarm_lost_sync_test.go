package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

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
