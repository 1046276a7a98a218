package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
)

// A quarter of the seeds draw the boundary variant (not those whose crash counts checkpoint
// I/O): far, held, the crash within the first divergentBoundaryCrashMax log completions.
func TestDivergentBoundaryDraws(t *testing.T) {
	on := 0
	for seed := uint64(1); seed <= 2000; seed++ {
		p := drawDivergent(seed)
		if !p.boundary.on {
			continue
		}
		on++
		require.True(t, p.far && p.pastCheckpoint && p.m > p.k+vsr.ViewHeadersMax, "seed %d: %s", seed, p)
		require.True(t, p.holdTicks >= divergentBoundaryHoldTicksMin && p.sync.pastHold == 0 && p.sync.checkpointCrash == 0, "seed %d: %s", seed, p)
		require.True(t, p.boundary.after >= 1 && p.boundary.after <= divergentBoundaryCrashMax && p.boundary.identity, "seed %d: %s", seed, p)
		require.Equal(t, divergentBoundary{}, drawDivergentAnchor(seed).boundary, "seed %d: the anchor takes no boundary", seed)
	}
	require.True(t, on > 350 && on < 650, "boundary drawn in %d of 2000 seeds", on)
}

// Among seeds 1..200 some boundary seeds crash in r0's log rewrite and aim the damage at
// both sides of the boundary, and they pass.
func TestDivergentBoundarySeedsPass(t *testing.T) {
	s, ok := Lookup("divergent_matrix")
	require.True(t, ok)
	aimed := map[string]uint64{}
	for seed := uint64(1); seed <= 200; seed++ {
		if !drawDivergent(seed).boundary.on {
			continue
		}
		r := s.Run(Options{Seed: seed})
		require.Equal(t, Pass, r.Outcome, "seed %d (%s): %s", seed, r.Params, r.Reason)
		for _, side := range []string{"new", "stale"} {
			aimed[side] += r.Counters["divergent_matrix.boundary.aimed."+side]
		}
	}
	require.Positive(t, aimed["new"])
	require.Positive(t, aimed["stale"])
}
