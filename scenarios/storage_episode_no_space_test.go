package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestStorageEpisodeNoSpaceForTheRecordFires runs episodes whose aimed ErrNoSpace fails a
// fresh append's record write (storage_episode_write_error.go): they pass, and fail with the
// knob that leaves the failed append's entry past the head, as an engine that skipped its
// cut left it (storage.record_no_space_keeps_entry): the next Open finishes the append, and
// an op whose append failed comes back.
func TestStorageEpisodeNoSpaceForTheRecordFires(t *testing.T) {
	reached, fired := 0, 0
	for seed := uint64(1); seed <= 400 && fired < 3; seed++ {
		e := newStorageEpisode(seed)
		e.run(e.rng.IntN(6*len(e.steps) + 1))
		require.Empty(t, e.failure, "seed %d", seed)
		if e.counters["storage_episode.append_no_space"] == 0 {
			continue
		}
		reached++
		e = newStorageEpisode(seed)
		e.noSpaceKeepsEntry = true
		e.run(e.rng.IntN(6*len(e.steps) + 1))
		if e.failure != "" {
			t.Logf("seed %d: %s", seed, e.failure)
			fired++
		}
	}
	t.Logf("reached %d, fired %d", reached, fired)
	require.Equal(t, 3, fired, "too few seeds caught the failed append's entry coming back")
}
