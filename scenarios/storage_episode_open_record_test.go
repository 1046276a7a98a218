package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestStorageEpisodeOpenRecordOverMarkFires runs episodes in which Open's record over a mark
// was misdirected, Open returned the op intact, and the next boot rotted its entry
// (storage_episode_open_record.go): they pass, and fail with the knob that puts the mark back
// after that Open, as an engine that did not read the record back left it
// (storage.open_finished_record_not_read_back): the op is dropped at the next boot.
func TestStorageEpisodeOpenRecordOverMarkFires(t *testing.T) {
	reached, fired := 0, 0
	for seed := uint64(1); seed <= 2000 && fired < 3; seed++ {
		e := newStorageEpisode(seed)
		e.run(e.rng.IntN(6*len(e.steps) + 1))
		require.Empty(t, e.failure, "seed %d", seed)
		if e.counters["coverage.storage_episode.open_record_over_mark_landed"] == 0 ||
			e.counters["coverage.storage_episode.rot_after_rewrite"] == 0 {
			continue
		}
		reached++
		e = newStorageEpisode(seed)
		e.openRecordNotReadBack = true
		e.run(e.rng.IntN(6*len(e.steps) + 1))
		if e.failure != "" {
			require.Contains(t, e.failure, "lost", "seed %d", seed)
			t.Logf("seed %d: %s", seed, e.failure)
			fired++
		}
	}
	t.Logf("reached %d, fired %d", reached, fired)
	require.Equal(t, 3, fired, "too few seeds caught an op left under its mark by the Open that returned it")
}
