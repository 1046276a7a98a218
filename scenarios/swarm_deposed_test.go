package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/sim"
)

// The round has teeth: a cluster left with no quorum once the deposed primary returns (the
// knob takes down every other active replica, as a backup that never leaves the old
// primary's view leaves the others without the vote they need) serves no client, and the
// run fails as a liveness failure naming the round.
func TestSwarmDeposedRoundFailsWhenTheClusterStalls(t *testing.T) {
	seed := seedReaching(t, "coverage.mark.deposed.round", 20)
	stall := func(c *sim.Cluster, deposed, down int) {
		active, _ := c.Members()
		for _, i := range active {
			if i != deposed && i != down {
				c.CrashReplica(i)
			}
		}
	}
	r := runSwarmWith(Options{Seed: seed}, swarmKnobs{afterDeposedReturn: stall})
	require.Equal(t, Liveness, r.Outcome, r.Reason)
	require.Contains(t, r.Reason, "deposed primary R")
	require.Contains(t, r.Reason, "returned with the new primary R")
}
