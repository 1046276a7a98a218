package scenarios

import "testing"

// TestStorageEpisodeRotAfterRewriteFires runs episodes in which an Open returned intact an op
// whose record a mark landing had hit, and a later boot rotted that op's entry
// (storage_episode_rewritten.go): they pass, and fail with the knob that puts the landing back
// after that Open, as an engine that skipped writing a record over another op's left it
// (storage.open_skips_foreign_record_over_intact): the entry was the op's only copy, and its
// rot drops an op the Open had returned intact.
func TestStorageEpisodeRotAfterRewriteFires(t *testing.T) {
	knobFiring{seeds: 8000, want: 2, failure: "lost",
		reached: func(c map[string]uint64) bool {
			return c["coverage.storage_episode.rot_after_rewrite"] > 0 && c["coverage.storage_episode.mark_landing"] > 0
		},
		knob: func(e *storeEpisode) { e.foreignRecordStays = true },
		why:  "too few seeds caught an op left with one copy by the Open that returned it"}.run(t)
}
