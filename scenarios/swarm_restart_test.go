package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/sim"
)

// Both checks have teeth. A replica cut off as soon as it restarts never takes the cluster's
// view; a primary that goes down as the replica restarts moves the view, as an election the
// restarted replica forced would.
func TestSwarmRestartRoundFailsOnAReplicaLeftOutOrAnElection(t *testing.T) {
	seed := seedReaching(t, "coverage.mark.restart.strict", 30)
	cut := func(c *sim.Cluster, y int) { c.Network.Isolate(y) }
	r := runSwarmWith(Options{Seed: seed}, swarmKnobs{afterRestart: cut})
	require.Equal(t, Liveness, r.Outcome, r.Reason)
	require.Contains(t, r.Reason, "was not normal in that view with op")

	crash := func(c *sim.Cluster, y int) {
		if p := c.Primary(); p >= 0 && p != y {
			c.CrashReplica(p)
		}
	}
	r = runSwarmWith(Options{Seed: seed}, swarmKnobs{afterRestart: crash})
	require.Equal(t, Liveness, r.Outcome, r.Reason)
	require.Contains(t, r.Reason, "it forces no election")
}
