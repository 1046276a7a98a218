package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The lead variant's seeds pass on the database as it is, r0 leading a view change with its
// stale suffix in most of them.
func TestDivergentLeadPasses(t *testing.T) {
	runs, led := 0, uint64(0)
	for seed := uint64(1); runs < 6; seed++ {
		p := drawDivergent(seed)
		if !p.lead {
			continue
		}
		runs++
		r := runDivergent(Options{Seed: seed}, p)
		require.Equal(t, Pass, r.Outcome, "seed %d (%s): %s", seed, p, r.Reason)
		led += r.Counters["divergent_matrix.lead"]
		t.Logf("seed %d: lead %d timed out %d", seed, r.Counters["divergent_matrix.lead"], r.Counters["divergent_matrix.lead_timed_out"])
	}
	require.Greater(t, led, uint64(runs/2))
}
