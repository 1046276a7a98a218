package vsr

import (
	"fmt"
	"slices"

	"vopr/cluster/checksum"
	"vopr/internal/assert"
)

// commitExecute executes committed ops in order (VRR 2012 §4.1 steps 5 and 7) until it
// reaches commit_number, a missing prepare (repair fetches it), or a checkpoint boundary
// (the checkpoint is written before execution goes on, so a checkpoint is exactly the
// state after its op).
//
// A change of configuration executed waits for its switch (the next tick) before anything
// else, and a checkpoint is written only in a configuration that is durable: no restart may
// find the change executed in a checkpoint whose superblock names the old epoch (swarm
// seeds 20261354 and 20263288: a crash right after such a checkpoint brought the replica
// back in the old epoch, past the change it could no longer read). A checkpoint due waits
// (and execution with it) until the superblock write of the epoch completes
// (onStateDurable).
func (r *Replica) commitExecute() {
	if r.reconfig.switch_ != nil {
		return
	}
	if r.checkpointDue && !r.checkpointing && r.stateDurable.Epoch == r.epoch {
		r.checkpoint(r.commitMin)
	}
	for r.commitMin < r.commitMax && !r.checkpointing && !r.checkpointDue && r.reconfig.switch_ == nil {
		op := r.commitMin + 1
		prepare, ok := r.log.prepare(op)
		if !ok {
			r.repair.wantOp = max(r.repair.wantOp, op)
			return
		}
		m, err := Decode(prepare, r.cluster)
		assert.That(err == nil, "committed prepare does not decode")
		assert.That(m.Header.Op == op, "committed prepare at the wrong op")
		if release, ok := r.upgradeOf(m); ok && release > r.options.Release {
			r.stopReleaseTooOld(fmt.Sprintf("%v: upgrade op %d to cluster release %d, binary release %d",
				errReleaseTooOld, op, release, r.options.Release))
			return
		}
		r.execute(m)
		if op%CheckpointInterval == 0 && (r.reconfig.switch_ != nil || r.stateDurable.Epoch != r.epoch) {
			r.checkpointDue = true // once the epoch is durable (above)
		} else if op%CheckpointInterval == 0 {
			r.checkpoint(op)
		}
	}
}

func (r *Replica) execute(m Message) {
	entries, err := decodeBatchInto(r.takeBatchScratch(), m.Body)
	assert.That(err == nil, "committed batch does not decode")
	op := m.Header.Op
	for _, e := range entries {
		r.executeEntry(m.Header, e)
	}
	r.sendBatchEvictions()
	r.putBatchScratch(entries)
	r.commitMin = op
	r.metrics.CommitsTotal++
	r.standbyExecuted()
	if r.observer != nil {
		r.observer.Event(Event{Kind: EventCommit, Replica: r.replica, Epoch: r.epoch, View: r.view, Op: op,
			Checksum: m.Header.Checksum, Prepare: m.Bytes, Timestamp: m.Header.Timestamp})
	}
	assert.That(r.commitMin <= r.commitMax, "executed past commit_number")
}

func (r *Replica) executeEntry(prepare Header, e batchEntry) {
	switch e.Operation {
	case OperationRegister:
		if s := r.clients.get(e.Client); s != nil {
			// The session exists: a stale duplicate changes nothing; a newer register (the
			// client gave up waiting for the first reply) gets the existing session.
			if e.Request > s.request {
				r.recordReply(prepare, e, nil)
			}
			return
		}
		if evicted, session, ok := r.clients.register(e.Client, prepare.Op); ok {
			r.metrics.Evictions++
			r.emit(EventEviction, prepare.Op, checksum.Sum{}, "")
			r.batchEvictions = append(r.batchEvictions, batchEviction{client: evicted, session: session})
		}
		r.recordReply(prepare, e, nil)
	case OperationUpgrade:
		release, _ := upgradeRelease([]batchEntry{e})
		r.executeUpgrade(prepare, release)
	case OperationReconfigure:
		r.executeReconfig(prepare, e)
	case OperationKV:
		s := r.clients.get(e.Client)
		if s == nil || s.registered != e.Session {
			r.sendEviction(e.Client, e.Session)
			return
		}
		if e.Request <= s.request {
			return // a duplicate prepared twice across a view change runs once
		}
		result := r.machine.Apply(e.Payload)
		r.recordReply(prepare, e, result)
	default:
		assert.Unreachable("batch entry with an unvalidated operation")
	}
}

// batchEviction is a session a register of the op executing evicted.
type batchEviction struct{ client, session uint64 }

// sendBatchEvictions tells the clients whose sessions the op's registers evicted, once the
// whole batch has run, and only of a session the table no longer holds: a batch of
// registers (stale duplicates among them, which a primary takes while the client has no
// session) can open a client's session, evict it and open it again within the op, under
// the same name (the op). Told midway, the client took the eviction of the session it had
// just been given and gave up a live session (swarm seed 2042000048: client_sessions).
func (r *Replica) sendBatchEvictions() {
	for _, ev := range r.batchEvictions {
		if s := r.clients.get(ev.client); s == nil || s.registered != ev.session {
			r.sendEviction(ev.client, ev.session)
		}
	}
	r.batchEvictions = r.batchEvictions[:0]
}

// recordReply stores the reply in the client table (every replica does, so that a new
// primary answers retries) and sends it from the primary.
//
// The table is replicated state, saved in checkpoints that a replica behind may install
// from any peer: the reply it keeps is a function of the op alone, the same bytes on every
// replica. Its sender fields (replica, view, epoch and configuration, release) are those of
// the prepare, as its primary made it; whoever sends it puts its own in (sendReply). Built
// from the executing replica's own (r.header), every replica's checkpoint of an op differed
// in its client table (swarm seed 1 and nearly every other: checkpoint_agreement), and a
// replica answered a retry with the view and index of whichever peer it had synced from.
func (r *Replica) recordReply(prepare Header, e batchEntry, result []byte) {
	s := r.clients.get(e.Client)
	assert.That(s != nil, "reply without a session")
	h := Header{Cluster: r.cluster, Command: CommandReply, Replica: prepare.Replica, View: prepare.View,
		Release: prepare.Release, Epoch: prepare.Epoch, Outside: prepare.Outside}
	h.Client, h.Request, h.Op, h.Operation = e.Client, e.Request, prepare.Op, e.Operation
	h.Timestamp, h.Parent = prepare.Timestamp, prepare.Checksum
	// Commit names the session: the op that registered it. The client sends it with every
	// request, so that a request of a session that was evicted (and perhaps re-created by a
	// stale register) never runs under another session.
	h.Commit = s.registered
	s.request = e.Request
	if r.status == StatusNormal && r.isPrimary() {
		s.reply, s.replyHeader, s.replyBody, s.replyLazy = Encode(h, result), Header{}, nil, false
		r.sendReply(e.Client, s)
		return
	}
	// result is the machine's fresh encoding, never changed: kept, the reply is encoded
	// only if needed (s.replyMessage), as Encode(h, result) would have been now.
	s.reply, s.replyHeader, s.replyBody, s.replyLazy = nil, h, result, true
}

// sendReply sends the session's reply to client as this replica: the client table's reply
// (recordReply) with this replica's index, view, epoch and configuration, and release in its
// header, which the client follows to the primary. Usually they are already the prepare's
// (a primary replying to its own prepare): the table's bytes go as they are.
func (r *Replica) sendReply(client uint64, s *session) {
	reply := s.replyMessage()
	if len(reply) < HeaderSize {
		r.bus.SendToClient(client, reply) // not a message: the client drops it
		return
	}
	var h Header
	getHeader(reply, &h)
	if h.Replica != uint8(r.replica) || h.View != r.view || h.Epoch != r.epoch || h.Outside != r.outside ||
		h.Release != r.options.Release {
		h.Replica, h.View, h.Epoch, h.Outside, h.Release = uint8(r.replica), r.view, r.epoch, r.outside, r.options.Release
		reply = slices.Clone(reply)
		putHeader(reply, &h)
		checksum.Put(reply[0:16], reply[16:HeaderSize]) // the body and its checksum are unchanged
	}
	r.bus.SendToClient(client, reply)
}

// sendEviction tells client that its session (the op that registered it) is gone. Commit
// names the session, as in a reply: the client drops only that session, so that an eviction
// that arrives late (delayed, replayed, or sent for a request of an older session) never
// aborts the client's newer session or its registration (swarm seed 20264316: clients
// outnumbering the client table kept abandoning fresh sessions, and nothing committed).
func (r *Replica) sendEviction(client, session uint64) {
	if r.status != StatusNormal || !r.isPrimary() {
		return
	}
	h := r.header(CommandEviction)
	h.Client, h.Commit = client, session
	r.bus.SendToClient(client, Encode(h, nil))
}

// checkpoint writes the state at op (state machine and client table) and points the
// superblock at it; execution and new prepares wait until it is durable.
func (r *Replica) checkpoint(op uint64) {
	assert.That(op == r.commitMin, "checkpoint of an unexecuted op")
	assert.That(!r.checkpointing, "second checkpoint in flight")
	r.checkpointing, r.checkpointDue = true, false
	r.checkpointingOp = max(r.checkpointingOp, op)
	snapshot := r.snapshot()
	checkpoint := r.storage.Checkpoint
	if !r.loggedThrough(op) {
		checkpoint = r.storage.InstallCheckpoint
	}
	checkpoint(op, snapshot, func(err error) {
		defer r.invariants()
		r.checkpointing = false
		if err != nil {
			// Retried by the repair timeout; execution waits. The ops it would have covered
			// need their log entries after all.
			r.checkpointDue = true
			r.checkpointingOp = r.checkpointOp
			r.flushLog()
			return
		}
		assert.That(r.commitMin == op, "executed past a checkpoint that was not durable")
		r.syncServing.moveOn(r.checkpointOp, r.checkpointSnapshot)
		r.checkpointOp = op
		r.checkpointSnapshot = snapshot
		r.metrics.Checkpoints++
		// The event carries the state-machine digest at op: checkers compare it across
		// replicas and with a cluster restored from a backup of this checkpoint.
		r.emit(EventCheckpoint, op, r.machine.Digest(), "")
		r.persistState() // a log view that waited for the ops this checkpoint covers (logDurable)
		r.flushLog()
		r.commitExecute()
		r.primaryPrepare()
	})
}

// loggedThrough reports whether every op above the checkpoint up to op has its prepare
// durable in the engine's log: the snapshot at op is then the replay of that log. An op
// executed from memory whose entry is not written (left to the checkpoint, the engine
// holding another view's entry there, or simply not yet written) makes the checkpoint an
// installed one for the engine (InstallCheckpoint): were it to rot, a replay of the log from
// an older state would execute what the log holds there instead.
func (r *Replica) loggedThrough(op uint64) bool {
	for o := r.checkpointOp + 1; o <= op; o++ {
		if s := r.log.slotOf(o); s.header.Op != o || !s.durable {
			return false
		}
	}
	return true
}
