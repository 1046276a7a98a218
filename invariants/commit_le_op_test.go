package invariants

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
)

func TestCommitLeOpPassesConsistentReplicas(t *testing.T) {
	var c commitLeOp
	in := normal(1, vsr.RoleBackup, 2, 10, 7)
	in.CommitMin, in.CheckpointOp = 5, 4
	require.Nil(t, c.inspect(100*ms, 1, ref(in)))
	in.CommitMin, in.CommitMax, in.CheckpointOp = 10, 10, 10
	require.Nil(t, c.inspect(110*ms, 1, ref(in)))
	// Execution waits at a checkpoint op while its checkpoint is in flight; a state sync sets
	// commit_min to its snapshot's op (a checkpoint op) before the install is durable.
	in.Op, in.CommitMax, in.CommitMin, in.CheckpointOp = 200, 150, 128, 64
	require.Nil(t, c.inspect(112*ms, 1, ref(in)))
	in.CommitMin, in.CommitMax = 192, 192
	require.Nil(t, c.inspect(114*ms, 1, ref(in)))
	// Placeholders of a replica still reading its disk, or stopped halfway, are not state.
	require.Nil(t, c.inspect(120*ms, 2, &vsr.Inspection{Replica: 2, Status: vsr.StatusRecovering, CommitMax: 9}))
	require.Nil(t, c.inspect(130*ms, 2, &vsr.Inspection{Replica: 2, Status: vsr.StatusStopped, CommitMin: 9, CheckpointOp: 9}))
}

func TestCommitLeOpFires(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(in *vsr.Inspection)
		op     uint64
		text   string
	}{
		{"commit_past_op", func(in *vsr.Inspection) { in.CommitMax = 12 }, 12, "commit_number 12 exceeds op_number 10"},
		{"execute_past_commit", func(in *vsr.Inspection) { in.CommitMin = 8 }, 8, "commit_min 8 exceeds commit_number 7"},
		{"checkpoint_past_execution", func(in *vsr.Inspection) { in.CheckpointOp = 6 }, 6, "checkpoint_op 6 exceeds commit_min 5"},
		// h129: a checkpoint write that failed and was not retried (vsr.failed_checkpoint_not_retried).
		{"execute_past_checkpoint_op", func(in *vsr.Inspection) {
			in.Op, in.CommitMax, in.CommitMin, in.CheckpointOp = 80, 70, 65, 0
		}, 65, "commit_min 65 passed checkpoint op 64 with checkpoint_op 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c commitLeOp
			in := normal(2, vsr.RolePrimary, 4, 10, 7)
			in.CommitMin = 5
			tc.mutate(&in)
			in.Status = vsr.StatusViewChange
			v := c.inspect(1500*ms, 2, ref(in))
			requireViolation(t, v, NameCommitLeOp, 2, tc.op, 4, 1500*ms)
			require.Contains(t, v.Message, tc.text)
		})
	}
}
