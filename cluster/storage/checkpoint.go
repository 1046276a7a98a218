package storage

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"vopr/cluster/checksum"
	"vopr/internal/assert"
)

// SaveState durably writes st's VSR fields (View, LogView, Commit, ReplicaCount, Replica,
// Epoch, Release) to the superblock. The checkpoint fields (CheckpointOp, AuditHead) are
// owned by storage: their values in st are ignored and the stored ones kept. Views and
// commit_max never go backwards and the cluster never changes (assertions: the replica must
// not ask for either). Commit is stored as given.
//
// The write goes to the superblock pair that does not hold the current state, with a higher
// sequence number, and is synced; the newest intact copy wins at Open, so a torn or lost
// superblock write leaves the previous state.
func (s *Storage) SaveState(st State, done func(error)) {
	assert.That(done != nil, "storage: SaveState needs a callback")
	s.submit(func(finish func(func())) {
		cur := s.sb.State
		assert.That(st.Cluster == cur.Cluster, "storage: SaveState changes the cluster")
		assert.That(st.View >= cur.View, "storage: SaveState moves the view back")
		// A log view is named by its epoch and view: a newer epoch's may have a lower number.
		assert.That(st.LogEpoch > cur.LogEpoch || (st.LogEpoch == cur.LogEpoch && st.LogView >= cur.LogView),
			"storage: SaveState moves the log view back")
		assert.That(st.LogView <= st.View, "storage: SaveState with log view above view")
		sequence(func(err error) {
			if err != nil {
				finish(func() { done(err) })
				return
			}
			assert.That(!s.appendCutStands(), "storage: a superblock write over a failed append's cut still owed")
			st.CheckpointOp, st.AuditHead = s.sb.State.CheckpointOp, s.sb.State.AuditHead
			sb := s.sb
			sb.State = st
			s.writeSuperblock(sb, func(err error) { finish(func() { done(err) }) })
		}, s.payCut, s.payAppendCut)
	})
}

// payCut completes, before a superblock write of the caller's state, a truncation that
// failed (cutOwed), or fails. The caller takes a truncation as done, failed or not, and the
// state it persists next (a new log view) is about the log without the ops it gave up:
// written over a log that still held them (a tombstone write refused for lack of space), the
// next boot read them back, intact, as ops of that log view, stale prepares of an older view
// that a view change can choose over the ops committed there
// (TestFailedTruncationIsNotPersistedOver). Ops at or below the checkpoint or the audit are
// no longer the log's, and are not cut.
func (s *Storage) payCut(done func(error)) {
	if !s.cutOwed {
		done(nil)
		return
	}
	if s.settleCut(); !s.cutOwed {
		done(nil)
		return
	}
	s.truncateAfter(max(s.cutOwedAfter, s.sb.State.CheckpointOp, s.auditOp), done)
}

// oweCut records a truncation after op that failed, leaving the ops above it up to the head
// (payCut), or, for one that succeeded, that no op above op is left.
func (s *Storage) oweCut(op uint64, failed bool) {
	switch {
	case failed && !s.cutOwed:
		s.cutOwed, s.cutOwedAfter, s.cutOwedHead = true, op, s.head
	case failed:
		s.cutOwedAfter, s.cutOwedHead = min(s.cutOwedAfter, op), max(s.cutOwedHead, s.head)
	case s.cutOwed:
		s.cutOwedHead = min(s.cutOwedHead, op)
	}
	s.settleCut()
}

// settleCut clears the debt of failed truncations once nothing is owed: the owed ops all lie
// at or below the checkpoint or the audit (a state sync's checkpoint took the log past
// them), or the log's own ops since reach through them. A cut after the checkpoint then
// would drop ops the log took after the failure, which the replica wrote and may have
// acknowledged (swarm seeds 2041500756 and 2041500985 with refused marks: the appends after
// a state sync's checkpoint, removed with their segment).
func (s *Storage) settleCut() {
	if _, owed := s.CutOwed(); !owed {
		s.cutOwed = false
	}
}

// CutOwed reports a truncation that failed and is still owed: the log may hold ops above
// after that its caller gave up, until an append at or below them or the next superblock
// write (payCut) cuts them. Until then the head is not the log's: an op between after and
// the head is not the engine's to keep, and its entry is to be written again, not left to
// the next checkpoint (vsr's leftToCheckpoint; swarm seed 2041504450 with refused marks: op
// 8 skipped as left to checkpoint 64 above a head the owed cut then lowered, and op 9's
// append left a gap).
func (s *Storage) CutOwed() (after uint64, owed bool) {
	after = max(s.cutOwedAfter, s.sb.State.CheckpointOp, s.auditOp)
	if !s.cutOwed || after >= min(s.cutOwedHead, s.head) {
		return 0, false
	}
	return after, true
}

// rewroteOwed notes that op's entry was written again in place: if it is the lowest op a
// failed truncation left, the log has taken it back, and it is owed no more. The lowest op
// owed is above the checkpoint and the audit too (CutOwed): once a state sync's checkpoint
// lies among the ops left, the one above it is the first the log takes back (h83's owed_cut
// move of the storage episode: a failed truncation after op 2, a checkpoint installed at 5,
// the same prepares at 6-8 written again and a fresh 9; the debt, still waiting for op 3,
// made the next superblock write cut the acknowledged ops 6-9).
func (s *Storage) rewroteOwed(op uint64) {
	if after, owed := s.CutOwed(); owed && op == after+1 {
		s.cutOwedAfter = op
		s.settleCut()
	}
}

// writeSuperblock writes sb (with the next sequence number) as a pair of copies into the pair
// not holding the current superblock, syncs, and then makes it current. A write that fails
// may reach the disk all the same (a failed fsync need not undo the write: the kernel marks
// the pages clean, and they may have been written or may be written back): the engine would
// go on under the current state while the disk names the failed one, and the next boot adopt
// it. So it writes the current state again over that pair, with a sequence above the failed
// write's, before it reports the failure: a checkpoint installed by state sync above the head
// whose superblock sync failed came back at the next boot under the ops the replica appended
// after the failure, chained to the log's own entry below, not to the checkpoint's anchor,
// and the first of them, acknowledged, was faulty (TestFailedSuperblockSyncIsNotAdopted).
func (s *Storage) writeSuperblock(sb superblock, done func(error)) {
	s.writeSuperblockAt(sb, s.sb.Sequence+1, func(err error) {
		if err == nil {
			done(nil)
			return
		}
		s.writeSuperblockAt(s.sb, s.sb.Sequence+2, func(error) { done(err) })
	})
}

// writeSuperblockAt is writeSuperblock's one write, of sb with the given sequence.
func (s *Storage) writeSuperblockAt(sb superblock, sequenceNumber uint64, done func(error)) {
	sb.Sequence = sequenceNumber
	pair := 1 - s.sbPair
	data := encodeSuperblockPair(sb)
	offset := int64(pair * 2 * superblockCopySize)
	sequence(func(err error) {
		if err == nil {
			assert.That(sb.Sequence > s.sb.Sequence, "storage: superblock sequence not rising")
			s.checkpointPrevious = s.sb.State.CheckpointOp // the other pair now holds s.sb
			s.sb, s.sbPair = sb, pair
		}
		done(err)
	},
		func(next func(error)) { s.fs.WriteAt(superblockName, data, offset, next) },
		func(next func(error)) { s.fs.Sync(superblockName, next) },
	)
}

// Checkpoint makes snapshot (the state machine after executing op) the newest checkpoint:
// it writes and syncs the checkpoint file, then points the superblock at it (one atomic
// superblock write, which names the checkpoint it replaces as the previous one), then removes
// the checkpoint files no superblock pair names any more: the previous checkpoint stays until
// the next one, as the fallback if this one rots or the newest pair is lost. A
// crash at any point leaves either the old or the new checkpoint, whole. An error means the checkpoint was not
// installed (retrying is safe); a checkpoint of the current CheckpointOp is a no-op. op
// must not be below the current checkpoint. The superblock's commit_max becomes at least op.
//
// A checkpoint implies that op is committed, so Checkpoint first advances the audit chain
// (Commit) through op. If the log lacks some of those ops (a state sync installs a peer's
// checkpoint ahead of the local log), the audit chain is re-seeded at op from the snapshot
// (auditSeed) and the hash chain's anchor is taken from the entry after op (its parent), or
// op's own entry, or else the checkpoint file's checksum; if the log ends below op, its
// entries (all below the new checkpoint) are dropped.
//
// Afterwards, if usage is at or above AutoCompactPercent, it compacts (Stats.AutoCompactions).
func (s *Storage) Checkpoint(op uint64, snapshot []byte, done func(error)) {
	s.checkpointFrom(op, snapshot, false, done)
}

// InstallCheckpoint is Checkpoint for a snapshot this replica did not reach by executing its
// log (a peer's, by state sync): the log's entries above the previous checkpoint are then
// not known to be the snapshot's history, and if the new checkpoint rots, Open reports them
// faulty rather than replay them (checkpointRef.Audited).
func (s *Storage) InstallCheckpoint(op uint64, snapshot []byte, done func(error)) {
	s.checkpointFrom(op, snapshot, true, done)
}

func (s *Storage) checkpointFrom(op uint64, snapshot []byte, installed bool, done func(error)) {
	assert.That(done != nil, "storage: Checkpoint needs a callback")
	// The caller may reuse snapshot at once: the file, encoded now, is the copy kept (one
	// copy of the snapshot instead of two), unless it cannot be encoded (checkpoint refuses).
	var file []byte
	if op > 0 && len(snapshot) <= CheckpointSizeMax {
		file = encodeCheckpointFile(op, snapshot)
		snapshot = file[checkpointHeaderSize:]
	} else {
		snapshot = append([]byte{}, snapshot...)
	}
	s.submit(func(finish func(func())) {
		s.checkpoint(op, snapshot, file, installed, func(err error) { finish(func() { done(err) }) })
	})
}

// checkpoint installs snapshot; file is its encoded checkpoint file, or nil to encode here;
// installed: a peer's snapshot (InstallCheckpoint).
func (s *Storage) checkpoint(op uint64, snapshot, file []byte, installed bool, done func(error)) {
	previous := s.sb.State.CheckpointOp
	assert.That(op >= previous, "storage: checkpoint older than the current one")
	if op == previous && !s.checkpointLost {
		done(nil)
		return
	}
	if len(snapshot) > CheckpointSizeMax {
		done(fmt.Errorf("%w: snapshot of %d bytes", ErrTooLarge, len(snapshot)))
		return
	}
	if file == nil {
		file = encodeCheckpointFile(op, snapshot)
	}
	audited := op
	if installed {
		// What the Commit below audits is what the log holds, not what the snapshot
		// executed (swarm seed 2026299955: view 3's op 47, left on the disk under a sync
		// to 64, replayed as committed once checkpoint 64 rotted; view 8's had committed).
		audited = min(s.auditOp, op)
		if cur := s.sb.Checkpoint.Audited; cur < previous {
			// Installed over a checkpoint that was itself installed over a log it had not
			// audited: the audit op that install left (its own op) stands for the peer's
			// state, not for this log, whose entries below it are still unaudited. A
			// fallback past both (to op 0) must hold them faulty (storage crash seeds
			// 2208428622, 2208432632: ops 1-2, appended before a peer's checkpoint 3 that a
			// peer's 4 was installed over, replayed as committed once 4 rotted).
			audited = min(audited, cur)
		}
	}
	if s.checkpointLost {
		// Open set the audit op to the lost checkpoint's op, which this log never reached:
		// the lost checkpoint's own audit point is what the log is known to hold (swarm
		// seed 2026642591: checkpoint 64, synced over view 2's ops 10-15 and lost, was
		// installed again as audited to 64; when it rotted again the replay from op 0 took
		// view 2's op 11 for committed, under commit number 92).
		audited = min(audited, s.sb.Checkpoint.Audited)
	}
	auditOp, auditHead := s.auditOp, s.auditHead
	_, err := s.Commit(op)
	// A checkpoint replacing a lost one is installed like a state sync: the ops before it may
	// not be in the log. So is a peer's checkpoint above what the log had audited: Commit
	// audited whatever entries the log held up to it, an older view's prepares among them,
	// and a head chained over those is no audit of the committed history (swarm seed
	// 2028800586: view 0's ops 8-14 chained into checkpoint 64's head).
	synced := err != nil || s.checkpointLost || (installed && auditOp < op)
	sb := s.checkpointSuperblock(op, file, snapshot, synced)
	sb.Checkpoint.Audited = audited
	name := checkpointName(op)
	sequence(func(err error) {
		if err != nil {
			// A checkpoint that failed changes nothing, the audit included: left advanced
			// over the log's entries (an installed checkpoint's Commit audits whatever the
			// log holds, an older view's prepares too), it refused the replica's writes of
			// the ops that checkpoint was to cover, which it must now log after all (swarm
			// seed 3018271252851913429: a failed superblock write under checkpoint 64, then
			// the append of a repaired op below it fail-stopped the replica).
			s.auditOp, s.auditHead = auditOp, auditHead
			done(err)
			return
		}
		s.checkpointInstalled(op, synced, done)
	},
		func(next func(error)) { s.createFresh(name, next) },
		func(next func(error)) { s.fs.WriteAt(name, file, 0, next) },
		func(next func(error)) { s.fs.Sync(name, next) },
		func(next func(error)) { s.writeSuperblock(sb, next) },
	)
}

// checkpointSuperblock returns the superblock that points at the checkpoint file.
func (s *Storage) checkpointSuperblock(op uint64, file, snapshot []byte, synced bool) superblock {
	sb := s.sb
	sb.Previous = previousCheckpoint{}
	if cur := s.sb.State.CheckpointOp; cur > 0 && cur < op && !s.checkpointLost {
		sb.Previous = previousCheckpoint{Op: cur, Ref: s.sb.Checkpoint, AuditHead: s.sb.State.AuditHead}
	}
	sb.State.CheckpointOp = op
	sb.State.Commit = max(sb.State.Commit, op)
	sb.Checkpoint = checkpointRef{Size: int64(len(file)), Checksum: checksum.Of(file)}
	if !synced {
		anchor := s.slot(op)
		assert.That(s.auditOp >= op, "storage: checkpoint of an unaudited op")
		sb.State.AuditHead, sb.Checkpoint.Chain = anchor.audit, anchor.chain
	} else {
		sb.State.AuditHead = s.auditSeedOf(op, snapshot)
		sb.Checkpoint.Chain = sb.Checkpoint.Checksum
		if at := s.slot(op); at != nil && (at.state == slotIntact || at.known) {
			sb.Checkpoint.Chain = at.chain // what the entry above was written on, faulty or not
		} else if s.checkpointLost && op == s.sb.State.CheckpointOp {
			// A lost checkpoint installed again: Open assembled the log above it on the lost
			// one's anchor, which the superblock kept. The new file's checksum left every op
			// above an op of unknown identity there unrewritable in place, and its repair
			// truncated them (swarm seed 2026754867: checkpoint 128 installed again, the
			// repair of op 131 dropped ops 132-144, committed and acknowledged).
			sb.Checkpoint.Chain = s.sb.Checkpoint.Chain
		}
	}
	// The anchor is what the entry above chains to, when the disk has that entry's header:
	// it may differ from op's own entry (slot.namesParent), and another anchor leaves it,
	// and every later op, unrewritable in place.
	if next := s.slot(op + 1); next != nil && next.namesParent() {
		sb.Checkpoint.Chain = next.parent
	}
	return sb
}

// checkpointInstalled runs once the superblock points at the new checkpoint. Nothing here can
// fail the checkpoint: a stale file left behind is removed by the next Open or compaction.
func (s *Storage) checkpointInstalled(op uint64, synced bool, done func(error)) {
	assert.That(s.sb.State.CheckpointOp == op, "storage: checkpoint not installed")
	s.checkpointLost = false
	if synced {
		s.auditOp, s.auditHead = op, s.sb.State.AuditHead
	}
	var stale []uint64
	if s.head < op {
		for _, k := range s.segments {
			if k >= s.segmentOf(op+1) {
				stale = append(stale, k)
			}
		}
		s.slots, s.slotBase, s.head, s.auditOp = nil, op+1, op, op
	}
	assert.That(s.auditOp >= op, "storage: checkpoint above the audit")
	sequence(func(error) { done(nil) },
		func(next func(error)) { s.removeSegments(stale, nil, func(error) { next(nil) }) },
		func(next func(error)) { s.removeStaleCheckpoints(func(error) { next(nil) }) },
		func(next func(error)) { s.maybeAutoCompact(next) },
	)
}

// auditSeed is the audit head at a checkpoint installed by state sync, where the ops before
// it were never executed locally: a domain-separated hash of the op and the snapshot.
func auditSeed(op uint64, snapshot []byte) [32]byte {
	b := binary.LittleEndian.AppendUint64([]byte("vopr audit seed"), op)
	sum := sha256.Sum256(snapshot)
	return sha256.Sum256(append(b, sum[:]...))
}

// auditSeedMemo is the last audit seed computed, with the op and snapshot it was computed from.
type auditSeedMemo struct {
	op       uint64
	snapshot []byte
	seed     [32]byte
}

// auditSeedOf is auditSeed, computed again only for another op or other snapshot bytes. A
// checkpoint whose writes fail is retried at every repair timeout with the same snapshot, and
// SHA-256 over the whole snapshot at every retry was most of the swarm's hashing (one replica
// of swarm seed 1 retried a state sync's install 1,348 times on a failing disk). The bytes
// are compared, not a checksum of them, so the seed is exactly auditSeed's.
func (s *Storage) auditSeedOf(op uint64, snapshot []byte) [32]byte {
	m := &s.seeded
	if m.snapshot == nil || m.op != op || !bytes.Equal(m.snapshot, snapshot) {
		// A copy of its own: a caller reusing its buffer cannot make a stale seed compare equal.
		*m = auditSeedMemo{op: op, snapshot: append([]byte{}, snapshot...), seed: auditSeed(op, snapshot)}
	}
	return m.seed
}

// createFresh creates an empty file, truncating one left by an earlier failed attempt.
func (s *Storage) createFresh(name string, done func(error)) {
	s.fs.Create(name, func(err error) {
		if errors.Is(err, ErrExist) {
			s.fs.Truncate(name, 0, done)
			return
		}
		done(err)
	})
}

// Compact removes the log segments wholly at or below the newest durable checkpoint and
// reports the bytes freed (the runbook's `storage compact`). The checkpoint keeps their
// state and the superblock keeps the chain sum that links the next entry to them.
func (s *Storage) Compact(done func(freed int64, err error)) {
	assert.That(done != nil, "storage: Compact needs a callback")
	s.submit(func(finish func(func())) {
		s.compact(func(freed int64, err error) { finish(func() { done(freed, err) }) })
	})
}

// compactable reports whether some segment lies wholly at or below the checkpoint.
func (s *Storage) compactable() bool {
	return len(s.segments) > 0 && s.segmentLast(s.segments[0]) <= s.sb.State.CheckpointOp
}

// CompactableBytes reports how many bytes Compact would free now: the sizes of the log
// segments wholly at or below the newest durable checkpoint (the runbook's `du` of the log).
func (s *Storage) CompactableBytes() int64 {
	total := int64(0)
	for _, k := range s.segments {
		last := s.segmentLast(k)
		if last > s.sb.State.CheckpointOp {
			break
		}
		first := max(k*uint64(s.opts.SegmentEntriesMax), s.slotBase)
		size := int64(0)
		for op := first; op <= min(last, s.head); op++ {
			size = max(size, s.slots[op-s.slotBase].end)
		}
		total += size
	}
	return total
}

func (s *Storage) compact(done func(int64, error)) {
	var victims []uint64
	for _, k := range s.segments {
		if s.segmentLast(k) <= s.sb.State.CheckpointOp {
			victims = append(victims, k)
		}
	}
	freed := int64(0)
	s.removeSegments(victims, &freed, func(err error) {
		s.stats.BytesFreed += freed
		s.stats.SegmentsRemoved += uint64(len(victims))
		s.dropCompacted()
		assert.That(err != nil || !s.compactable(), "storage: compaction left a compactable segment")
		done(freed, err)
	})
}

// dropCompacted forgets the index entries below the first remaining segment.
func (s *Storage) dropCompacted() {
	base := s.sb.State.CheckpointOp + 1
	if len(s.segments) > 0 {
		base = min(base, max(s.segments[0]*uint64(s.opts.SegmentEntriesMax), 1))
	}
	if base <= s.slotBase {
		return
	}
	s.slots = append([]slot{}, s.slots[base-s.slotBase:]...)
	s.slotBase = base
	assert.That(s.slotBase <= s.sb.State.CheckpointOp+1, "storage: compaction dropped live ops")
}

// autoCompactDue reports whether usage is at or above AutoCompactPercent with anything to
// compact.
func (s *Storage) autoCompactDue() bool {
	return s.UsagePercent() >= s.opts.AutoCompactPercent && s.compactable()
}

// maybeAutoCompact compacts if usage is at or above AutoCompactPercent and there is anything
// to compact. A failed auto-compaction is not an error of the operation that triggered it.
func (s *Storage) maybeAutoCompact(done func(error)) {
	if !s.autoCompactDue() {
		done(nil)
		return
	}
	s.stats.AutoCompactions++
	s.compact(func(int64, error) { done(nil) })
}
