package vsr

import (
	"encoding/binary"
	"errors"
	"fmt"

	"vopr/cluster/checksum"
	"vopr/cluster/kv"
	"vopr/cluster/storage"
	"vopr/internal/assert"
)

// openRetriesMax bounds the Opens a replica runs again after an I/O error: a write the device
// reported failed (recovery writes marks, tombstones, records and cuts) is worth another try,
// but a disk that fails every Open is a failed disk, and the replica stops.
const openRetriesMax = 8

// retryOpen runs storage.Open again after it failed with an I/O error. Open is built to be
// run again over what an interrupted Open left (the storage episode crashes inside Open and
// opens again): stopping instead left a replica out of the cluster for good over one
// transient write error (swarm seed 862 with write errors: R3 stopped, "open failed").
func (r *Replica) retryOpen(err error) {
	r.openRetries++
	r.emit(EventStatus, 0, [16]byte{}, fmt.Sprintf("recovering: open failed (%v): opening again, attempt %d", err, r.openRetries+1))
	r.reopen()
}

func (r *Replica) reopen() { storage.Open(r.options.FS, StorageOptions(r.options.FS), r.openCallback) }

// openNoSpaceRetryTicks is how long a replica whose Open met a full disk waits before it
// opens again.
const openNoSpaceRetryTicks = 50

// waitForSpace: Open failed with ErrNoSpace. Its own writes (a record finished, a faulty
// mark, a superblock twin, a segment for a mark) may need a block that a full disk lacks;
// stopping left a replica restarted on a full disk out of the cluster for good, though the
// design has it resume once space is freed (runbook Scenario 6: the operator often restarts
// a stuck process, then grows the disk or compacts). It stays recovering, reports its disk
// full, and opens again every openNoSpaceRetryTicks (TestOpenOnAFullDiskResumesWhenSpaceIsFreed),
// without a bound (a full disk is not a failed one) and never at once (a lasting full disk
// would spin on Opens). Open is built to be run again over what a failed Open left.
func (r *Replica) waitForSpace(err error) {
	if !r.diskFull {
		r.diskFull = true
		r.emit(EventDiskFull, 0, checksum.Sum{}, fmt.Sprintf("disk full: open failed (%v): opening again when space is freed", err))
	}
	r.openSpaceWait = openNoSpaceRetryTicks
}

// openCallback installs the durable state read by storage.Open: the superblock's view and
// commit, the newest checkpoint (state machine and client table), and the log entries after
// it. Entries that the disk holds but cannot read intact are marked faulty: the replica may
// have acknowledged them, so it will repair them from peers and never deny having seen them.
func (r *Replica) openCallback(s *storage.Storage, rec *storage.Recovery, err error) {
	assert.That(r.status == StatusRecovering, "open completed twice")
	if errors.Is(err, storage.ErrIO) && r.openRetries < openRetriesMax {
		r.retryOpen(err)
		return
	}
	if errors.Is(err, storage.ErrNoSpace) {
		r.waitForSpace(err)
		return
	}
	if err != nil {
		r.status = StatusStopped
		r.emit(EventStatus, 0, [16]byte{}, "stopped: open failed: "+err.Error())
		return
	}
	r.storage = s
	if r.diskFull {
		r.diskFull = false // set by waitForSpace: the Open's writes found room
		r.emit(EventDiskFull, 0, checksum.Sum{}, "disk has space again: opened")
	}
	st := rec.State
	assert.That(st.Cluster == r.cluster && int(st.Replica) == r.replica, "superblock belongs to another replica")
	assert.That(st.LogView <= st.View, "superblock: log_view > view")
	r.view, r.logView, r.logEpoch = st.View, st.LogView, st.LogEpoch
	r.checkpointOp, r.commitMin, r.commitMax = st.CheckpointOp, st.CheckpointOp, st.CheckpointOp
	r.stateDurable = st
	r.epoch, r.outside = st.Epoch, st.Outside
	// A member added from an empty disk stays one across restarts (denies): its flag in
	// memory alone let a restart before its first state sync count its empty log's nacks.
	r.joinedEmpty = st.JoinedEmpty
	r.boots = st.Boots + 1
	if rec.Snapshot != nil {
		if err := r.restoreSnapshot(st.CheckpointOp, rec.Snapshot); errors.Is(err, errReleaseTooOld) {
			r.stopReleaseTooOld(err.Error())
			return
		} else if err != nil {
			r.status = StatusStopped
			r.emit(EventStatus, 0, [16]byte{}, "stopped: checkpoint unreadable: "+err.Error())
			return
		}
		r.checkpointSnapshot = rec.Snapshot
		if r.mutated(MutationForgetClientTable) {
			r.clients = newClientTable(r.clientsMax())
		}
	}
	r.op = r.checkpointOp
	recordBreak := r.installRecoveredEntries(rec)
	r.unverifiedBelowBreak(st.Commit, recordBreak)
	r.commitMax = max(r.commitMax, min(st.Commit, r.op))
	if rec.CheckpointLost {
		// The state at the checkpoint is gone but the log above it is not: stay recovering
		// and fetch a checkpoint from a peer (state sync) before taking part.
		r.stateLost = true
		r.emit(EventRecovered, r.op, [16]byte{}, "checkpoint lost: state sync needed")
		return
	}
	if !r.isMember(r.replica) {
		r.openOutside()
		return
	}
	if r.activeCount() == 1 && !r.isStandby() && len(rec.Faulty) > 0 {
		// Alone, every op in the log was committed once it was durable, and no peer holds
		// another copy: the state is lost, and only an operator's restore can bring it back.
		r.status = StatusStopped
		r.emit(EventStatus, rec.Faulty[0], [16]byte{}, fmt.Sprintf(
			"stopped: op %d is unreadable on disk and a single replica has no peer to repair it from (%d faulty ops); restore from a backup",
			rec.Faulty[0], len(rec.Faulty)))
		return
	}
	r.emit(EventRecovered, r.op, [16]byte{}, "recovered from disk")
	r.rejoin()
	r.invariants()
}

// installRecoveredEntries puts the recovered log in memory and returns the highest op whose
// link to the op below a faulty op's redundant record shows broken (0 if none): see
// unverifiedBelowBreak.
func (r *Replica) installRecoveredEntries(rec *storage.Recovery) (recordBreak uint64) {
	for _, e := range rec.Entries {
		if e.Op <= r.checkpointOp {
			continue
		}
		m, err := Decode(e.Body, r.cluster)
		if err != nil || m.Header.Command != CommandPrepare || m.Header.Op != e.Op {
			r.log.markFaulty(e.Op)
			r.op = max(r.op, e.Op)
			continue
		}
		r.log.setPrepare(m)
		r.log.slotOf(e.Op).durable = true
		r.op = max(r.op, e.Op)
	}
	for _, op := range rec.Faulty {
		if op <= r.checkpointOp {
			continue
		}
		// The entry's redundant record keeps the prepare's header (StorageOptions), which
		// checks itself: with it, peers can repair the op by checksum or deny having it.
		h, ok, breaks := r.recordedHeader(op, rec.FaultyPrefix[op])
		if ok {
			r.log.markFaultyKnown(h)
		} else {
			r.log.markFaulty(op)
		}
		recordBreak = max(recordBreak, breaks)
		r.op = max(r.op, op)
	}
	// Ops between the checkpoint and the head that are neither present nor faulty were
	// never written (or were torn before being synced, so never acknowledged).
	if h, ok := r.log.header(r.op); ok {
		r.lastTimestamp = h.Timestamp
	}
	return recordBreak
}

// unverifiedBelowBreak forgets, as unverified, the recovered ops below the first break of the
// hash chain under the head (down to the persisted commit number): what a log install kept in
// memory only. An install forgets our ops below the new log's lowest header that its chain
// cannot vouch for (unverifiedBelow) but leaves them on disk, since one may be the committed
// prepare, and persists neither the new log view nor a commit number over them until they
// are repaired (logDurable, unverifiedFloor). A crash meanwhile loses that knowledge: the
// disk then holds the new log's entries, repaired or appended, above a stale entry of the
// older log view, and recovery read them as one log (swarm seed 2026567333, the primary left
// behind: view 11's op 147 under view 12's ops 148-153, persisted log view 11, the chain
// assertion at once). Above a break the entries are the newer ones (a changed entry is
// written only after the disk log above it was cut), so the ops below it are forgotten the
// same way again: never denied, repaired along the chain. At or below the persisted commit
// number the log is the committed one (unverifiedFloor), and the walk stops there.
//
// A damaged entry can hide the break: its header is unknown, so neither link through it is
// checked. Its redundant record still names the prepare it held, and a record that chains
// with the entry on one side but not the other shows the break (recordBreak: the op above
// the broken link). Missing it kept view 0's ops 1-26 under view 3's op 28 across a
// damaged op 27, and the repair of 27 along the chain broke it at 26 (swarm seed
// 2027665936: a stale suffix left to the checkpoint, cut above it, then a crash). A
// damaged op whose record is lost as well shows nothing: a link that cannot be checked
// vouches for nothing below it (as at a log install, unverifiedBelow), so it counts as a
// break too. What the walk forgets is taken back from our own disk along the chain once
// the damaged op is repaired.
func (r *Replica) unverifiedBelowBreak(commit, recordBreak uint64) {
	floor := max(r.checkpointOp, min(commit, r.op))
	for op := r.op; op > floor+1; op-- {
		above, okAbove := r.log.header(op)
		below, okBelow := r.log.header(op - 1)
		broken := okAbove && okBelow && above.Parent != below.Checksum
		hidden := !okAbove && op < r.op && r.log.isFaulty(op) // no link through it is checked
		if !broken && !hidden && op != recordBreak {
			continue
		}
		for o := op - 1; o > floor; o-- {
			r.log.forgetUnverified(o)
		}
		return
	}
}

// recordedHeader decodes the prepare header a faulty op's redundant record kept, and accepts
// it only if it is op's and chains with the neighbours the log holds. A header that does
// not chain with a neighbour shows the disk's log broken on that side (the record is a copy
// of what op's entry held): breaks is then the op above the highest such link. A record
// older than its entry only makes the walk forget more, to be taken back along the chain.
func (r *Replica) recordedHeader(op uint64, prefix []byte) (h Header, ok bool, breaks uint64) {
	h, err := DecodeHeader(prefix, r.cluster)
	if err != nil || h.Command != CommandPrepare || h.Op != op {
		return Header{}, false, 0
	}
	if next, ok := r.log.header(op + 1); ok && next.Parent != h.Checksum {
		return Header{}, false, op + 1
	}
	if prev, ok := r.log.header(op - 1); ok && prev.Checksum != h.Parent {
		return Header{}, false, op
	}
	return h, true, 0
}

// rejoin decides the replica's status after recovery. A replica never resumes as the primary
// of the view it crashed in (its pipeline and request queue are gone, and it may have
// prepared ops it no longer has): it starts a view change into the next view. A backup of a normal view resumes as a backup and catches up by
// repair; a replica that crashed during a view change resumes it.
func (r *Replica) rejoin() {
	switch {
	case r.isStandby():
		// A standby follows whatever view the cluster is in: it resumes as a follower of its
		// view and asks that view's primary for the log (a newer one reaches it anyway). If
		// it crashed before the log of its view was durable (view above log view), it is
		// between views: it takes no part until that view's start_view installs the log.
		if r.logView == r.view {
			r.transitionToNormalBackup(r.view)
		} else {
			r.status = StatusViewChange
			r.emit(EventStatus, r.op, [16]byte{}, "standby awaiting its view's log")
		}
		r.recoverTimeout.start(r.rand)
	case r.view == 0 && r.op == 0 && r.isPrimary() && r.stateDurable.Boots == 0:
		// The first boot of a freshly formatted cluster: nothing was ever prepared (a
		// primary prepares only once its boot is durable), so there is no pipeline to lose
		// and no op of this view that another replica may hold.
		r.transitionToNormalPrimary()
	case r.activeCount() == 1:
		// Alone, after a restart: the next view, as below. Its standbys may hold ops it
		// prepared in its view and lost in the crash (swarm seed 20261384: a lone primary
		// restarted in its view prepared other ops at those numbers, and its standby
		// executed the old ones).
		r.leadAlone(r.view + 1)
	case r.logView == r.view && !r.isPrimary():
		r.transitionToNormalBackup(r.view)
		r.recoverTimeout.start(r.rand)
	case r.isPrimary():
		// Whether or not its log view was durable, it may have prepared ops in this view
		// that others hold: a second incarnation leading the same view could prepare a
		// different op at the same number. It moves on to the next view.
		r.transitionToViewChange(r.view + 1)
	default:
		r.transitionToViewChange(r.view)
	}
}

// snapshot encodes a checkpoint at commit_min: the header of its prepare (so that the hash
// chain continues from a checkpoint, after a restart or a state sync, without the log below
// it), the state machine's snapshot, and the client table.
func (r *Replica) snapshot() []byte {
	head, ok := r.log.header(r.commitMin)
	assert.That(ok || r.commitMin == 0, "checkpoint without the header of its op")
	machineSize, clientsSize := r.machine.SnapshotSize(), r.clients.encodedSize()
	buf := make([]byte, HeaderSize, HeaderSize+4+machineSize+clientsSize)
	if ok {
		putHeader(buf, &head)
	}
	buf = binary.LittleEndian.AppendUint32(buf, uint32(machineSize))
	// Both parts in place, in the one allocation: no copy of either.
	buf = r.machine.AppendSnapshot(buf)
	assert.That(len(buf) == HeaderSize+4+machineSize, "machine snapshot of an unexpected size")
	buf = r.clients.appendEncoded(buf)
	assert.That(len(buf) == HeaderSize+4+machineSize+clientsSize, "client table of an unexpected size")
	return buf
}

var errSnapshot = errors.New("malformed checkpoint snapshot")

// restoreSnapshot installs a checkpoint of op: its state, and its prepare's header as the
// anchor of the hash chain.
func (r *Replica) restoreSnapshot(op uint64, buf []byte) error {
	if len(buf) < HeaderSize+4 {
		return errSnapshot
	}
	var head Header
	if op > 0 {
		h, err := DecodeHeader(buf[:HeaderSize], r.cluster)
		if err != nil || h.Op != op || h.Command != CommandPrepare {
			return errSnapshot
		}
		head = h
	}
	buf = buf[HeaderSize:]
	size := binary.LittleEndian.Uint32(buf)
	if uint64(size) > uint64(len(buf)-4) {
		return errSnapshot
	}
	machine := kv.New()
	if err := machine.Restore(buf[4 : 4+size]); err != nil {
		return err
	}
	if err := r.checkMachineRelease(machine); err != nil {
		return err
	}
	clients, err := decodeClientTable(buf[4+size:], r.clientsMax())
	if err != nil {
		return err
	}
	r.machine, r.clients = machine, clients
	if op > 0 {
		r.log.anchorOp, r.log.anchorChecksum = op, head.Checksum
		r.lastTimestamp = max(r.lastTimestamp, head.Timestamp)
		// Keep the header itself too (unless its slot holds a later op): a checkpoint of
		// this op that must be written again (the first write failed) carries it.
		if slot := r.log.slotOf(op); !slot.present || slot.header.Op <= op {
			r.log.setHeader(head)
		}
	}
	return nil
}

// persistState writes the superblock when the view, log view or commit changed. One write is
// in flight at a time; a change made meanwhile is written when it completes.
//
// A commit number alone is written once the one to persist, min(commit_max,
// unverifiedFloor), is more than half a checkpoint interval past the durable one, so once
// its writes land a replica's durable commit trails that by at most CheckpointInterval/2. It
// runs wherever either can rise: commit_max in advanceCommitMax, the floor where an entry
// becomes durable (writePrepareCallback: a repaired or reclaimed entry below the head frees
// it too, TestRepairedEntryPersistsTheCommitItHeldBack) and at a checkpoint.
func (r *Replica) persistState() {
	if r.storage == nil || r.stateWriting || r.stateRetry || r.stateCurrent() {
		return
	}
	want := r.durableTarget()
	if want.View == r.stateDurable.View && want.LogView == r.stateDurable.LogView && want.LogEpoch == r.stateDurable.LogEpoch &&
		want.Epoch == r.stateDurable.Epoch && want.Outside == r.stateDurable.Outside &&
		want.Boots == r.stateDurable.Boots && want.JoinedEmpty == r.stateDurable.JoinedEmpty &&
		want.Commit <= r.stateDurable.Commit+CheckpointInterval/2 {
		return
	}
	r.stateWriting = true
	r.storage.SaveState(want, func(err error) {
		r.stateWriting = false
		if err == nil {
			r.stateDurable = want
			r.persistState()
		} else {
			// Written again on the next tick, not from here: a lasting failure (a full disk,
			// a broken write path) spun on back-to-back superblock writes
			// (TestFailedSaveStateIsNotRetriedInALoop).
			r.stateRetry = true
		}
		r.onStateDurable()
	})
}

// stateCurrent reports, without durableTarget's scans of the log, that persistState has
// nothing to write: every field durableTarget sets is durable already (the log view and its
// epoch whether or not logDurable holds), and its commit is at most the larger of the durable
// one and commit_max, within the slack whatever unverifiedFloor finds. persistState runs
// after every write and commit, and the scans were most of its cost.
func (r *Replica) stateCurrent() bool {
	d := &r.stateDurable
	return r.view == d.View && r.logView == d.LogView && r.logEpoch == d.LogEpoch &&
		r.epoch == d.Epoch && r.outside == d.Outside && r.boots == d.Boots && r.joinedEmpty == d.JoinedEmpty &&
		r.commitMax <= d.Commit+CheckpointInterval/2
}

// durableTarget is the superblock state to persist. The log view is persisted only once the
// log it names is durable up to the op where the view began (logViewOp): after a crash a
// replica claims its durable log_view for its durable log, and a log_view ahead of the log
// (ops of the new view still being repaired) would let a short log win a view change and
// lose committed ops. Ops appended later in the view only extend that log, in order; waiting
// for them too kept a busy primary's log view from ever becoming durable.
func (r *Replica) durableTarget() storage.State {
	st := r.stateDurable
	st.View, st.Commit, st.Boots = r.view, max(st.Commit, min(r.commitMax, r.unverifiedFloor())), r.boots
	st.Epoch, st.Outside, st.JoinedEmpty = r.epoch, r.outside, r.joinedEmpty
	if r.logDurable() {
		st.LogView, st.LogEpoch = r.logView, r.logEpoch
	}
	st.CheckpointOp = r.storage.State().CheckpointOp
	return st
}

// unverifiedFloor is the op below the lowest op whose entry on our disk may not be our log's
// prepare (log.diskMayDiffer: kept unverified by a log install, or damaged and not yet
// rewritten), or the highest op if none. The commit number persisted stays below it: after a
// restart the replica reads that entry back as its log's, and an entry the new log has not
// named may be of an older log, not to be executed as committed (campaign seed 20261674: a
// start_view whose headers began above our log forgot our ops of an older log view in memory
// only, the commit number of the new view was persisted, and a restart put an op that the
// next view had replaced at or below it).
//
// The scan starts above the durable checkpoint, where a restart starts replaying the disk's
// entries, not above commit_min: an op executed from memory need not be on disk. A repaired
// op whose stale entry the engine cannot replace without truncating is left to the
// checkpoint (leftToCheckpoint) and executed meanwhile; scanning above commit_min persisted
// a commit number past it, and a restart executed the stale entry of an older view (swarm
// seed 20261302: op 73 of view 1 under commit 101, op 73 of view 4 canonical). Ops above
// commit_max cannot lower the result below commit_max, so the scan stops there.
//
// The window of slots is counted from commit_min, not from the durable checkpoint: an op
// executed but not yet checkpointed can lose its slot to an op LogSlotsMax above it, and
// with it the mark that its entry may be stale. Such an op counts as unknown, so the
// commit number persisted stays below it until a checkpoint covers it (swarm seed
// 2027664865: replica 1, its checkpoint 0 held back by a full disk, installed view 8's log
// up to op 301 over its slots of ops 3-45, and persisted commit 53 over view 1's op 3, an
// entry left to the checkpoint while view 2's op 3 had committed).
func (r *Replica) unverifiedFloor() uint64 {
	for op := r.storageFloor() + 1; op <= min(r.op, r.commitMax); op++ {
		if r.log.slotOf(op).header.Op != op || r.log.diskMayDiffer(op) {
			return op - 1
		}
	}
	return r.op
}

// logDurable reports whether every op above the durable checkpoint up to the op where the
// log view began (and at most op_number) is in the engine's log.
//
// A checkpoint in flight covers nothing yet: a superblock write submitted meanwhile runs
// after it in the engine, and when the checkpoint fails (a write error, a full disk) it
// still lands. Counting the ops of checkpointingOp as logged persisted the log view over a
// log without their entries, and a crash before they were written brought the replica back
// claiming the new log view with a log ending below ops committed in it, a claim that beat
// the older log views of the replicas that had committed them (the h52 review:
// TestFailedCheckpointNeverPersistsALogViewOverAHole). The checkpoint's completion persists
// the log view once it is durable (checkpoint, onSync).
func (r *Replica) logDurable() bool {
	for op := r.checkpointOp + 1; op <= min(r.op, r.logViewOp); op++ {
		s := r.log.slotOf(op)
		if !s.present || s.header.Op != op || !s.durable {
			return false
		}
	}
	return true
}

// viewDurable reports whether the current view and log view survive a restart: only then may
// the replica vote (prepare_ok, do_view_change) in it.
func (r *Replica) viewDurable() bool {
	return r.stateDurable.View == r.view && r.stateDurable.LogView == r.logView && r.stateDurable.LogEpoch == r.logEpoch &&
		r.stateDurable.Epoch == r.epoch && r.stateDurable.Outside == r.outside
}

// openOutside: the replica's own slot is outside its configuration. Formatted to join (never
// booted), it waits silently to hear a later epoch that includes it; removed by a change, it
// stops.
func (r *Replica) openOutside() {
	if r.stateDurable.Boots == 0 {
		r.joining = true
		r.emit(EventRecovered, r.op, [16]byte{}, "joining: waiting to be added to the configuration")
		return
	}
	r.status, r.removed = StatusStopped, true
	r.emit(EventStatus, r.op, [16]byte{}, fmt.Sprintf(
		"stopped: removed from the cluster: configuration epoch %d (%s) does not include this replica; format it with --join to add it back",
		r.epoch, r.membersText()))
}
