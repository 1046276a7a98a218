package scenarios

import "testing"

// TestStorageEpisodeNoSpaceForTheRecordFires runs episodes whose aimed ErrNoSpace fails a
// fresh append's record write (storage_episode_write_error.go): they pass, and fail with the
// knob that leaves the failed append's entry past the head, as an engine that skipped its
// cut left it (storage.record_no_space_keeps_entry): the next Open finishes the append, and
// an op whose append failed comes back.
func TestStorageEpisodeNoSpaceForTheRecordFires(t *testing.T) {
	knobFiring{seeds: 400, want: 3,
		reached: func(c map[string]uint64) bool { return c["storage_episode.append_no_space"] > 0 },
		knob:    func(e *storeEpisode) { e.noSpaceKeepsEntry = true },
		why:     "too few seeds caught the failed append's entry coming back"}.run(t)
}
