package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/report"
	"vopr/scenarios"
)

// With failFast, a batch stops feeding seeds at the first failure: every seed below the
// lowest failing one has run, and at most one seed per job runs past it.
func TestFailFastStopsAtTheLowestFailingSeed(t *testing.T) {
	const failing, jobs = 7, 3
	fake := scenarios.Scenario{Name: "fake", Run: func(o scenarios.Options) scenarios.Result {
		r := scenarios.Result{Scenario: "fake", Seed: o.Seed}
		if o.Seed%failing == 0 {
			r.Outcome, r.Reason = scenarios.Liveness, "fails on multiples of 7"
		}
		return r
	}}
	for _, failFast := range []bool{false, true} {
		next := uint64(1)
		batch := seedBatch{scenario: fake, jobs: jobs, failFast: failFast, next: func() (uint64, bool) {
			if next > 100 {
				return 0, false
			}
			next++
			return next - 1, true
		}}
		results := batch.run(nil)
		if !failFast {
			require.Len(t, results, 100)
			continue
		}
		require.GreaterOrEqual(t, len(results), failing)
		require.LessOrEqual(t, len(results), failing+jobs, "seeds kept starting after the failure")
		for i, r := range results[:failing] {
			require.Equal(t, uint64(i+1), r.Seed, "a seed below the first failure did not run")
		}
		require.Equal(t, scenarios.Liveness, results[failing-1].Outcome)
	}
}

// The flag on the command line: echo with a one-tick budget fails every seed, so a fail-fast
// batch of 20 runs its first seed and at most one more (one job).
func TestSwarmFailFastFlag(t *testing.T) {
	js := filepath.Join(t.TempDir(), "r.json")
	code, stdout, stderr := vopr("swarm", "--scenario", "echo", "--seed", "1", "--seeds", "20", "--jobs", "1",
		"--ticks-max", "1", "--fail-fast", "--json", js)
	require.Equal(t, exitLiveness, code, stderr)
	require.Contains(t, stdout, "seed=1 FAIL liveness")
	data, err := os.ReadFile(js)
	require.NoError(t, err)
	var batch report.BatchJSON
	require.NoError(t, json.Unmarshal(data, &batch))
	require.NotEmpty(t, batch.Results)
	require.LessOrEqual(t, len(batch.Results), 2)
	require.Equal(t, uint64(1), batch.Results[0].Seed)
}
