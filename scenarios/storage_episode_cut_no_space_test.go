package scenarios

import "testing"

// TestStorageEpisodeCutNoSpaceFires runs episodes whose aimed ErrNoSpace fails a truncation
// (storage_episode_cut_no_space.go): they pass, and fail with the knob that takes the failed
// truncation as done without the SaveState that must finish the cut, as an engine whose
// superblock write did not finish it left the disk (storage.save_state_over_failed_cut).
func TestStorageEpisodeCutNoSpaceFires(t *testing.T) {
	knobFiring{seeds: 400, want: 3,
		reached: func(c map[string]uint64) bool { return c["storage_episode.truncate_no_space"] > 0 },
		knob:    func(e *storeEpisode) { e.cutNoSpaceSkipsSave = true },
		why:     "too few seeds caught the failed truncation"}.run(t)
}
