package scenarios

import "testing"

// TestStorageEpisodeOpenRecordOverMarkFires runs episodes in which Open's record over a mark
// was misdirected, Open returned the op intact, and the next boot rotted its entry
// (storage_episode_open_record.go): they pass, and fail with the knob that puts the mark back
// after that Open, as an engine that did not read the record back left it
// (storage.open_finished_record_not_read_back): the op is dropped at the next boot.
func TestStorageEpisodeOpenRecordOverMarkFires(t *testing.T) {
	knobFiring{seeds: 2000, want: 3, failure: "lost",
		reached: func(c map[string]uint64) bool {
			return c["coverage.storage_episode.open_record_over_mark_landed"] > 0 &&
				c["coverage.storage_episode.rot_after_rewrite"] > 0
		},
		knob: func(e *storeEpisode) { e.openRecordNotReadBack = true },
		why:  "too few seeds caught an op left under its mark by the Open that returned it"}.run(t)
}
