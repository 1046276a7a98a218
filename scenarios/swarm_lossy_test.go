package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/sim"
)

// The check has teeth: clients the network cuts off as the round's load starts (the knob)
// have their requests given up on, and the run fails as a liveness failure naming the round.
// Every client is cut, so that no later request is answered and the swarm's general
// starvation check (a request given up while a later one was answered) cannot speak first.
func TestSwarmLossyRoundFailsOnARequestGivenUp(t *testing.T) {
	seed := seedReaching(t, "coverage.mark.lossy.round", 40)
	cut := func(c *sim.Cluster) {
		for i := range c.ClientCount() {
			c.Network.Isolate(c.ClientNode(i))
		}
	}
	r := runSwarmWith(Options{Seed: seed}, swarmKnobs{duringLossy: cut})
	require.Equal(t, Liveness, r.Outcome, r.Reason)
	require.Regexp(t, `client c\d+ gave up`, r.Reason)
	require.Contains(t, r.Reason, "in the lossy round")
}
