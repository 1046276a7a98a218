package scenarios

import (
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/storage"
	"vopr/internal/storagemodel"
)

// TestStorageEpisodeBothCopiesAcrossBoots: an acknowledged op may be dropped only when faults
// destroyed both its copies: its record hit by a boot's misdirect while its entry is still
// damaged from an earlier boot (storage crash seeds 2200504435 and 4100155577) or by the same
// write. With one copy intact (the entry damaged but the record not, the record hit but the
// entry whole, or the entry written again or read back intact since its damage), the op must
// come back, and a recovery that drops it fails.
func TestStorageEpisodeBothCopiesAcrossBoots(t *testing.T) {
	const seed = 1
	// setup runs the history, damages the head's entry (an earlier boot's fault) unless
	// entryDamaged is false, lets between do what the boots between did, then notes this
	// boot's misdirect; it returns the episode, the head op, and a recovery that dropped it.
	setup := func(entryDamaged bool, between func(e *storeEpisode, op uint64, rec *storage.Recovery), recordHit bool) (*storeEpisode, uint64, *storage.Recovery) {
		e, rec := episodeRecovery(t, seed)
		op := e.m.Head
		require.Greater(t, op, e.m.CP)
		if entryDamaged {
			e.damageOp(op, false, e.rng)
			require.True(t, e.damaged[op])
		}
		if between != nil {
			between(e, op, rec)
		}
		e.noteMisdirectHit(op, recordHit, false)
		dropped := *rec
		dropped.Entries = slices.DeleteFunc(slices.Clone(rec.Entries), func(x storage.Entry) bool { return x.Op == op })
		require.Len(t, dropped.Entries, len(rec.Entries)-1)
		return e, op, &dropped
	}
	lost := func(op uint64) string { return fmt.Sprintf("acknowledged op %d lost", op) }

	// Both copies gone: the drop is excused.
	e, op, dropped := setup(true, nil, true)
	e.check(dropped)
	require.Empty(t, e.failure, "entry damaged at an earlier boot, record hit now")
	require.Equal(t, uint64(1), e.counters["coverage.storage_episode.both_copies_across_boots"])

	// The entry damaged, its record intact (the misdirect hit nothing of the op).
	e, op, dropped = setup(true, nil, false)
	e.check(dropped)
	require.Contains(t, e.failure, lost(op), "entry damaged, record intact")
	e, op, dropped = setup(true, nil, false)
	dropped.Faulty = append(dropped.Faulty, op)
	e.check(dropped)
	require.Empty(t, e.failure, "held faulty, as it should be")

	// The record hit, the entry whole.
	e, op, dropped = setup(false, nil, true)
	e.check(dropped)
	require.Contains(t, e.failure, lost(op), "record hit, entry intact")

	// The damaged entry repaired (written again) before the record was hit.
	e, op, dropped = setup(true, func(e *storeEpisode, op uint64, _ *storage.Recovery) {
		e.acknowledged(storagemodel.Step{Kind: storagemodel.Repair, Op: op, Body: e.m.Log[op]})
	}, true)
	e.check(dropped)
	require.Contains(t, e.failure, lost(op), "entry repaired before the record hit")

	// The damaged entry read back intact by a boot between (its rejoin; the recovery of the
	// undamaged disk stands for it).
	e, op, dropped = setup(true, func(e *storeEpisode, op uint64, rec *storage.Recovery) {
		e.rejoin(rec, 1, true)
	}, true)
	e.check(dropped)
	require.Contains(t, e.failure, lost(op), "entry read back intact before the record hit")
}
