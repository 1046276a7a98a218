package invariants

import "vopr/cluster/vsr"

// NameCommitLeOp checks the ordering of a replica's op numbers at every inspection:
// checkpoint_op <= commit_min <= commit_number <= op_number (VRR 2012 §4: a replica never
// knows an op committed that is not in its log, and never executes past commit_number).
//
// It also holds a primary to its prepare window (vsr.PrepareAheadMax: "bounds how far past
// its checkpoint a primary may prepare, so the log window never wraps over ops that are not
// yet checkpointed"): an op a normal primary prepares in its view is at most checkpoint_op +
// PrepareAheadMax. The bound is the primary's, on the ops it creates: a backup accepts
// prepares further ahead of its own checkpoint (up to LogSlotsMax - CheckpointInterval past
// it, when its checkpoint lags the primary's), a new primary may inherit such a log from its
// view change, and a recovered log may hold more, so op_number alone is not held to it. What
// the check sees of the prepares is op_number rising between two inspections of a replica
// that was the normal primary of the same epoch and view at both (no restart between): every
// op in between is one it prepared. Its checkpoint then is the one at the second inspection,
// as high as at any of those prepares, so the check never blames a prepare in the window.
const NameCommitLeOp = "commit_le_op"

// commitLeOp holds, per replica, what the last inspection saw of it as a normal primary; the
// ordering rules are stateless.
type commitLeOp struct {
	primaries []primaryWindow
	// windowChecked counts inspections of a primary whose op rose since the last one;
	// windowFull those where it stood at the window's end (checkpoint_op + PrepareAheadMax).
	windowChecked, windowFull uint64
}

// primaryWindow is a replica's last inspection as the normal primary of epoch and view, op its
// op_number then (valid false: it was not one, or it restarted since).
type primaryWindow struct {
	valid bool
	epoch uint32
	view  uint32
	op    uint64
}

// crash forgets the replica's last inspection: a restart recovers a log it did not prepare.
func (c *commitLeOp) crash(replica int) {
	if replica < len(c.primaries) {
		c.primaries[replica].valid = false
	}
}

func (c *commitLeOp) inspect(atNs int64, replica int, in *vsr.Inspection) *Violation {
	if v := c.ordering(atNs, replica, in); v != nil {
		return v
	}
	return c.window(atNs, replica, in)
}

// window holds the ops a normal primary prepared since its last inspection to its window.
func (c *commitLeOp) window(atNs int64, replica int, in *vsr.Inspection) *Violation {
	for len(c.primaries) <= replica {
		c.primaries = append(c.primaries, primaryWindow{})
	}
	w := &c.primaries[replica]
	if in.Status != vsr.StatusNormal || in.Role != vsr.RolePrimary {
		w.valid = false
		return nil
	}
	last := *w
	*w = primaryWindow{valid: true, epoch: in.Epoch, view: in.View, op: in.Op}
	if !last.valid || last.epoch != in.Epoch || last.view != in.View || in.Op <= last.op {
		return nil
	}
	c.windowChecked++
	if in.Op == in.CheckpointOp+vsr.PrepareAheadMax {
		c.windowFull++
	}
	if in.Op <= in.CheckpointOp+vsr.PrepareAheadMax {
		return nil
	}
	return violation(NameCommitLeOp, replica, in.Op, in.View, atNs,
		"primary prepared op %d (op_number %d at its last inspection in this view), past its prepare window: "+
			"checkpoint_op %d + PrepareAheadMax %d = %d (normal primary, epoch %d)", in.Op, last.op, in.CheckpointOp,
		vsr.PrepareAheadMax, in.CheckpointOp+vsr.PrepareAheadMax, in.Epoch)
}

// ordering checks checkpoint_op <= commit_min <= commit_number <= op_number, and that
// execution never passes a checkpoint op (a multiple of vsr.CheckpointInterval) above
// checkpoint_op: the checkpoint of that op is written, and durable, before execution goes on
// (replica_commit.go: "a checkpoint is exactly the state after its op"), a failed write
// retried until it lands. A replica that went on executing past a checkpoint whose write
// failed keeps its older checkpoint, and with it a log window and prepare window an interval
// behind, until the next checkpoint op. commit_min may itself stand past that op when it is
// a checkpoint op: a state sync sets it to the installed snapshot's op before the install is
// durable, and nothing executes above it until then.
func (commitLeOp) ordering(atNs int64, replica int, in *vsr.Inspection) *Violation {
	if !running(in.Status) {
		return nil
	}
	fail := func(op uint64, format string, args ...any) *Violation {
		v := violation(NameCommitLeOp, replica, op, in.View, atNs, format, args...)
		v.Message += " (" + in.Status.String() + " " + in.Role.String() + ")"
		return v
	}
	switch {
	case in.CommitMax > in.Op:
		return fail(in.CommitMax, "commit_number %d exceeds op_number %d", in.CommitMax, in.Op)
	case in.CommitMin > in.CommitMax:
		return fail(in.CommitMin, "commit_min %d exceeds commit_number %d", in.CommitMin, in.CommitMax)
	case in.CheckpointOp > in.CommitMin:
		return fail(in.CheckpointOp, "checkpoint_op %d exceeds commit_min %d", in.CheckpointOp, in.CommitMin)
	case in.CommitMin%vsr.CheckpointInterval != 0 && in.CommitMin > nextCheckpointOp(in.CheckpointOp):
		return fail(in.CommitMin, "commit_min %d passed checkpoint op %d with checkpoint_op %d: "+
			"execution went on without that checkpoint", in.CommitMin, nextCheckpointOp(in.CheckpointOp), in.CheckpointOp)
	}
	return nil
}

// nextCheckpointOp is the first checkpoint op (a multiple of vsr.CheckpointInterval) above op.
func nextCheckpointOp(op uint64) uint64 {
	return (op/vsr.CheckpointInterval + 1) * vsr.CheckpointInterval
}
