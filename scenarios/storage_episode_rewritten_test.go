package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestStorageEpisodeRotAfterRewriteFires runs episodes in which an Open returned intact an op
// whose record a mark landing had hit, and a later boot rotted that op's entry
// (storage_episode_rewritten.go): they pass, and fail with the knob that puts the landing back
// after that Open, as an engine that skipped writing a record over another op's left it
// (storage.open_skips_foreign_record_over_intact): the entry was the op's only copy, and its
// rot drops an op the Open had returned intact.
func TestStorageEpisodeRotAfterRewriteFires(t *testing.T) {
	reached, fired := 0, 0
	for seed := uint64(1); seed <= 8000 && fired < 2; seed++ {
		e := newStorageEpisode(seed)
		e.run(e.rng.IntN(6*len(e.steps) + 1))
		require.Empty(t, e.failure, "seed %d", seed)
		if e.counters["coverage.storage_episode.rot_after_rewrite"] == 0 ||
			e.counters["coverage.storage_episode.mark_landing"] == 0 {
			continue
		}
		reached++
		e = newStorageEpisode(seed)
		e.foreignRecordStays = true
		e.run(e.rng.IntN(6*len(e.steps) + 1))
		if e.failure != "" {
			require.Contains(t, e.failure, "lost", "seed %d", seed)
			t.Logf("seed %d: %s", seed, e.failure)
			fired++
		}
	}
	t.Logf("reached %d, fired %d", reached, fired)
	require.Equal(t, 2, fired, "too few seeds caught an op left with one copy by the Open that returned it")
}
