package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestStorageEpisodeSuperblockDamageFires runs seeds whose boots damage a superblock copy,
// which pass, then again with the knob set: the damage takes both copies of the newest
// state, as one sector fault does after a write that kept the new state in a single copy
// (storage.superblock_write_single_copy), and Open's older superblock must fail the check.
func TestStorageEpisodeSuperblockDamageFires(t *testing.T) {
	fired := 0
	for seed := uint64(1); seed <= 100 && fired < 5; seed++ {
		r := runStorageCrash(Options{Seed: seed})
		require.Equal(t, Pass, r.Outcome, "seed %d: %s", seed, r.Reason)
		if r.Counters["coverage.storage_episode.damage.superblock"] == 0 {
			continue
		}
		e := newStorageEpisode(seed)
		e.superblockBothCopies = true
		e.run(e.rng.IntN(6*len(e.steps) + 1))
		if e.failure != "" {
			t.Logf("seed %d: %s", seed, e.failure)
			require.Regexp(t, `recovered (view|checkpoint|state)`, e.failure, "seed %d", seed)
			fired++
		}
	}
	require.Equal(t, 5, fired, "too few seeds where an older superblock fails the check")
}
