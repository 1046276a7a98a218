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

// TestStorageEpisodeMisdirectReachesLeftSegments: a misdirect's landing on the record sector
// of an op above the head, in a segment file above the head's that a failed cut left on disk,
// is damage to that op: Open may take the landing for a damaged record (the evidence of a
// finished append) and hold the op faulty (storage crash seed 831660059819: truncate_after(7)
// failed to remove segment 2, where op 9's misdirected entry write had landed on op 10's
// record sector). The segment's presence alone excuses nothing: an op there that the landing
// did not hit, or any op of it when nothing landed, reported faulty still fails the check.
func TestStorageEpisodeMisdirectReachesLeftSegments(t *testing.T) {
	per := uint64(storageEpisodeOptions.SegmentEntriesMax)
	seed := uint64(0)
	for s := uint64(1); s < 200 && seed == 0; s++ {
		if e := newStorageEpisode(s); len(e.steps) > 0 {
			e, _ := episodeRecovery(t, s)
			if e.m.Head > e.m.CP && e.m.Head%per == per-1 && len(e.disk.Durable(segmentFileName4(e.m.Head+1))) == 0 {
				seed = s
			}
		}
	}
	require.NotZero(t, seed, "no seed below 200 ends its history on the last op of a segment")

	// setup leaves a two-sector file of the segment above the head's (a failed cut's
	// leftover), then, with misdirect, writes a sector of the head's entry at sector 1 (op
	// base+1's record sector) and lands it at sector 0 (op base's), the only other place.
	setup := func(misdirect bool) (*storeEpisode, *storage.Recovery, uint64) {
		e, rec := episodeRecovery(t, seed)
		base := e.m.Head + 1
		left := segmentFileName4(base)
		_, p, ok := e.find(e.m.Head)
		require.True(t, ok)
		name := segmentFileName4(e.m.Head)
		junk := e.disk.Durable(name)[p.offset : p.offset+storage.SectorSize]
		require.NoError(t, e.wait(func(done func(error)) { e.disk.Create(left, done) }))
		require.NoError(t, e.wait(func(done func(error)) {
			e.disk.WriteAt(left, make([]byte, 2*storage.SectorSize), 0, done)
		}))
		require.NoError(t, e.wait(func(done func(error)) { e.disk.Sync(left, done) }))
		if misdirect {
			e.disk.ArmMisdirect(left, storage.SectorSize, 2*storage.SectorSize)
		}
		require.NoError(t, e.wait(func(done func(error)) { e.disk.WriteAt(left, junk, storage.SectorSize, done) }))
		require.NoError(t, e.wait(func(done func(error)) { e.disk.Sync(left, done) }))
		e.disk.Crash()
		e.settleMisdirect()
		return e, rec, base
	}
	unexplained := func(op uint64) string { return fmt.Sprintf("op %d reported faulty, but nothing damaged it", op) }

	// The landing on op base's record sector: op base is damaged, the ops whose record
	// sectors it did not reach are not.
	e, rec, base := setup(true)
	require.Equal(t, uint64(1), e.counters["storage_episode.damage.misdirected_write"])
	require.True(t, e.damaged[base] && e.recordHit[base], "the landing on op %d's record sector", base)
	require.False(t, e.damaged[base+2] || e.damaged[base+3])
	faulty := *rec
	faulty.Faulty = append(slices.Clone(rec.Faulty), base)
	e.check(&faulty)
	require.Empty(t, e.failure, "op %d, its record sector hit, may come back faulty", base)

	// The engine itself, opened on that disk, passes the check.
	e, _, base = setup(true)
	_, opened, err := e.open()
	require.NoError(t, err)
	e.check(opened)
	require.Empty(t, e.failure)
	require.Contains(t, opened.Faulty, base, "Open takes the landing for a damaged record")

	// An op of the left segment the landing did not reach, reported faulty, fails.
	e, rec, base = setup(true)
	faulty = *rec
	faulty.Faulty = append(slices.Clone(rec.Faulty), base+2)
	e.check(&faulty)
	require.Contains(t, e.failure, unexplained(base+2))

	// Nothing landed: the left segment excuses nothing.
	e, rec, base = setup(false)
	require.False(t, e.damaged[base])
	faulty = *rec
	faulty.Faulty = append(slices.Clone(rec.Faulty), base)
	e.check(&faulty)
	require.Contains(t, e.failure, unexplained(base))
}
