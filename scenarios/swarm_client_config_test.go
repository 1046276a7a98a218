package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/sim"
)

// The check has teeth: a client whose sends never reach the one replica left to it (the knob
// cuts that path too, as a client that skips the slot it believes outside never sends there)
// gives up on its request, and the run fails as a liveness failure naming the round.
func TestSwarmClientConfigRoundFailsOnASlotNeverTried(t *testing.T) {
	seed := seedReaching(t, "coverage.mark.client_config.served", 40)
	cut := func(c *sim.Cluster, k, x int) { c.Network.Cut(c.ClientNode(k), x) }
	r := runSwarmWith(Options{Seed: seed}, swarmKnobs{afterClientCut: cut})
	require.Equal(t, Liveness, r.Outcome, r.Reason)
	require.Contains(t, r.Reason, "whose last reply named")
	require.Contains(t, r.Reason, "gave up")
}

// The bound has teeth too: a client that reaches that replica only later than it would by
// trying every slot in turn (the knob holds its sends there one retry period past the bound)
// is answered, but too late.
func TestSwarmClientConfigRoundFailsOnASlotTriedLate(t *testing.T) {
	seed := seedReaching(t, "coverage.mark.client_config.served", 40)
	late := func(c *sim.Cluster, k, x int) {
		slack := (&swarmRun{c: c}).messageSlackTicks()
		c.Network.Clog(c.ClientNode(k), x, clientConfigBound(c.ReplicaCount(), slack)+clientRetryPeriod)
	}
	r := runSwarmWith(Options{Seed: seed}, swarmKnobs{afterClientCut: late})
	require.Equal(t, Liveness, r.Outcome, r.Reason)
	require.Contains(t, r.Reason, "whose last reply named")
	require.Contains(t, r.Reason, "was answered at")
}
