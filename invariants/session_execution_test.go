package invariants

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/kv"
	"vopr/cluster/vsr"
)

// tableRow is a session of a client table as a checkpoint holds it, with the reply to its
// request: executed at op by operation (a key/value request's result).
type tableRow struct {
	client, registered uint64
	request            uint32
	op                 uint64
	operation          vsr.Operation
	result             kv.Result
}

func registered(client, session uint64, request uint32, op uint64) tableRow {
	return tableRow{client: client, registered: session, request: request, op: op, operation: vsr.OperationRegister}
}

func ran(client, session uint64, request uint32, op uint64, status kv.Status, value string) tableRow {
	return tableRow{client, session, request, op, vsr.OperationKV, kv.Result{Status: status, Value: value}}
}

// withTable replaces the empty client table that ends snapshot with rows, in the layout the
// checker reads (written out here, apart from the replica's encoder), in the order given.
func withTable(snapshot []byte, rows ...tableRow) []byte {
	le := binary.LittleEndian
	b := le.AppendUint32(append([]byte(nil), snapshot[:len(snapshot)-4]...), uint32(len(rows)))
	for _, r := range rows {
		var body []byte
		if r.operation == vsr.OperationKV {
			body = kv.EncodeResult(r.result)
		}
		reply := vsr.Encode(vsr.Header{Cluster: 7, Command: vsr.CommandReply, Client: r.client, Request: r.request,
			Op: r.op, Commit: r.registered, Operation: r.operation}, body)
		b = le.AppendUint32(le.AppendUint32(le.AppendUint64(le.AppendUint64(b, r.client), r.registered), r.request),
			uint32(len(reply)))
		b = append(b, reply...)
	}
	return b
}

func TestSessionExecutionAcceptsTheCommittedTable(t *testing.T) {
	s := readsSuite(t)
	// Op 3 holds the duplicate of request 2 after request 3: it ran once, at op 2.
	s.OnCheckpointHeld(10*ms, 0, 2, withTable(stateSnapshot(kv.ReleaseBase, "a", "x"), ran(1, 1, 2, 2, kv.StatusOK, "")))
	s.OnCheckpointHeld(10*ms, 0, 3, withTable(stateSnapshot(kv.ReleaseBase, "a", "y"), ran(1, 1, 3, 3, kv.StatusOK, "")))
	s.OnCheckpointHeld(10*ms, 0, 4, withTable(stateSnapshot(kv.ReleaseBase, "a", "yz"), ran(1, 1, 4, 4, kv.StatusOK, "")))
	require.Nil(t, s.Violation())
	require.Equal(t, uint64(3), s.executions.checked)
}

// evictionSuite runs a history with a client table of two: client 1's session (op 1) is
// evicted by client 3's registration (op 4), and a stale duplicate of its first register
// re-creates a session of it at op 5 (evicting client 2's), below the request it last ran.
// Its request 3, prepared again by a primary that had not executed op 2 yet, commits at
// op 6 under its first session: it must not run (the session is gone).
func evictionSuite(t *testing.T) *Suite {
	s := NewSuite(3)
	s.SetClientTable(2)
	appendZ := kv.EncodeOp(kv.Op{Kind: kv.KindAppend, Key: "a", Value: "z"})
	commitPrepared(s, [][]byte{
		preparedBatch(1, entry{client: 1, request: 1, operation: vsr.OperationRegister}),
		preparedBatch(2, entry{1, 1, 3, vsr.OperationKV, appendZ}),
		preparedBatch(3, entry{client: 2, request: 1, operation: vsr.OperationRegister}),
		preparedBatch(4, entry{client: 3, request: 1, operation: vsr.OperationRegister}),
		preparedBatch(5, entry{client: 1, request: 1, operation: vsr.OperationRegister}),
		preparedBatch(6, entry{1, 1, 3, vsr.OperationKV, appendZ}),
	})
	require.Nil(t, s.Violation())
	return s
}

func TestSessionExecutionFollowsEvictionsAndStaleRegisters(t *testing.T) {
	s := evictionSuite(t)
	s.OnCheckpointHeld(10*ms, 0, 6, withTable(stateSnapshot(kv.ReleaseBase, "a", "z"),
		registered(1, 5, 1, 5), registered(3, 4, 1, 4)))
	require.Nil(t, s.Violation())
	require.Equal(t, uint64(1), s.executions.checked)
}

func TestSessionExecutionFires(t *testing.T) {
	cases := map[string]struct {
		op       uint64
		snapshot func() []byte
		says     string
	}{
		// The planted bug vsr.execute_ignores_session_mismatch: op 6 runs client 1's request
		// 3 again, under the session the stale register re-created (the state is left as
		// the history's, as by a write of the value the key holds: checkpoint_content's
		// business otherwise).
		"a request run under a session other than its own": {6, func() []byte {
			return withTable(stateSnapshot(kv.ReleaseBase, "a", "z"), ran(1, 5, 3, 6, kv.StatusOK, ""), registered(3, 4, 1, 4))
		}, "holds client 1's session 5 at request 3, but the history executed its request 1 last (at op 5)"},
		"the reply of another op": {6, func() []byte {
			return withTable(stateSnapshot(kv.ReleaseBase, "a", "z"), registered(1, 5, 1, 5), ran(3, 4, 1, 6, kv.StatusOK, ""))
		}, "holds client 3's request 1 (session 4) as executed at op 6"},
		"an evicted session kept": {4, func() []byte {
			return withTable(stateSnapshot(kv.ReleaseBase, "a", "z"), ran(1, 1, 3, 2, kv.StatusOK, ""), registered(3, 4, 1, 4))
		}, "holds session 1 of client 1 at request 3, but the history holds no session of it there"},
		"a session left out": {4, func() []byte {
			return withTable(stateSnapshot(kv.ReleaseBase, "a", "z"), registered(3, 4, 1, 4))
		}, "holds 1 sessions, but the history holds 2 there (client 2 session 3, client 3 session 4)"},
		"another result": {2, func() []byte {
			return withTable(stateSnapshot(kv.ReleaseBase, "a", "z"), ran(1, 1, 3, 2, kv.StatusNotFound, ""))
		}, "holds client 1's request 3 at op 2 with a result other than the history's"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			s := evictionSuite(t)
			s.OnCheckpointHeld(10*ms, 0, c.op, c.snapshot())
			requireViolation(t, s.Violation(), NameSessionExecution, 0, c.op, 0, 10*ms)
			require.Contains(t, s.Violation().Message, c.says)
		})
	}
}

// A duplicate in its own session (op 3 holds request 2 again, after request 3) run again.
func TestSessionExecutionFiresOnARequestRunTwice(t *testing.T) {
	s := readsSuite(t)
	s.OnCheckpointHeld(10*ms, 1, 3, withTable(stateSnapshot(kv.ReleaseBase, "a", "y"), ran(1, 1, 2, 3, kv.StatusOK, "")))
	requireViolation(t, s.Violation(), NameSessionExecution, 1, 3, 0, 10*ms)
	require.Contains(t, s.Violation().Message, "holds client 1's session 1 at request 2, but the history executed its request 3 last (at op 3)")
}

// The journal that rebuilds an older op's table forgets the oldest changes: an op behind
// them is skipped, not judged against the wrong table.
func TestSessionExecutionSkipsAnOpThePastNoLongerReaches(t *testing.T) {
	m := &kvShadow{capacity: 2}
	m.sessions, m.opened = map[uint64]*shadowSession{}, map[[2]uint64]bool{}
	for op := uint64(1); op <= 2*undoKept; op++ {
		require.NoError(t, m.entry(op, op%3+1, 0, uint32(op), vsr.OperationRegister, nil))
	}
	_, ok := m.sessionsAt(1)
	require.False(t, ok)
	table, ok := m.sessionsAt(2*undoKept - 1)
	require.True(t, ok)
	require.Len(t, table, 2)
}
