package vsr

import (
	"errors"

	"vopr/cluster/checksum"
	"vopr/internal/assert"
)

// Operator actions on a running replica: the runbook's `storage compact`, `storage export`
// and `replica isolate`. They are calls into the replica from its own event loop (like
// SetConfig), so they run between the replica's other calls and never concurrently with
// them.
//
// Storage actions go through the replica's own storage engine rather than a second Open of
// the disk: a second engine on a running replica's files would not see the appends,
// checkpoints and truncations the first one makes, and the two would corrupt each other.
// The engine runs its operations one at a time in call order, so an action queued behind a
// checkpoint or an append sees their results and none of them sees it half done:
//
//   - Compact removes only log segments wholly at or below the newest durable checkpoint
//     (Storage.Compact). The replica never needs those entries again: its state machine and
//     client table are in the checkpoint, repair is served from its in-memory log, and it
//     writes and truncates only above its durable checkpoint (nextWrite, storageFloor). This
//     is the compaction the replica already runs itself on a full disk (onDiskFull).
//   - Backup reads back the superblock, the checkpoint and every entry above it as one
//     engine operation (Storage.Backup), so the export is a consistent durable state, never
//     a mix of before and after a concurrent write. Prepares not yet durable are not in it:
//     the replica has not acknowledged them either.
//
// Isolation cuts the replica off from the cluster at the replica itself (not in the
// network, which an operator does not control): while isolated it drops every message it
// receives, everything it sends goes to a bus that drops it, and its timers stand still.
// The last is the decision that matters: an isolated backup whose election timeout kept
// running would start view change after view change on its own, and on its return its
// inflated view would drag the healthy cluster into a needless view change. A frozen
// replica keeps the view it had, its disk I/O in flight completes, and on Unisolate every
// running timeout restarts from zero, as if it had just heard from the cluster: it hears
// the primary's next heartbeat (or the new primary's, if the cluster changed view without
// it) before it suspects anyone, and repairs or state-syncs from there like any lagging
// replica. Nothing it acknowledged is forgotten, so isolation is always safe to undo.

// Errors of the operator actions.
var (
	// ErrNotServing: the replica has no open storage or is not taking part in the protocol
	// (recovering, or stopped after a failed open).
	ErrNotServing = errors.New("vsr: replica is not serving (recovering or stopped)")
	// ErrOperatorBusy: OperatorPendingMax storage actions are already in flight.
	ErrOperatorBusy = errors.New("vsr: too many operator actions in flight")
)

// OperatorPendingMax bounds the operator's storage actions in flight on one replica. The
// engine asserts a bounded queue (storage.QueuedMax); the replica keeps only a handful of its
// own operations queued, so an operator who keeps issuing actions must be refused rather
// than fill it.
const OperatorPendingMax = 4

// operatorState is the replica's record of operator actions.
//
// Invariants: isolated == (bus != nil) == (the replica's bus is the dropping bus);
// 0 <= pending <= OperatorPendingMax.
type operatorState struct {
	pending  int
	isolated bool
	reason   string
	bus      Bus // the replica's real bus while isolated
}

// dropBus is the bus of an isolated replica: it sends nothing.
type dropBus struct{}

func (dropBus) SendToReplica(int, []byte)   {}
func (dropBus) SendToClient(uint64, []byte) {}

// Compact is the runbook's `storage compact`: it removes the log segments wholly at or
// below the newest durable checkpoint and reports the bytes freed (what Inspection's
// DiskCompactableBytes showed, unless a checkpoint completes first). done runs from a disk
// completion; ErrNotServing or ErrOperatorBusy are delivered the same way.
func (r *Replica) Compact(done func(freed int64, err error)) {
	assert.That(done != nil, "replica: Compact needs a callback")
	if err := r.operatorAdmit(); err != nil {
		r.later(func() { done(0, err) })
		return
	}
	floor := r.storage.State().CheckpointOp
	r.storage.Compact(func(freed int64, err error) {
		r.operatorFinished()
		assert.That(freed >= 0, "replica: compaction freed negative bytes")
		assert.That(r.storage.State().CheckpointOp >= floor, "replica: checkpoint went back during compaction")
		assert.That(err != nil || r.storage.CompactableBytes() == 0, "replica: compaction left compactable bytes")
		done(freed, err)
	})
}

// Backup is the runbook's `storage export`: an online backup of the replica's durable
// state (Storage.Backup), which storage.Restore verifies and restores. done runs from a disk
// completion; storage.ErrFaulty while an entry above the checkpoint awaits repair.
func (r *Replica) Backup(done func(backup []byte, err error)) {
	assert.That(done != nil, "replica: Backup needs a callback")
	if err := r.operatorAdmit(); err != nil {
		r.later(func() { done(nil, err) })
		return
	}
	r.storage.Backup(func(b []byte, err error) {
		r.operatorFinished()
		assert.That((err == nil) == (b != nil), "replica: backup with an error, or neither")
		done(b, err)
	})
}

// operatorAdmit admits one storage action, or says why not.
func (r *Replica) operatorAdmit() error {
	assert.That(r.operator.pending >= 0 && r.operator.pending <= OperatorPendingMax,
		"replica: operator actions in flight out of range")
	switch {
	case r.storage == nil || r.status == StatusRecovering || r.status == StatusStopped:
		return ErrNotServing
	case r.operator.pending == OperatorPendingMax:
		return ErrOperatorBusy
	}
	r.operator.pending++
	return nil
}

func (r *Replica) operatorFinished() {
	assert.That(r.operator.pending > 0, "replica: operator action finished twice")
	r.operator.pending--
}

// later runs fn from a completion of the replica's FS, so that a refused action answers
// the way an admitted one does: never inside the call.
func (r *Replica) later(fn func()) {
	r.options.FS.List(func([]string, error) { fn() })
}

// Isolate cuts the replica off from the cluster (the runbook's `replica isolate`): it
// drops every message it receives, sends none, and fires no timeout until Unisolate (see
// the note above). Isolating an isolated replica only replaces the reason.
func (r *Replica) Isolate(reason string) {
	if !r.operator.isolated {
		_, dropping := r.bus.(dropBus)
		assert.That(!dropping && r.operator.bus == nil, "replica: not isolated but its bus drops")
		r.operator.bus, r.bus = r.bus, dropBus{}
	}
	r.operator.isolated, r.operator.reason = true, reason
	r.emitIsolation("isolated: " + reason)
}

// Unisolate reconnects an isolated replica: its bus is restored and every running timeout
// restarts from zero, so it waits a full period to hear from the cluster before it acts.
func (r *Replica) Unisolate() {
	if !r.operator.isolated {
		return
	}
	_, dropping := r.bus.(dropBus)
	assert.That(dropping && r.operator.bus != nil, "replica: isolated but its bus sends")
	r.bus = r.operator.bus
	r.operator.isolated, r.operator.reason, r.operator.bus = false, "", nil
	for _, t := range r.timeouts() {
		t.reset(r.rand)
	}
	r.emitIsolation("unisolated")
}

// Isolation reports whether the replica is isolated, and the operator's reason.
func (r *Replica) Isolation() (reason string, isolated bool) {
	return r.operator.reason, r.operator.isolated
}

// emitIsolation reports an isolation change to the observer. A replica that has not read
// its view from disk reports nothing: an event carries the view, and view 0 from a
// restarted replica would read as its view going back.
func (r *Replica) emitIsolation(text string) {
	if r.status == StatusNormal || r.status == StatusViewChange {
		r.emit(EventStatus, r.op, checksum.Sum{}, text)
	}
}
