package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/sim"
)

// deposedSeed returns the first seed from 1 whose swarm passes with the deposed-primary
// round run.
func deposedSeed(t *testing.T) uint64 {
	t.Helper()
	for seed := uint64(1); seed <= 20; seed++ {
		r := runSwarm(Options{Seed: seed})
		if r.Outcome == Pass && r.Counters["coverage.mark.deposed.round"] > 0 {
			return seed
		}
	}
	t.Fatal("no seed of 1..20 ran the deposed-primary round")
	return 0
}

// The round has teeth: a cluster left with no quorum once the deposed primary returns (the
// knob takes down every other active replica, as a backup that never leaves the old
// primary's view leaves the others without the vote they need) serves no client, and the
// run fails as a liveness failure naming the round.
func TestSwarmDeposedRoundFailsWhenTheClusterStalls(t *testing.T) {
	seed := deposedSeed(t)
	stall := func(c *sim.Cluster, deposed, down int) {
		active, _ := c.Members()
		for _, i := range active {
			if i != deposed && i != down {
				c.CrashReplica(i)
			}
		}
	}
	r := runSwarmWith(Options{Seed: seed}, swarmKnobs{afterDeposedReturn: stall})
	require.Equal(t, Liveness, r.Outcome, r.Reason)
	require.Contains(t, r.Reason, "deposed primary R")
	require.Contains(t, r.Reason, "returned with the new primary R")
}
