package scenarios

import (
	"bytes"
	"slices"
)

// A lost superblock copy, and what Open writes over the superblock. Open stores twice a state
// the superblock file holds in one copy (storeTwice): the newest state, and the other pair's
// newest, which a fallback reaches, but only when it is the state the newest was written
// after. The episode's superblock damage takes one copy of a durably written state, which
// leaves each pair's newest state readable in its other copy, so what Open would write over a
// pair whose readable copy is older than the one it lost was never put to it: a drive that
// lost one sector of a pair write (acknowledged, synced: the sector keeps the state of the
// write before), and a read error at the next Open over the copy that did land, leaves the
// pair showing an older state in one copy, while the state the fallback needs sits, whole,
// in the sector Open cannot read this time. Written over with the older state, that sector
// loses it for good, with the next fault on the newest pair a rollback of the view, log view
// and checkpoint the replica acted on.
//
// So in a third of the boots whose superblock is clean after the crash (no sector damaged,
// both copies of each pair alike, the checkpoint it names the model's, none damaged or in
// flight; their own stream, storage_episode/superblock_lost, so that every other draw of a
// seed stays as it was), the episode loses one copy of the older pair's last write (the
// copy's sector written back with an older state the episode saw the engine write, naming
// the same checkpoints, as a lost write leaves it) and hides the other copy from the boot's
// Open (a read error healed after it).
//
// Beside it, after every Open the episode holds what Open wrote over the superblock file to
// a rule of the superblock's own (checkSuperblockKept): no copy that held an intact state
// is written over with an older state while a state at least as new as the one it held is
// the newest on the disk (such a state is one the file still needs, not a write a crash cut
// short above the newest).

// noteSuperblockStates keeps the intact superblock states the durable file holds, by
// sequence: the older states a lost copy write may leave (loseSuperblockCopy).
func (e *storeEpisode) noteSuperblockStates() {
	if e.superblockSeen == nil {
		e.superblockSeen = map[uint64][]byte{}
	}
	for _, c := range superblockCopies(e.disk.Durable("superblock")) {
		e.superblockSeen[c.sequence] = bytes.Clone(c.bytes)
	}
}

// sameCheckpoints reports whether two superblock copies name the same checkpoints: the
// current one (op, size, audit head, anchor, checksum, audited op) and the previous one (all
// of it), the bytes the engine's encoder puts at 48-63, 96-159 and 166-261.
func sameCheckpoints(a, b []byte) bool {
	for _, r := range [][2]int{{48, 64}, {96, 160}, {166, 262}} {
		if !bytes.Equal(a[r[0]:r[1]], b[r[0]:r[1]]) {
			return false
		}
	}
	return true
}

// lostCopy is the copy a boot's Open cannot read (loseSuperblockCopy): healed after it.
type lostCopy struct {
	hidden int // the copy hidden from the Open, -1 if none
}

// loseSuperblockCopy draws the lost copy and the hidden one (see above), right before a
// boot's Open.
func (e *storeEpisode) loseSuperblockCopy() lostCopy {
	none := lostCopy{hidden: -1}
	r := e.superblockLost
	if r.IntN(3) != 0 || len(e.disk.Altered("superblock", 0, superblockFileSize)) > 0 || e.checkpointDamaged != 0 {
		return none
	}
	file := e.disk.Durable("superblock")
	if readSuperblock(file).checkpointOp != e.m.CP || e.m.PendingCheckpoint() {
		return none // a fallback's, or a checkpoint's in flight: what an older state may change
	}
	copies := superblockCopies(file)
	if len(copies) != 4 {
		return none
	}
	e.noteSuperblockStates()
	newest := readSuperblock(file)
	pairs := [2][]durableSuperblock{}
	for _, c := range copies {
		pairs[c.index/2] = append(pairs[c.index/2], c)
	}
	for _, p := range pairs {
		if len(p) != 2 || !bytes.Equal(p[0].bytes, p[1].bytes) {
			return none
		}
	}
	older := pairs[0]
	if older[0].sequence == newest.sequence {
		older = pairs[1]
	}
	if older[0].sequence >= newest.sequence {
		return none // Format's state in all four copies
	}
	// The state the lost sector keeps: the newest one the episode saw below the pair's that
	// names the same checkpoints (a view change's write before), so that what Open may fall
	// back to stays as the model has it; the rule below is what judges the Open.
	var sequences []uint64
	for seq, b := range e.superblockSeen {
		if seq < older[0].sequence && sameCheckpoints(b, older[0].bytes) {
			sequences = append(sequences, seq)
		}
	}
	if len(sequences) == 0 {
		return none
	}
	kept := e.superblockSeen[slices.Max(sequences)]
	lost := older[r.IntN(2)].index
	hidden := lost ^ 1
	at := int64(lost * superblockCopySize)
	if err := e.wait(func(done func(error)) { e.disk.WriteAt("superblock", kept, at, done) }); err != nil {
		e.fail("losing superblock copy %d: %v", lost, err)
		return none
	}
	if err := e.wait(func(done func(error)) { e.disk.Sync("superblock", done) }); err != nil {
		e.fail("losing superblock copy %d: %v", lost, err)
		return none
	}
	e.disk.LatentSectorError("superblock", int64(hidden*superblockCopySize))
	e.counters["coverage.storage_episode.superblock_lost_copy"]++
	return lostCopy{hidden: hidden}
}

// healLostCopy heals the read error of the boot's hidden copy, after its Open.
func (e *storeEpisode) healLostCopy(l lostCopy) {
	if l.hidden >= 0 {
		e.disk.HealLatent("superblock", int64(l.hidden*superblockCopySize))
	}
}

// checkSuperblockKept holds what an Open wrote over the superblock file (before is the
// durable file when it began) to the rule above.
func (e *storeEpisode) checkSuperblockKept(before []byte) {
	after := e.disk.Durable("superblock")
	if len(before) < superblockFileSize || len(after) < superblockFileSize {
		return
	}
	newest := readSuperblock(after)
	if !newest.ok {
		return
	}
	for i := range superblockFileSize / superblockCopySize {
		at := i * superblockCopySize
		if bytes.Equal(before[at:at+superblockCopySize], after[at:at+superblockCopySize]) {
			continue
		}
		old, wasIntact := superblockCopyAt(before, at)
		now, isIntact := superblockCopyAt(after, at)
		if wasIntact && isIntact && now.sequence < old.sequence && old.sequence <= newest.sequence {
			e.fail("Open wrote superblock state %d over copy %d, which held state %d (the newest on disk is %d): a state the superblock still needs, lost",
				now.sequence, i, old.sequence, newest.sequence)
			return
		}
	}
}
