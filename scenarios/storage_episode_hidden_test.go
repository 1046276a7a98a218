package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestStorageEpisodeReachesHiddenRegionsAndMarkRot checks that the shapes of
// storage_episode_hidden.go are built on some of the first seeds, and that those seeds pass:
// a region past the head hidden from one Open (with the head's header and record, in some),
// and a faulty mark found after the last boot with the ops above it rotted in both copies.
func TestStorageEpisodeReachesHiddenRegionsAndMarkRot(t *testing.T) {
	names := []string{"coverage.storage_episode.hidden_region", "coverage.storage_episode.hidden_region_head",
		"coverage.storage_episode.faulty_mark_found", "coverage.storage_episode.faulty_mark_rot"}
	reached := map[string]uint64{}
	for seed := uint64(1); seed <= 1500; seed++ {
		r := runStorageCrash(Options{Seed: seed})
		require.Equal(t, Pass, r.Outcome, "seed %d: %s", seed, r.Reason)
		for _, name := range names {
			reached[name] += r.Counters[name]
		}
	}
	for _, name := range names {
		require.NotZero(t, reached[name], name)
	}
}
