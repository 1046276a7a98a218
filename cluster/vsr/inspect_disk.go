package vsr

// DiskHeld is what a replica holds as read from, or written to, its own disk: the checkpoint
// its state machine stands on and the prepares its log marks durable. The harness compares
// it with what the simulated disk knows was written (storage truth): a replica that accepted
// bytes a fault altered holds something no one wrote.
type DiskHeld struct {
	// CheckpointOp is the op of the checkpoint; Checkpoint its snapshot as the replica holds
	// it (read at recovery, taken at a checkpoint, or received by state sync), nil if none.
	CheckpointOp uint64
	Checkpoint   []byte
	// Prepares are the whole prepare messages of the ops above the checkpoint that the log
	// holds as durable in the write-ahead log, in op order.
	Prepares []HeldPrepare
}

// HeldPrepare is one prepare a replica holds as durable.
type HeldPrepare struct {
	Op      uint64
	Prepare []byte
}

// InspectDisk returns copies of what the replica holds as durable on its disk. It changes
// nothing.
func (r *Replica) InspectDisk() DiskHeld {
	held := r.InspectCheckpoint()
	for op := r.checkpointOp + 1; op <= r.op; op++ {
		s := r.log.slotOf(op)
		if !s.present || s.header.Op != op || s.prepare == nil || !s.durable {
			continue
		}
		held.Prepares = append(held.Prepares, HeldPrepare{Op: op, Prepare: append([]byte(nil), s.prepare...)})
	}
	return held
}

// DurableLog returns the replica's op (Inspection's Op), its checkpoint's op and how many
// prepares InspectDisk would return (those of the ops above the checkpoint that the log
// holds as durable), copying none: for a checker that waits, at every tick, for the log to
// hold every op as durable.
func (r *Replica) DurableLog() (op, checkpointOp uint64, durable int) {
	for o := r.checkpointOp + 1; o <= r.op; o++ {
		if s := r.log.slotOf(o); s.present && s.header.Op == o && s.prepare != nil && s.durable {
			durable++
		}
	}
	return r.op, r.checkpointOp, durable
}

// InspectCheckpoint is InspectDisk without the prepares (Prepares is nil): for checkers that
// read only the checkpoint, at every checkpoint, which copying the whole log's prepares as
// well made cost more than the check.
func (r *Replica) InspectCheckpoint() DiskHeld {
	held := DiskHeld{CheckpointOp: r.checkpointOp}
	if r.checkpointSnapshot != nil {
		held.Checkpoint = append([]byte(nil), r.checkpointSnapshot...)
	}
	return held
}
