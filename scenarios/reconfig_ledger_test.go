package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
	"vopr/ops"
	"vopr/sim"
)

// The check has teeth: a transport that answers the nemesis's first change as accepted
// without passing it on (a cluster that acknowledges a change and loses it), followed at once
// by a second change that the primary does take, leaves the first never carried out while
// its primary stays in its view, and the run fails naming the vanished change.
func TestSwarmReconfigFailsOnAnAcceptedChangeLost(t *testing.T) {
	seed := seedReaching(t, "coverage.path.reconfig_twice", 40)
	lost := false
	ask := func(c *sim.Cluster, change vsr.Change) (ops.ReconfigReport, error) {
		if p := c.Primary(); !lost && p >= 0 {
			lost = true
			return ops.ReconfigReport{Change: change.Kind.String(), Primary: p, Epoch: replicaStatus(c, p).Epoch + 1}, nil
		}
		return ClusterReconfigChange(c, change)
	}
	r := runSwarmWith(Options{Seed: seed}, swarmKnobs{reconfigAsk: ask, reconfigTwice: true})
	require.Equal(t, Correctness, r.Outcome, r.Reason)
	require.Contains(t, r.Reason, "the accepted change vanished")
}

// And no false alarm: the cluster refuses the second change as busy, the first takes effect,
// and the run passes.
func TestSwarmReconfigSecondChangeRefusedPasses(t *testing.T) {
	seed := seedReaching(t, "coverage.path.reconfig_twice", 40)
	r := runSwarmWith(Options{Seed: seed}, swarmKnobs{reconfigTwice: true})
	require.Equal(t, Pass, r.Outcome, r.Reason)
}
