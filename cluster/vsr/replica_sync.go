package vsr

import (
	"errors"

	"vopr/internal/assert"
)

// State sync: a replica whose gap crosses a checkpoint cannot repair from logs, because its
// peers have compacted the ops it lacks. It fetches the peer's newest checkpoint instead (the
// state machine and client table at that op), installs it, and repairs the rest.

// SyncRequestTicksMin spaces out a replica's sync requests.
const SyncRequestTicksMin = 20

func (r *Replica) requestSync(to int) {
	if to == r.replica || r.checkpointing || r.syncCooldown > 0 {
		return
	}
	r.syncCooldown = SyncRequestTicksMin
	h := r.header(CommandRequestSync)
	h.Op = r.commitMin
	if r.stateLost {
		h.Op = r.checkpointOp - 1 // our checkpoint's own op will do: we lost its state
	}
	r.bus.SendToReplica(to, Encode(h, nil))
}

// onRequestSync answers with our newest durable checkpoint if it is ahead of the requester.
func (r *Replica) onRequestSync(m Message) {
	h := m.Header
	if r.checkpointSnapshot == nil || r.checkpointOp <= h.Op || int(h.Replica) == r.replica {
		return
	}
	if len(r.checkpointSnapshot)+HeaderSize > MessageSizeMax {
		return // cannot happen within the state machine's bounds; never send an invalid message
	}
	s := r.header(CommandSync)
	s.Op, s.Commit = r.checkpointOp, r.commitMax
	s.Context, _ = r.log.checksumOf(r.checkpointOp)
	r.bus.SendToReplica(int(h.Replica), Encode(s, r.checkpointSnapshot))
}

// onSync installs a peer's checkpoint that is ahead of our executed state. The checkpoint is
// made durable before anything else happens, so a crash afterwards recovers from it.
// tickStateLost asks a random peer for a checkpoint every SyncRequestTicksMin ticks while
// the replica's own checkpoint is lost.
func (r *Replica) tickStateLost() {
	r.syncCooldown = max(r.syncCooldown-1, 0)
	if r.count > 1 {
		to := r.rand.IntN(r.count - 1)
		if to >= r.replica {
			to++
		}
		r.requestSync(to)
	}
}

func (r *Replica) onSync(m Message) {
	h := m.Header
	if r.stateLost {
		r.onSyncStateLost(m)
		return
	}
	if r.status == StatusRecovering || r.checkpointing || h.Op <= r.commitMin || h.Op%CheckpointInterval != 0 {
		return
	}
	if r.status == StatusNormal && r.isPrimary() && h.Op > r.commitMax {
		// A primary commits its pipeline (the ops above commit_number) itself, by quorum; a
		// checkpoint past commit_number would commit them behind its back (swarm seed 738:
		// the pipeline then held committed ops).
		return
	}
	if err := r.restoreSnapshot(h.Op, m.Body); err != nil {
		if errors.Is(err, errReleaseTooOld) {
			r.stopReleaseTooOld(err.Error()) // the cluster moved on to a release we cannot run
		}
		return
	}
	r.commitMin = h.Op
	if r.op < h.Op {
		for op := r.checkpointOp + 1; op <= r.op; op++ {
			r.log.clear(op)
		}
		r.op = h.Op // the snapshot's header anchors the chain at it
	}
	r.commitMax = max(r.commitMax, h.Op)
	if r.mutated(MutationCommitPastOpAfterSync) {
		r.commitMax = r.op + 1
	}
	r.metrics.StateSyncs++
	r.emit(EventStateSync, h.Op, h.Context, "")
	r.checkpointing = true
	r.checkpointingOp = max(r.checkpointingOp, h.Op)
	snapshot := append([]byte(nil), m.Body...)
	r.storage.Checkpoint(h.Op, snapshot, func(err error) {
		defer r.invariants()
		r.checkpointing = false
		if err != nil {
			r.checkpointDue = true
			r.checkpointingOp = r.checkpointOp
			return
		}
		r.checkpointOp = h.Op
		r.checkpointSnapshot = snapshot
		r.flushLog()
		r.commitExecute()
	})
	assert.That(r.commitMin <= r.commitMax && r.commitMax <= r.op, "state sync broke commit <= op")
}

// onSyncStateLost installs a peer's checkpoint at or after our lost one, makes it durable
// (replacing the damaged file), and only then rejoins the protocol.
func (r *Replica) onSyncStateLost(m Message) {
	h := m.Header
	if r.checkpointing || h.Op < r.checkpointOp || h.Op%CheckpointInterval != 0 {
		return
	}
	if err := r.restoreSnapshot(h.Op, m.Body); err != nil {
		if errors.Is(err, errReleaseTooOld) {
			r.stopReleaseTooOld(err.Error()) // the cluster moved on to a release we cannot run
		}
		return
	}
	if r.op < h.Op {
		for op := r.checkpointOp + 1; op <= r.op; op++ {
			r.log.clear(op)
		}
		r.op = h.Op
	}
	r.commitMin, r.commitMax = h.Op, max(r.commitMax, h.Op)
	r.checkpointing = true
	r.checkpointingOp = max(r.checkpointingOp, h.Op)
	snapshot := append([]byte(nil), m.Body...)
	r.storage.Checkpoint(h.Op, snapshot, func(err error) {
		r.checkpointing = false
		if err != nil || !r.stateLost {
			return // retried on the next sync
		}
		r.stateLost = false
		r.checkpointOp, r.checkpointSnapshot = h.Op, snapshot
		r.metrics.StateSyncs++
		r.emit(EventStateSync, h.Op, h.Context, "checkpoint restored from a peer")
		r.rejoin()
		r.invariants()
	})
}
