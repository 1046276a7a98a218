package invariants

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/checksum"
	"vopr/cluster/vsr"
)

// sum returns a distinct checksum per name, as a prepare's header checksum.
func sum(name string) checksum.Sum { return checksum.Of([]byte(name)) }

const (
	ms  = int64(1_000_000)
	sec = 1000 * ms
)

// normal is an inspection of a replica in normal status; fields not given are consistent.
func normal(replica int, role vsr.Role, view uint32, op, commit uint64) vsr.Inspection {
	return vsr.Inspection{Replica: replica, Status: vsr.StatusNormal, Role: role, View: view, LogView: view,
		Op: op, CommitMin: commit, CommitMax: commit, Digest: sum(fmt.Sprintf("state@%d", commit))}
}

// ref is a pointer to a copy of in: the checkers' inspect methods take the inspection by
// reference.
func ref(in vsr.Inspection) *vsr.Inspection { return &in }

// commitEvent is the execution of prepare (named, and with bytes, by its name) at op; its
// timestamps rise with op.
func commitEvent(replica int, view uint32, op uint64, prepare string) vsr.Event {
	return vsr.Event{Kind: vsr.EventCommit, Replica: replica, View: view, Op: op, Checksum: sum(prepare),
		Prepare: []byte(prepare), Timestamp: int64(op) * ms}
}

// commitRange feeds commit events of ops from..to ("p<op>" prepares) for replica.
func commitRange(s *Suite, atNs int64, replica int, view uint32, from, to uint64) {
	for op := from; op <= to; op++ {
		s.OnEvent(atNs, commitEvent(replica, view, op, fmt.Sprintf("p%d", op)))
	}
}

// requireViolation checks a violation's fields and that its message names the replica, op,
// view and time.
func requireViolation(t *testing.T, v *Violation, checker string, replica int, op uint64, view uint32, atNs int64) {
	t.Helper()
	require.NotNil(t, v, "expected a %s violation", checker)
	require.Equal(t, checker, v.Checker, v.Error())
	require.Equal(t, replica, v.Replica, v.Error())
	require.Equal(t, op, v.Op, v.Error())
	require.Equal(t, view, v.View, v.Error())
	require.Equal(t, atNs, v.AtNs, v.Error())
	msg := v.Error()
	require.Contains(t, msg, "invariant "+checker)
	if replica >= 0 {
		require.Contains(t, msg, fmt.Sprintf("replica %d,", replica))
	} else {
		require.Contains(t, msg, "no replica,")
	}
	require.Contains(t, msg, fmt.Sprintf("op %d,", op))
	require.Contains(t, msg, fmt.Sprintf("view %d,", view))
	require.Contains(t, msg, fmt.Sprintf("at %s (tick %d)", formatNs(atNs), atNs/tickNs))
	t.Log(msg)
}
