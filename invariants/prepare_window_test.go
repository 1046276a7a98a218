package invariants

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
)

// primaryAt is a normal primary of view 3 at op, its checkpoint at checkpoint. Its commit
// number is op-1; it has executed up to the next checkpoint op at most (execution waits there
// for that checkpoint).
func primaryAt(op, checkpoint uint64) *vsr.Inspection {
	in := normal(0, vsr.RolePrimary, 3, op, op-1)
	in.CheckpointOp = checkpoint
	in.CommitMin = min(in.CommitMin, nextCheckpointOp(checkpoint))
	return ref(in)
}

// A primary fills its window up to checkpoint_op + PrepareAheadMax and no further; the op
// one past it (the mutant vsr.primary_prepares_one_past_window) fires, and so does a primary
// seen first in the window and then past it.
func TestCommitLeOpPrimaryWindow(t *testing.T) {
	const top = 64 + vsr.PrepareAheadMax
	var c commitLeOp
	require.Nil(t, c.inspect(10*ms, 0, primaryAt(top-3, 64)))
	require.Nil(t, c.inspect(20*ms, 0, primaryAt(top, 64)), "the window's last op")
	v := c.inspect(30*ms, 0, primaryAt(top+1, 64))
	requireViolation(t, v, NameCommitLeOp, 0, top+1, 3, 30*ms)
	require.Contains(t, v.Message, "primary prepared op 193 (op_number 192 at its last inspection in this view), "+
		"past its prepare window: checkpoint_op 64 + PrepareAheadMax 128 = 192")

	// A checkpoint that advanced since widens the window.
	c = commitLeOp{}
	require.Nil(t, c.inspect(10*ms, 0, primaryAt(top, 64)))
	require.Nil(t, c.inspect(20*ms, 0, primaryAt(top+5, 128)))
}

// The bound is on the ops a primary prepares, not on op_number: a backup takes prepares
// further past its own lagging checkpoint, a new primary may inherit such a log, and a
// restart recovers one; none of them is a prepare of its own.
func TestCommitLeOpPrimaryWindowOnlyItsOwnPrepares(t *testing.T) {
	const far = 64 + vsr.PrepareAheadMax + 40
	var c commitLeOp
	backup := normal(0, vsr.RoleBackup, 3, far, far-1)
	backup.CheckpointOp = 64
	backup.CommitMin = nextCheckpointOp(64)
	require.Nil(t, c.inspect(10*ms, 0, &backup), "a backup past its checkpoint's window")
	require.Nil(t, c.inspect(20*ms, 0, primaryAt(far, 64)), "the new primary inherits the log")
	require.Nil(t, c.inspect(30*ms, 0, primaryAt(far, 64)), "and prepares nothing")

	newView := primaryAt(far+1, 64)
	newView.View, newView.LogView = 4, 4
	require.Nil(t, c.inspect(40*ms, 0, newView), "first seen as the primary of another view")

	c.crash(0)
	require.Nil(t, c.inspect(50*ms, 0, primaryAt(far+2, 64)), "a restart: its log was recovered, not prepared")
	v := c.inspect(60*ms, 0, primaryAt(far+3, 64))
	requireViolation(t, v, NameCommitLeOp, 0, far+3, 3, 60*ms)

	// Another epoch is another primary's term.
	c = commitLeOp{}
	require.Nil(t, c.inspect(10*ms, 0, primaryAt(far, 64)))
	epoch := primaryAt(far+1, 64)
	epoch.Epoch = 1
	require.Nil(t, c.inspect(20*ms, 0, epoch))
}
