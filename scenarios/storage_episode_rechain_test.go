package scenarios

import "testing"

// TestStorageEpisodeRechainFires runs episodes that installed a checkpoint over ops of unknown
// identity and rechained the log above it (storage_episode_rechain.go): they pass, and fail
// with the knob that acknowledges the rechain without writing it, as an engine whose
// RechainRun reported entries it never made durable leaves the disk: the ops stay damaged.
func TestStorageEpisodeRechainFires(t *testing.T) {
	knobFiring{seeds: 400, want: 5, every: true,
		reached: func(c map[string]uint64) bool { return c["coverage.storage_episode.rechain_written"] > 0 },
		knob:    func(e *storeEpisode) { e.rechainForged = true },
		failure: "after the rechain's write",
		why:     "too few seeds caught a rechain never written"}.run(t)
}
