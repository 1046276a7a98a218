package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestStorageEpisodeReachesLandingAboveHead checks that the first seeds place record-area
// landings above the head over a torn tail (storage_episode_landing.go), among them seed 39,
// which kills storage.foreign_record_counts_as_evidence (recovery took a landed record for
// evidence of op 7's append and held op 7 faulty), and that the seeds pass.
func TestStorageEpisodeReachesLandingAboveHead(t *testing.T) {
	landings := uint64(0)
	for seed := uint64(1); seed <= 400; seed++ {
		r := runStorageCrash(Options{Seed: seed})
		require.Equal(t, Pass, r.Outcome, "seed %d: %s", seed, r.Reason)
		landings += r.Counters["storage_episode.landing_above_head"]
		if seed == 39 {
			require.NotZero(t, r.Counters["storage_episode.landing_above_head"], "seed 39")
		}
	}
	require.NotZero(t, landings)
}
