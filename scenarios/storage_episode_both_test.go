package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestStorageEpisodeReachesBothCheckpointsRotten checks that some of the first seeds corrupt
// the previous checkpoint's file with the newest one's (storage_episode_both.go), that some
// of those recoveries report the state lost (the path storage.fallback_failure_keeps_previous
// breaks: storage_crash seed 3 kills it), and that the seeds pass.
func TestStorageEpisodeReachesBothCheckpointsRotten(t *testing.T) {
	both, lost := uint64(0), uint64(0)
	for seed := uint64(1); seed <= 300; seed++ {
		r := runStorageCrash(Options{Seed: seed})
		require.Equal(t, Pass, r.Outcome, "seed %d: %s", seed, r.Reason)
		both += r.Counters["coverage.storage_episode.damage.both_checkpoints"]
		if r.Counters["coverage.storage_episode.damage.both_checkpoints"] > 0 {
			lost += r.Counters["storage_episode.checkpoint_lost"]
		}
	}
	require.NotZero(t, both)
	require.NotZero(t, lost)
}
