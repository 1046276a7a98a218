package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/report"
	"vopr/scenarios"
)

// With failFast, a batch stops feeding seeds at the first failure: every seed below the
// lowest failing one has run, and once the failure is collected at most one seed per job,
// and the one the feeder was handing over, still starts. (The seeds that run while the
// failing one runs are not bounded: under load its job may be descheduled while the others
// finish many instant seeds.)
func TestFailFastStopsAtTheLowestFailingSeed(t *testing.T) {
	const failing, jobs = 7, 3
	var failureSeen atomic.Bool
	var startedAfter atomic.Int64
	fake := scenarios.Scenario{Name: "fake", Run: func(o scenarios.Options) scenarios.Result {
		if failureSeen.Load() {
			startedAfter.Add(1)
		}
		r := scenarios.Result{Scenario: "fake", Seed: o.Seed}
		if o.Seed%failing == 0 {
			r.Outcome, r.Reason = scenarios.Liveness, "fails on multiples of 7"
		}
		return r
	}}
	for _, failFast := range []bool{false, true} {
		failureSeen.Store(false)
		startedAfter.Store(0)
		next := uint64(1)
		batch := seedBatch{scenario: fake, jobs: jobs, failFast: failFast, next: func() (uint64, bool) {
			if next > 100 {
				return 0, false
			}
			next++
			return next - 1, true
		}}
		results := batch.run(func(r scenarios.Result) {
			if r.Outcome != scenarios.Pass {
				failureSeen.Store(true)
			}
		})
		if !failFast {
			require.Len(t, results, 100)
			continue
		}
		require.LessOrEqual(t, startedAfter.Load(), int64(jobs+1), "seeds kept starting after the failure")
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
