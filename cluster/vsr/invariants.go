package vsr

import "vopr/internal/assert"

// invariants asserts the replica's own invariants after every event it handles (deferred at
// the top of Tick, Receive and every I/O completion). A violation fail-stops the replica.
func (r *Replica) invariants() {
	if r.status == StatusRecovering || r.status == StatusStopped {
		return
	}
	assert.That(r.commitMax <= r.op, "commit_number <= op_number")
	assert.That(r.isMember(r.replica), "taking part outside its configuration")
	assert.That(r.epoch >= r.stateDurable.Epoch, "configuration epoch went backwards")
	assert.That(r.logEpoch <= r.epoch, "log of a newer epoch than the replica's")
	assert.That(r.commitMin <= r.commitMax, "commit_min <= commit_number")
	assert.That(r.checkpointOp <= r.commitMin, "checkpoint_op <= commit_min")
	assert.That(r.logView <= r.view, "log_view <= view")
	// A log installed from a peer ends below commit_min+LogSlotsMax (its head would take
	// commit_min's slot, whose header a pending checkpoint needs), but a recovered one may
	// end there: a replica whose newest checkpoint rotted falls back to an older one and
	// keeps every durable op above it (swarm seed 2030701232: checkpoint 192, op 448).
	assert.That(r.op <= r.commitMin+LogSlotsMax, "log window overflow: ops past commit_min must fit the slots")
	assert.That(r.op < r.commitMin+LogSlotsMax || r.checkpointOp == r.commitMin,
		"log window: commit_min's slot taken while its checkpoint is due")
	assert.That(len(r.pipeline) <= PipelinePrepareMax+LogSlotsMax, "pipeline bound")
	assert.That(len(r.requestQueue) <= RequestQueueMax, "request queue bound")
	assert.That(len(r.clients.sessions) <= r.clientsMax(), "client table bound")
	if r.status == StatusNormal {
		assert.That(r.logView == r.view, "normal status outside its log view")
	}
	if r.status == StatusNormal && r.isPrimary() {
		r.primaryInvariants()
	} else {
		assert.That(len(r.pipeline) == 0, "a backup has a pipeline")
		assert.That(len(r.requestQueue) == 0, "a backup queues requests")
	}
	r.chainInvariant()
	r.epochInvariant()
}

// epochInvariant checks near the head of the log that no op of our epoch was prepared after
// a change of our epoch (a change ends its epoch: the op above it naming it as parent), and
// that no op is of an epoch newer than ours. (An entry above the change that does not chain
// to it may be a stale one a recovery kept as faulty, of unknown identity.)
func (r *Replica) epochInvariant() {
	for op := r.op; op > max(r.commitMin, r.op-min(r.op, 8)); op-- {
		h := r.log.headerOf(op)
		if h == nil {
			continue
		}
		assert.That(h.Epoch <= r.epoch, "log holds an op of a newer epoch than the replica's")
		if h.Operation != OperationReconfigure || h.Epoch != r.epoch {
			continue
		}
		next := r.log.headerOf(op + 1)
		assert.That(next == nil || next.Parent != h.Checksum || next.Epoch != r.epoch,
			"an op follows the change that ends its epoch")
	}
}

func (r *Replica) primaryInvariants() {
	for i, p := range r.pipeline {
		assert.That(p.op == r.commitMax+uint64(i)+1, "pipeline holds exactly the uncommitted ops, in order")
	}
	if len(r.pipeline) > 0 {
		assert.That(r.pipeline[len(r.pipeline)-1].op == r.op, "pipeline ends at op_number")
	} else {
		assert.That(r.commitMax == r.op, "empty pipeline with uncommitted ops")
	}
}

// chainInvariant checks the hash chain where the log holds consecutive headers near its
// head: each prepare names its predecessor's checksum.
func (r *Replica) chainInvariant() {
	low := max(r.checkpointOp+1, r.op-min(r.op, 8))
	h := r.log.headerOf(r.op)
	for op := r.op; op > low; op-- {
		prev := r.log.headerOf(op - 1) // each header is looked up once: prev is the next link's h
		if h != nil && prev != nil {
			if h.Parent != prev.Checksum || h.View < prev.View {
				// Formatted only on failure: the message names the ops a reader must find in
				// the trace.
				assert.Thatf(h.Parent == prev.Checksum, "log hash chain broken: op %d (view %d, checksum %016x) names parent %016x, but op %d is view %d's %016x",
					op, h.View, h.Checksum.Low64(), h.Parent.Low64(), op-1, prev.View, prev.Checksum.Low64())
				assert.Thatf(false, "log views go backwards along the chain: op %d of view %d above op %d of view %d",
					op, h.View, op-1, prev.View)
			}
		}
		h = prev
	}
}
