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

// TestStorageEpisodeCheckFiresOnAFormatFallbackWithoutItsSegments feeds the check the other
// way round: a recovery that fell back from checkpoint 3 to op 0 while the segment of ops 0-3
// was not on disk at the Open (compacted away), as storage.format_replay_skips_checkpoint_segment
// did (storage_crash seed 890): no replay from the format's state can stand for checkpoint 3,
// which must be reported lost.
func TestStorageEpisodeCheckFiresOnAFormatFallbackWithoutItsSegments(t *testing.T) {
	fellBack := func(cp uint64, segments ...string) string {
		e := newStorageEpisode(1)
		e.checkpointDamaged, e.openSegments = cp, segments
		e.checkCheckpoint(&storage.Recovery{CheckpointDamaged: cp})
		return e.failure
	}
	require.Contains(t, fellBack(3, "log-0000000000000001"), "must be reported lost")
	require.Contains(t, fellBack(4, "log-0000000000000000"), "must be reported lost", "op 4's segment missing")
	require.Empty(t, fellBack(4, "log-0000000000000000", "log-0000000000000001"))
	require.Empty(t, fellBack(3, "log-0000000000000000"))
}

// TestStorageEpisodeCheckFiresOnALostOlderCheckpoint feeds the check a recovery that reports
// the state lost at an older checkpoint than the newest one the superblock names, as
// storage.fallback_failure_keeps_previous did (the fallback's target unreadable too): the
// replica would install a state behind the checkpoint it had made durable.
func TestStorageEpisodeCheckFiresOnALostOlderCheckpoint(t *testing.T) {
	lost := func(newest, reported uint64) string {
		e := newStorageEpisode(1)
		e.checkpointDamaged, e.openSegments = newest, []string{"log-0000000000000002"}
		e.checkCheckpoint(&storage.Recovery{CheckpointLost: true, State: storage.State{CheckpointOp: reported}})
		return e.failure
	}
	require.Contains(t, lost(9, 5), "a lost state is the newest checkpoint's")
	require.Contains(t, lost(9, 10), "a lost state is the newest checkpoint's")
	require.Empty(t, lost(9, 9))
}
