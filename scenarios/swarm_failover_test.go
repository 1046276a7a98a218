package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The swarm's failover holds the standby's contact lag while the operator reacts: the first
// seed that draws a failover passes, and fails when the lag read after the reaction time
// has grown.
func TestSwarmFailoverHoldsContactLag(t *testing.T) {
	seed := uint64(1)
	for !drawSwarm(seed).Failover {
		seed++
		require.Less(t, seed, uint64(1000), "no swarm seed draws a failover")
	}
	r := runSwarm(Options{Seed: seed})
	require.Equal(t, Pass, r.Outcome, "seed %d: %s", seed, r.Reason)
	grown := runSwarmWith(Options{Seed: seed}, swarmKnobs{contactLagGrows: 1})
	require.Equal(t, Correctness, grown.Outcome, "seed %d: %s", seed, grown.Reason)
	require.Contains(t, grown.Reason, "contact lag moved")
}
