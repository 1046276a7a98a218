package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/sim"
)

// blipSeed returns the first seed from 1 whose swarm passes with the blip round timed.
func blipSeed(t *testing.T) uint64 {
	t.Helper()
	for seed := uint64(1); seed <= 40; seed++ {
		r := runSwarm(Options{Seed: seed})
		if r.Outcome == Pass && r.Counters["coverage.mark.blip.round"] > 0 {
			return seed
		}
	}
	t.Fatal("no seed of 1..40 timed the blip round")
	return 0
}

// The bound has teeth: backups that the network cuts off again as soon as they resume (the
// knob) see no resend, as if the primary's had backed off past the bound, and the run fails
// as a liveness failure naming the round.
func TestSwarmBlipRoundFailsOnALateCommit(t *testing.T) {
	seed := blipSeed(t)
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
