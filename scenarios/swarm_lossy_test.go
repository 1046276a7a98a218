package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/sim"
)

// The check has teeth: a client the network cuts off as the round's load starts (the knob)
// has its request given up on, and the run fails as a liveness failure naming the round.
func TestSwarmLossyRoundFailsOnARequestGivenUp(t *testing.T) {
	seed := seedReaching(t, "coverage.mark.lossy.round", 40)
	cut := func(c *sim.Cluster) { c.Network.Isolate(c.ClientNode(0)) }
	r := runSwarmWith(Options{Seed: seed}, swarmKnobs{duringLossy: cut})
	require.Equal(t, Liveness, r.Outcome, r.Reason)
	require.Contains(t, r.Reason, "client c1 gave up")
	require.Contains(t, r.Reason, "in the lossy round")
}
