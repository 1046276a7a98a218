package scenarios

import "testing"

// TestStorageEpisodeFailedCutFires runs episodes whose aimed truncate or remove error fails a
// cut the engine owes (storage_episode_truncate_fail.go): they pass, and fail with the knob
// that leaves what the failed cut owed on disk, as an engine that wrote the superblock over
// it without paying left it: ops the caller took as gone come back after the crash.
func TestStorageEpisodeFailedCutFires(t *testing.T) {
	knobFiring{seeds: 400, want: 5,
		reached: func(c map[string]uint64) bool { return c["coverage.storage_episode.cut_debt_paid"] > 0 },
		knob:    func(e *storeEpisode) { e.cutDebtForgotten = true },
		failure: "acknowledged",
		why:     "too few seeds caught what a failed cut left coming back"}.run(t)
}
