package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/sim"
)

// isolationCheckedSeed returns the first seed from 1 whose swarm passes with at least one
// isolation round whose view it checked.
func isolationCheckedSeed(t *testing.T) uint64 {
	t.Helper()
	for seed := uint64(1); seed <= 20; seed++ {
		r := runSwarm(Options{Seed: seed})
		if r.Outcome == Pass && r.Counters["coverage.mark.isolation.checked"] > 0 {
			return seed
		}
	}
	t.Fatal("no seed of 1..20 checked an isolation round")
	return 0
}

// The check has teeth: a backup that, once reconnected, no longer hears its primary (the
// knob cuts the path between them both ways) starts an election within its election timeout,
// and the round fails as a liveness failure naming the unisolate, as it would for a replica
// that kept its old countdown across the isolation.
func TestSwarmIsolationRoundFailsOnAnElectionAfterUnisolate(t *testing.T) {
	seed := isolationCheckedSeed(t)
	deafen := func(c *sim.Cluster, backup int) {
		p := c.Primary()
		require.GreaterOrEqual(t, p, 0)
		c.Network.Cut(p, backup)
		c.Network.Cut(backup, p)
	}
	r := runSwarmWith(Options{Seed: seed}, swarmKnobs{afterUnisolate: deafen})
	require.Equal(t, Liveness, r.Outcome, r.Reason)
	require.Contains(t, r.Reason, "replica unisolate of backup R")
	require.Contains(t, r.Reason, "in a healthy cluster")
}
