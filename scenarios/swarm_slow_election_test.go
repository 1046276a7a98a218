package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/sim"
)

// The bound has teeth: replicas whose view-change timeout is cut to one tick above the resend
// period as the primary goes down (the knob: a view change abandoned long before a slow
// network's exchange can end) churn through views, and the run fails as a liveness failure
// naming the round.
func TestSwarmSlowElectionRoundFailsOnAnAbandonedViewChange(t *testing.T) {
	seed := seedReaching(t, "coverage.mark.slow_election.round", 60)
	abandon := func(c *sim.Cluster, _ int) {
		for i := 0; i < c.ReplicaCount(); i++ {
			if rep := c.Replica(i); rep != nil {
				cfg := rep.Config()
				cfg.ViewChangeTimeoutTicks = cfg.ViewChangeResendTicks + 1
				require.NoError(t, rep.SetConfig(cfg))
			}
		}
	}
	r := runSwarmWith(Options{Seed: seed}, swarmKnobs{duringSlowElection: abandon})
	require.Equal(t, Liveness, r.Outcome, r.Reason)
	require.Contains(t, r.Reason, "slow_election: with primary")
	require.Contains(t, r.Reason, "were not all normal in view")
}
