package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/sim"
)

// Both checks have teeth. A member cut off again as soon as it comes back (the knob) never
// rejoins the new configuration; a primary that goes down as the member comes back moves the
// view, as an election the member forced would.
func TestSwarmRejoinRoundFailsOnAMemberLeftOutOrAnElection(t *testing.T) {
	seed := seedReaching(t, "coverage.mark.rejoin.strict", 30)
	cut := func(c *sim.Cluster, y int) { c.Network.Isolate(y) }
	r := runSwarmWith(Options{Seed: seed}, swarmKnobs{afterRejoinReturn: cut})
	require.Equal(t, Liveness, r.Outcome, r.Reason)
	require.Contains(t, r.Reason, "was not normal in that view with op")

	crash := func(c *sim.Cluster, y int) { c.CrashReplica(c.Primary()) }
	r = runSwarmWith(Options{Seed: seed}, swarmKnobs{afterRejoinReturn: crash})
	require.Equal(t, Liveness, r.Outcome, r.Reason)
	require.Contains(t, r.Reason, "it forces no election")
}
