package scenarios

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/storage"
)

// TestStorageEpisodeRunCheckFires feeds checkRewritableRun an engine that would rewrite a run
// of faulty ops in place whatever history it is given (storage.rewrite_run_ignores_chain,
// storage_crash seed 49), and one that rewrites only the acknowledged run.
func TestStorageEpisodeRunCheckFires(t *testing.T) {
	e, rec := episodeRecovery(t, 7)
	require.GreaterOrEqual(t, len(rec.Entries), 3)
	run := []uint64{rec.Entries[0].Op, rec.Entries[1].Op}
	require.Equal(t, run[0]+1, run[1])
	broken := *rec
	broken.Faulty = run
	acknowledged := func(r []storage.Entry) int {
		for _, entry := range r {
			if !bytes.Equal(entry.Body, e.m.Log[entry.Op]) {
				return 0
			}
		}
		return len(r)
	}
	e.checkRunsWith(&broken, acknowledged)
	require.Empty(t, e.failure, "an engine that rewrites only the log's own run passes")
	e.checkRunsWith(&broken, func(r []storage.Entry) int { return len(r) })
	require.Contains(t, e.failure, "a run of another history")
}

// TestStorageEpisodeReachesRewritableRuns: the drawn runs of unknown identity reach a
// RewritableRun in a few hundred seeds.
func TestStorageEpisodeReachesRewritableRuns(t *testing.T) {
	runs := uint64(0)
	for seed := uint64(1); seed <= 600 && runs == 0; seed++ {
		r := runStorageCrash(Options{Seed: seed})
		require.Equal(t, Pass, r.Outcome, "seed %d: %s", seed, r.Reason)
		runs += r.Counters["coverage.storage_episode.rewritable_runs"]
	}
	require.NotZero(t, runs)
}
