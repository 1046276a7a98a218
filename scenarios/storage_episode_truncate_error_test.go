package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestStorageEpisodeTruncateErrorFires runs episodes whose aimed write error meets a
// truncation's marks (storage_episode_truncate_error.go): they pass, and fail with the knob
// that hands the error to the engine as one it does not write again after, so that the
// truncation fails, as an engine that did not read its marks back failed it
// (storage.truncate_fails_on_tombstone_write_error).
func TestStorageEpisodeTruncateErrorFires(t *testing.T) {
	reached, fired := 0, 0
	for seed := uint64(1); seed <= 200 && fired < 3; seed++ {
		e := newStorageEpisode(seed)
		e.run(e.rng.IntN(6*len(e.steps) + 1))
		require.Empty(t, e.failure, "seed %d", seed)
		if e.counters["coverage.storage_episode.truncate_write_error"] == 0 {
			continue
		}
		reached++
		e = newStorageEpisode(seed)
		e.truncateErrorEscapes = true
		e.run(e.rng.IntN(6*len(e.steps) + 1))
		if e.failure != "" {
			t.Logf("seed %d: %s", seed, e.failure)
			fired++
		}
	}
	t.Logf("reached %d, fired %d", reached, fired)
	require.Equal(t, 3, fired, "too few seeds caught the failed truncation")
}
