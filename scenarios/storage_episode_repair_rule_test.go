package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/storage"
)

// TestStorageEpisodeRepairRuleFires feeds checkRepairRule an engine that calls no faulty op
// Rewritable, where the op above it was written on its acknowledged body and the entry below
// it is known (storage.reinstalled_lost_checkpoint_new_anchor, storage_crash seed 5173: a lost
// checkpoint installed again took a new anchor), and one that calls it Rewritable.
func TestStorageEpisodeRepairRuleFires(t *testing.T) {
	e, rec := episodeRecovery(t, 7)
	require.GreaterOrEqual(t, len(rec.Entries), 3)
	e.noteRecovered(rec)
	below, f, above := rec.Entries[0].Op, rec.Entries[1].Op, rec.Entries[2].Op
	require.Equal(t, []uint64{below + 1, f + 1}, []uint64{f, above})
	cp := rec.State.CheckpointOp
	e.checkRepairRuleWith([]uint64{f}, cp, cp, func(storage.Entry) bool { return true })
	require.Empty(t, e.failure, "an engine that rewrites the acknowledged op in place passes")
	delete(e.recovered, above)
	e.checkRepairRuleWith([]uint64{f}, cp, cp, func(storage.Entry) bool { return false })
	require.Empty(t, e.failure, "nothing above names the op: the rule does not apply")
	e.noteRecovered(rec)
	e.checkRepairRuleWith([]uint64{f}, cp, cp, func(storage.Entry) bool { return false })
	require.Contains(t, e.failure, "is not Rewritable with its acknowledged body")
}

// TestStorageEpisodeRepairRuleUnlearnedAnchor: over an anchor an install could not learn
// (storage_crash seed 2196067393), the op above the checkpoint may be repaired by RechainRun
// instead of in place, but an engine that can do neither still fails the rule.
func TestStorageEpisodeRepairRuleUnlearnedAnchor(t *testing.T) {
	perSegment := uint64(storageEpisodeOptions.SegmentEntriesMax)
	for seed := uint64(1); seed <= 40; seed++ {
		e, rec := episodeRecovery(t, seed)
		e.noteRecovered(rec)
		var f uint64
		for i := 1; i+1 < len(rec.Entries); i++ {
			op := rec.Entries[i].Op
			if op%perSegment == 0 && rec.Entries[i-1].Op == op-1 && rec.Entries[i+1].Op == op+1 && op+1 < e.m.Head {
				f = op
				break
			}
		}
		if f == 0 {
			continue
		}
		cp := f - 1
		delete(e.recovered, cp)
		e.recoveredCP, e.unanchored = cp, cp
		require.False(t, e.rechainable(f), "the engine rewrites op %d in place, so it does not rechain it", f)
		e.checkRepairRuleWith([]uint64{f}, cp, cp, func(storage.Entry) bool { return false })
		require.Contains(t, e.failure, "is not Rewritable with its acknowledged body")
		return
	}
	t.Fatal("no seed of 1..40 has an op first in its segment between two intact ones")
}
