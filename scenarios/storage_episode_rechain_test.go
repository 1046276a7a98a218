package scenarios

import (
	"testing"

	"vopr/cluster/storage"
)

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

// TestStorageEpisodeRechainRefusalsFire runs episodes whose rechain asked for a run with
// another body at an op of known identity, or one whose ops of unknown identity nothing
// places: they pass, and fail with an engine that finds every run rechainable.
func TestStorageEpisodeRechainRefusalsFire(t *testing.T) {
	knobFiring{seeds: 400, want: 5, every: true,
		reached: func(c map[string]uint64) bool { return c["coverage.storage_episode.rechain"] > 0 },
		knob: func(e *storeEpisode) {
			e.rechainLies = func(s *storage.Storage) probeTarget { return rechainLiar{s} }
		},
		failure: "rechain: RechainableRun accepted",
		why:     "too few seeds caught a rechain accepted against its contract"}.run(t)
}
