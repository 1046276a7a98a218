package invariants

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/kv"
	"vopr/cluster/vsr"
)

// answer feeds the Suite client 1's reply to request at op, with result.
func answer(s *Suite, request uint32, op uint64, result kv.Result) {
	h := vsr.Header{Command: vsr.CommandReply, Operation: vsr.OperationKV, Client: 1, Request: request, Op: op, Commit: 1}
	s.OnClientAnswer(20*ms, 1, 1, 1, h, kv.EncodeResult(result))
}

func kvEntry(request uint32, op kv.Op) entry {
	return entry{1, 1, request, vsr.OperationKV, kv.EncodeOp(op)}
}

var okResult = kv.Result{Status: kv.StatusOK}

// TestCommittedRepliesAcceptTheCommittedHistory: readsSuite's replies as the history ran
// them, a retry answered with its op's reply included, pass.
func TestCommittedRepliesAcceptTheCommittedHistory(t *testing.T) {
	s := readsSuite(t)
	answer(s, 4, 4, okResult)
	answer(s, 4, 4, okResult) // a retry, answered from the client table
	require.Nil(t, s.Violation())
	require.Equal(t, uint64(2), s.replies.checked)
}

func TestCommittedRepliesFire(t *testing.T) {
	register := entry{client: 1, request: 1, operation: vsr.OperationRegister}
	upgrade := entry{client: 0, request: 0, operation: vsr.OperationUpgrade,
		payload: binary.LittleEndian.AppendUint32(nil, kv.ReleaseDelete)}
	cases := map[string]struct {
		ops     [][]byte
		request uint32
		op      uint64
		result  kv.Result
		says    string
	}{
		// linearizable takes StatusFull wherever a write would create its key.
		"a new key refused with room in the map": {[][]byte{preparedBatch(1, register),
			preparedBatch(2, kvEntry(2, kv.Op{Kind: kv.KindPut, Key: "a", Value: "x"}))},
			2, 2, kv.Result{Status: kv.StatusFull}, `answered full, but the committed history's execution of it answers ok ""`},
		// linearizable takes a delete's StatusUnsupported at any time.
		"a delete refused after the upgrade committed": {[][]byte{preparedBatch(1, register),
			preparedBatch(2, kvEntry(2, kv.Op{Kind: kv.KindPut, Key: "a", Value: "x"})), preparedBatch(3, upgrade),
			preparedBatch(4, kvEntry(3, kv.Op{Kind: kv.KindDelete, Key: "a"}))},
			3, 4, kv.Result{Status: kv.StatusUnsupported}, "answered unsupported"},
		// Request 2 was given up on and ran after request 3: linearizable lets it, within
		// request 3's return; the history does not run it at all.
		"a client's requests run out of order": {[][]byte{preparedBatch(1, register),
			preparedBatch(2, kvEntry(3, kv.Op{Kind: kv.KindPut, Key: "a", Value: "y"}),
				kvEntry(2, kv.Op{Kind: kv.KindPut, Key: "a", Value: "x"})),
			preparedBatch(3, kvEntry(4, kv.Op{Kind: kv.KindGet, Key: "a"}))},
			4, 3, kv.Result{Status: kv.StatusOK, Value: "x"}, `answered ok "x", but the committed history's execution of it answers ok "y"`},
		// acked_survive would hold op 1 to the acknowledgement.
		"a reply naming another op": {[][]byte{preparedBatch(1, register),
			preparedBatch(2, kvEntry(2, kv.Op{Kind: kv.KindPut, Key: "a", Value: "x"}))},
			2, 1, okResult, "request 2 was answered as executed at op 1, but the committed history (to op 2) executed its request 2 last, at op 2"},
		"a reply to a request never run": {[][]byte{preparedBatch(1, register)},
			2, 1, okResult, "executed no key/value request of it"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			s := NewSuite(3)
			commitPrepared(s, c.ops)
			require.Nil(t, s.Violation())
			answer(s, c.request, c.op, c.result)
			require.NotNil(t, s.Violation())
			require.Equal(t, NameCommittedReplies, s.Violation().Checker)
			require.Contains(t, s.Violation().Message, c.says)
		})
	}
}

// After a failover rewinds the history the model is not the ground truth: nothing is checked.
func TestCommittedRepliesAfterAFailoverAreSkipped(t *testing.T) {
	s := readsSuite(t)
	s.OnFailover(20*ms, 2, 4)
	answer(s, 4, 4, kv.Result{Status: kv.StatusFull})
	require.Nil(t, s.Violation())
	require.Equal(t, uint64(1), s.replies.skipped)
}
