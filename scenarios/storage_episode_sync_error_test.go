package scenarios

import "testing"

// TestStorageEpisodeSyncErrorFires runs episodes whose aimed sync error fails a fresh
// append's record sync and keeps the record (storage_episode_sync_error.go): they pass, and
// fail with the knob that leaves the failed append's record in place, as an engine that did
// not tombstone it left it (storage.failed_append_keeps_record).
func TestStorageEpisodeSyncErrorFires(t *testing.T) {
	knobFiring{seeds: 200, want: 3,
		reached: func(c map[string]uint64) bool { return c["coverage.storage_episode.append_sync_error_kept"] > 0 },
		knob:    func(e *storeEpisode) { e.syncErrorKeepsRecord = true },
		why:     "too few seeds caught the failed append's record"}.run(t)
}
