package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/sim"
)

// The bound has teeth: backups that the network cuts off again as soon as they resume (the
// knob) see no resend, as if the primary's had backed off past the bound, and the run fails
// as a liveness failure naming the round.
func TestSwarmBlipRoundFailsOnALateCommit(t *testing.T) {
	seed := seedReaching(t, "coverage.mark.blip.round", 40)
	recut := func(c *sim.Cluster, backups []int) {
		for _, i := range backups {
			c.Network.Isolate(i)
		}
	}
	r := runSwarmWith(Options{Seed: seed}, swarmKnobs{afterBlip: recut})
	require.Equal(t, Liveness, r.Outcome, r.Reason)
	require.Contains(t, r.Reason, "did not commit within")
	require.Contains(t, r.Reason, "after its backups returned from an outage")
}
