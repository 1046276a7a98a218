package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/sim"
)

// The check has teeth: a backup that, once reconnected, no longer hears its primary (the
// knob cuts the path between them both ways) starts an election within its election timeout,
// and the round fails as a liveness failure naming the unisolate, as it would for a replica
// that kept its old countdown across the isolation.
func TestSwarmIsolationRoundFailsOnAnElectionAfterUnisolate(t *testing.T) {
	seed := seedReaching(t, "coverage.mark.isolation.checked", 20)
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

// seedReaching returns the first seed from 1 to max whose swarm passes with counter mark
// above zero: a seed in which a round of the liveness phase ran, for a test that then breaks
// the round's premise on it.
func seedReaching(t *testing.T, mark string, max uint64) uint64 {
	t.Helper()
	for seed := uint64(1); seed <= max; seed++ {
		r := runSwarm(Options{Seed: seed})
		if r.Outcome == Pass && r.Counters[mark] > 0 {
			return seed
		}
	}
	t.Fatalf("no swarm seed of 1..%d reached %s", max, mark)
	return 0
}
