package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/storage"
)

// TestStorageEpisodeCheckFiresOnALostFirstCheckpoint feeds the check a recovery that reports a
// first checkpoint lost while the segments of every op from 1 through it were on disk: the
// engine must fall back to op 0 (doc.go), as storage.first_checkpoint_never_replayable did not
// (storage_crash seed 903). A later checkpoint, or one whose first segment was compacted, may
// be lost.
func TestStorageEpisodeCheckFiresOnALostFirstCheckpoint(t *testing.T) {
	lost := func(cp uint64, segments ...string) string {
		e := newStorageEpisode(1)
		e.checkpointDamaged, e.openSegments = cp, segments
		e.checkCheckpoint(&storage.Recovery{CheckpointLost: true, State: storage.State{CheckpointOp: cp}})
		return e.failure
	}
	require.Contains(t, lost(4, "log-0000000000000000", "log-0000000000000001"), "must fall back to op 0")
	require.Contains(t, lost(3, "log-0000000000000000"), "must fall back to op 0")
	require.Empty(t, lost(4, "log-0000000000000001"), "segment 0 compacted: the log lacks ops 1-3")
	require.Empty(t, lost(5, "log-0000000000000000", "log-0000000000000001"), "not a first checkpoint")
}
