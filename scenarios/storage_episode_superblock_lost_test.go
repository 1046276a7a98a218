package scenarios

import (
	"bytes"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestStorageEpisodeSuperblockKeptFires feeds the rule on what Open writes over the superblock
// (checkSuperblockKept) the write of an older state over a copy of a newer one that is not
// above the newest, as an engine that stored the other pair's older state twice over a copy
// it could not read leaves it (storage.superblock_twin_from_older_pair_state): it fires;
// given the file as it was, it does not.
func TestStorageEpisodeSuperblockKeptFires(t *testing.T) {
	tried := 0
	for seed := uint64(1); seed <= 200 && tried < 5; seed++ {
		e := newStorageEpisode(seed)
		e.run(e.rng.IntN(6*len(e.steps) + 1))
		require.Empty(t, e.failure, "seed %d", seed)
		e.noteSuperblockStates()
		before := e.disk.Durable("superblock")
		copies := superblockCopies(before)
		newest := readSuperblock(before)
		i := slices.IndexFunc(copies, func(c durableSuperblock) bool { return c.sequence < newest.sequence })
		if i < 0 {
			continue
		}
		target := copies[i]
		var older []byte
		for seq, b := range e.superblockSeen {
			if seq < target.sequence && (older == nil || seq < readSuperblock(older).sequence) {
				older = b
			}
		}
		if older == nil {
			continue
		}
		tried++
		e.checkSuperblockKept(before)
		require.Empty(t, e.failure, "seed %d: the file as it was", seed)
		at := int64(target.index * superblockCopySize)
		require.NoError(t, e.wait(func(done func(error)) { e.disk.WriteAt("superblock", older, at, done) }))
		require.NoError(t, e.wait(func(done func(error)) { e.disk.Sync("superblock", done) }))
		require.False(t, bytes.Equal(before, e.disk.Durable("superblock")))
		e.checkSuperblockKept(before)
		require.Contains(t, e.failure, "Open wrote superblock state", "seed %d", seed)
	}
	require.Equal(t, 5, tried, "too few seeds with an older superblock state to write back")
}

// TestStorageEpisodeSuperblockLostCopyReached runs episodes until some lost a superblock copy
// and hid the other from an Open (loseSuperblockCopy): they pass.
func TestStorageEpisodeSuperblockLostCopyReached(t *testing.T) {
	reached := 0
	for seed := uint64(1); seed <= 400 && reached < 5; seed++ {
		e := newStorageEpisode(seed)
		e.run(e.rng.IntN(6*len(e.steps) + 1))
		require.Empty(t, e.failure, "seed %d", seed)
		if e.counters["coverage.storage_episode.superblock_lost_copy"] > 0 {
			reached++
		}
	}
	require.Equal(t, 5, reached, "too few seeds lost a superblock copy")
}
