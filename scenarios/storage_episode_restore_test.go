package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestStorageEpisodeRestoreCheckFires runs the restore check on recoveries that pass it, then
// with its knob set: the damaged entry of the restored disk loses its record too, as after
// a restore that laid the records out without the body's start
// (storage.restore_records_without_prefix), and the op comes back of unknown identity, or
// not at all.
func TestStorageEpisodeRestoreCheckFires(t *testing.T) {
	judged := 0
	for seed := uint64(1); seed < 40 && judged < 5; seed++ {
		e, rec := episodeRecovery(t, seed)
		if len(rec.Faulty) > 0 || rec.CheckpointLost {
			continue
		}
		require.Empty(t, e.checkRestore(), "seed %d: a correct restore passes", seed)
		if e.counters["coverage.storage_episode.restored_rots"] == 0 {
			continue
		}
		judged++
		e.restoreLosesIdentity = true
		require.Contains(t, e.checkRestore(), "restored entry damaged", "seed %d", seed)
	}
	require.Equal(t, 5, judged, "too few seeds with restored entries to damage")
}
