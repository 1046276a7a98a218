package invariants

import "vopr/cluster/vsr"

// NameCommitLeOp checks the ordering of a replica's op numbers at every inspection:
// checkpoint_op <= commit_min <= commit_number <= op_number (VRR 2012 §4: a replica never
// knows an op committed that is not in its log, and never executes past commit_number).
const NameCommitLeOp = "commit_le_op"

// commitLeOp is stateless: each inspection stands alone.
type commitLeOp struct{}

func (commitLeOp) inspect(atNs int64, replica int, in *vsr.Inspection) *Violation {
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
	}
	return nil
}
