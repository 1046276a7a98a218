package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestStorageEpisodeReachesMarkFaults checks that the faults aimed at the record area's marks
// (storage_episode_marks.go) are drawn, and land, on some of the first seeds, and that those
// seeds pass: a mark landing over an intact entry, and a record written over a mark that a
// misdirect sent elsewhere followed by its entry's rot.
func TestStorageEpisodeReachesMarkFaults(t *testing.T) {
	reached := map[string]uint64{}
	for seed := uint64(1); seed <= 400; seed++ {
		r := runStorageCrash(Options{Seed: seed})
		require.Equal(t, Pass, r.Outcome, "seed %d: %s", seed, r.Reason)
		for _, name := range []string{"coverage.storage_episode.mark_landing",
			"coverage.storage_episode.record_over_mark_armed", "coverage.storage_episode.record_over_mark_rotted"} {
			reached[name] += r.Counters[name]
		}
	}
	for name, n := range reached {
		require.NotZero(t, n, name)
	}
}
