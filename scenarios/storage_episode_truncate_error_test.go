package scenarios

import "testing"

// TestStorageEpisodeTruncateErrorFires runs episodes whose aimed write error meets a
// truncation's marks (storage_episode_truncate_error.go): they pass, and fail with the knob
// that hands the error to the engine as one it does not write again after, so that the
// truncation fails, as an engine that did not read its marks back failed it
// (storage.truncate_fails_on_tombstone_write_error).
func TestStorageEpisodeTruncateErrorFires(t *testing.T) {
	knobFiring{seeds: 200, want: 3,
		reached: func(c map[string]uint64) bool { return c["coverage.storage_episode.truncate_write_error"] > 0 },
		knob:    func(e *storeEpisode) { e.truncateErrorEscapes = true },
		why:     "too few seeds caught the failed truncation"}.run(t)
}
