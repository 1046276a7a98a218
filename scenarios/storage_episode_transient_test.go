package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/storage"
)

// TestStorageEpisodeHiddenMarkBelowCheckpoint: a read error hiding the record sector of a
// disowned op at or below the model's checkpoint counts as a hit on its mark (a fallback past
// a damaged checkpoint brings the op back above the one it falls back to, with the mark
// unread: storage crash seed 633389253502), and only then: the sector of another op, or of
// an op not disowned, is no hit, and a disowned op back intact with its mark unhit still
// fails the check.
func TestStorageEpisodeHiddenMarkBelowCheckpoint(t *testing.T) {
	e := newStorageEpisode(1)
	e.m.CP = 4
	e.m.Disowned[1], e.m.Disowned[2], e.m.Disowned[6] = true, true, true
	record := func(op uint64) int64 {
		return int64(op%uint64(storageEpisodeOptions.SegmentEntriesMax)) * storage.SectorSize
	}
	e.hideMarksBelowCheckpoint(&hiddenSector{name: segmentFileName4(1), offset: record(1)})
	require.True(t, e.recordHit[1], "op 1's mark hidden")
	require.False(t, e.recordHit[2], "another op's sector hidden")
	e.hideMarksBelowCheckpoint(&hiddenSector{name: segmentFileName4(3), offset: record(3)})
	require.False(t, e.recordHit[3], "op 3 is not disowned")
	e.hideMarksBelowCheckpoint(&hiddenSector{name: segmentFileName4(6), offset: record(6)})
	require.False(t, e.recordHit[6], "op 6 is above the checkpoint: opsAt's")

	// The check: a disowned op back intact fails unless its mark was hit.
	e, rec := episodeRecovery(t, 1)
	op := rec.Entries[0].Op
	e.m.Disowned[op] = true
	e.check(rec)
	require.Contains(t, e.failure, "distrusted by an earlier boot")

	e, rec = episodeRecovery(t, 1)
	op = rec.Entries[0].Op
	e.m.Disowned[op] = true
	cp := e.m.CP
	e.m.CP = max(cp, op) // the model's checkpoint above it, as after the install a fallback passes
	e.hideMarksBelowCheckpoint(&hiddenSector{name: segmentFileName4(op), offset: record(op)})
	e.m.CP = cp
	require.True(t, e.recordHit[op])
	e.check(rec)
	require.Empty(t, e.failure)

	// The seed passes.
	res := runStorageCrash(Options{Seed: 633389253502})
	require.Equal(t, Pass, res.Outcome, res.Reason)
}
