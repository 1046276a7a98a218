package scenarios

import (
	"testing"

	"vopr/cluster/storage"
)

// appendLiar acknowledges every Append without writing it, as an engine that took an append
// over a faulty parent would (storage.append_over_faulty_parent).
type appendLiar struct{ *storage.Storage }

func (appendLiar) Append(_ storage.Entry, done func(error)) { done(nil) }

// rechainLiar finds every run rechainable, as an engine that checked only the sizes of the
// intact entries a rechain rewrites would (storage.rechain_ignores_body_of_intact_entry).
type rechainLiar struct{ *storage.Storage }

func (rechainLiar) RechainableRun([]storage.Entry) bool { return true }

// TestStorageEpisodeProbeAboveFaultyFires runs episodes whose probes asked for an append over
// a faulty op (storage_episode_probe.go): they pass, and fail with an engine that
// acknowledges the append.
func TestStorageEpisodeProbeAboveFaultyFires(t *testing.T) {
	knobFiring{seeds: 400, want: 5, every: true,
		reached: func(c map[string]uint64) bool { return c["coverage.storage_episode.probe.above_faulty"] > 0 },
		knob: func(e *storeEpisode) {
			e.probeLies = func(s *storage.Storage) probeTarget { return appendLiar{s} }
		},
		failure: "over faulty op",
		why:     "too few seeds caught an append acknowledged over a faulty op"}.run(t)
}

// TestStorageEpisodeProbeOtherBodyFires runs episodes whose probes asked for a write in place
// of a run with another body at an intact op: they pass, and fail with an engine that finds
// every run rechainable.
func TestStorageEpisodeProbeOtherBodyFires(t *testing.T) {
	knobFiring{seeds: 400, want: 5, every: true,
		reached: func(c map[string]uint64) bool { return c["coverage.storage_episode.probe.other_body"] > 0 },
		knob: func(e *storeEpisode) {
			e.probeLies = func(s *storage.Storage) probeTarget { return rechainLiar{s} }
		},
		failure: "RechainableRun",
		why:     "too few seeds caught a rechain of another body over an intact op"}.run(t)
}

// TestStorageEpisodeInstallUnderCutLeftFires runs episodes that installed a peer's checkpoint
// between a failed truncation's cut and the ops it left (storage_episode_cut_floor.go): they
// pass, and fail with the knob that leaves what the failed cut owed on disk, as an engine
// that did not pay it above the new checkpoint left it.
func TestStorageEpisodeInstallUnderCutLeftFires(t *testing.T) {
	knobFiring{seeds: 3000, want: 3,
		reached: func(c map[string]uint64) bool {
			return c["coverage.storage_episode.install_under_cut_left"] > 0 && c["coverage.storage_episode.cut_debt_paid"] > 0
		},
		knob:    func(e *storeEpisode) { e.cutDebtForgotten = true },
		failure: "acknowledged",
		why:     "too few seeds caught what a failed cut left above a checkpoint installed under it coming back"}.run(t)
}
