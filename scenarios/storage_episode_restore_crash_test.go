package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestStorageEpisodeRestoreCrashFires runs the crashed restore on recoveries that pass it,
// then with its knob set: the crash leaves the old superblock in place, as a restore that
// removes it after the segments and checkpoints does (storage.restore_removes_superblock_last),
// and the disk opens as the old state with part of its files gone.
func TestStorageEpisodeRestoreCrashFires(t *testing.T) {
	fired := 0
	for seed := uint64(1); seed < 100 && fired < 5; seed++ {
		e, rec := episodeRecovery(t, seed)
		if len(rec.Faulty) > 0 || rec.CheckpointLost {
			continue
		}
		require.Empty(t, e.checkRestore(), "seed %d: a correct restore, crashed, passes", seed)
		require.Equal(t, uint64(1), e.counters["coverage.storage_episode.restore_crashes"], "seed %d", seed)
		e.restoreCrashKeepsSuperblock = true
		if msg := e.checkRestore(); msg != "" {
			t.Logf("seed %d: %s", seed, msg)
			require.Contains(t, msg, "neither the old one", "seed %d", seed)
			fired++
		}
	}
	require.Equal(t, 5, fired, "too few seeds whose crash lands between the removal of the superblock and the new one")
}
