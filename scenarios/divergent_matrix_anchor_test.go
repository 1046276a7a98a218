package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
)

// Every seed puts one of r0's own ops at op 64 and the others' head in 65..72, and a few
// hundred seeds draw each variant.
func TestDivergentMatrixAnchorDraws(t *testing.T) {
	stuck, fail, low := 0, 0, 0
	for seed := uint64(1); seed <= 1000; seed++ {
		p := drawDivergentAnchor(seed)
		require.Equal(t, p, drawDivergentAnchor(seed), "seed %d", seed)
		require.True(t, p.a < vsr.CheckpointInterval && p.a+p.k >= vsr.CheckpointInterval, "seed %d: %s", seed, p)
		require.True(t, p.a+p.m > vsr.CheckpointInterval && p.a+p.m <= vsr.CheckpointInterval+divergentAnchorPastMax, "seed %d: %s", seed, p)
		require.True(t, p.pastCheckpoint && !p.far && p.lowDamage < vsr.CheckpointInterval/2, "seed %d: %s", seed, p)
		for _, d := range p.damage {
			require.True(t, d.op > p.a && d.op <= p.top(), "seed %d: %s", seed, p)
		}
		stuck, fail, low = stuck+boolInt(p.stuck), fail+boolInt(p.installFail), low+boolInt(p.lowDamage > 0)
	}
	for name, n := range map[string]int{"stuck": stuck, "install_fail": fail, "low_damage": low} {
		require.Greater(t, n, 300, "%s drawn in %d of 1000 seeds", name, n)
	}
}

// Seeds 1..100 pass, and every stuck seed state-syncs to 64 while only r1 reaches it (the
// state the scenario is for: r0's own prepare of 64 in its log as checkpoint 64 lands).
func TestDivergentMatrixAnchorSeedsPass(t *testing.T) {
	s, ok := Lookup("divergent_matrix_anchor")
	require.True(t, ok)
	failed := uint64(0)
	for seed := uint64(1); seed <= 100; seed++ {
		p := drawDivergentAnchor(seed)
		r := s.Run(Options{Seed: seed})
		require.Equal(t, Pass, r.Outcome, "seed %d (%s): %s", seed, r.Params, r.Reason)
		require.Equal(t, "divergent_matrix_anchor", r.Scenario)
		if p.stuck {
			require.Positive(t, r.Counters["divergent_matrix.anchor.stuck.synced"], "seed %d (%s): no state sync while stuck", seed, r.Params)
		}
		failed += r.Counters["divergent_matrix.anchor.install_fail_fired"]
	}
	require.Positive(t, failed, "no seed failed r0's write of checkpoint 64")
}

func TestDivergentMatrixAnchorDeterministic(t *testing.T) {
	s, _ := Lookup("divergent_matrix_anchor")
	for _, seed := range []uint64{1, 2} {
		require.Nil(t, CheckDeterminism(s.Run, Options{Seed: seed}), "seed %d", seed)
	}
}
