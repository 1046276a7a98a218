package invariants

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/checksum"
	"vopr/cluster/kv"
	"vopr/cluster/vsr"
)

// entry is one request of a test batch.
type entry struct {
	client, session uint64
	request         uint32
	operation       vsr.Operation
	payload         []byte
}

// preparedBatch encodes a prepare of op holding entries, in the batch layout the checker
// reads (written out here, independently of the replica's encoder).
func preparedBatch(op uint64, entries ...entry) []byte {
	body := binary.LittleEndian.AppendUint16(nil, uint16(len(entries)))
	for _, e := range entries {
		body = binary.LittleEndian.AppendUint64(body, e.client)
		body = binary.LittleEndian.AppendUint64(body, e.session)
		body = binary.LittleEndian.AppendUint32(body, e.request)
		body = append(body, byte(e.operation))
		body = binary.LittleEndian.AppendUint32(body, uint32(len(e.payload)))
		body = append(body, e.payload...)
	}
	return vsr.Encode(vsr.Header{Cluster: 7, Command: vsr.CommandPrepare, Op: op}, body)
}

// commitPrepared feeds the executions of ops 1.. with their prepares by replica 0 and
// standby 4, and of ops 1..3 by standby 3.
func commitPrepared(s *Suite, ops [][]byte) {
	for i, p := range ops {
		op := uint64(i + 1)
		for _, replica := range []int{0, 3, 4} {
			if replica == 3 && op > 3 {
				continue
			}
			s.OnEvent(int64(op)*ms, vsr.Event{Kind: vsr.EventCommit, Replica: replica, Op: op,
				Checksum: checksum.Sum(p[:16]), Prepare: p, Timestamp: int64(op) * ms})
		}
	}
}

func putEntry(client, session uint64, request uint32, key, value string) entry {
	return entry{client, session, request, vsr.OperationKV, kv.EncodeOp(kv.Op{Kind: kv.KindPut, Key: key, Value: value})}
}

// readsSuite commits: op 1 registers client 1 (session 1), op 2 puts a=x, op 3 puts a=y and
// a duplicate of op 2's request (not executed again), op 4 appends to a.
func readsSuite(t *testing.T) *Suite {
	s := NewSuite(3)
	ops := [][]byte{
		preparedBatch(1, entry{client: 1, request: 1, operation: vsr.OperationRegister}),
		preparedBatch(2, putEntry(1, 1, 2, "a", "x")),
		preparedBatch(3, putEntry(1, 1, 3, "a", "y"), putEntry(1, 1, 2, "a", "x")),
		preparedBatch(4, entry{1, 1, 4, vsr.OperationKV, kv.EncodeOp(kv.Op{Kind: kv.KindAppend, Key: "a", Value: "z"})}),
	}
	commitPrepared(s, ops)
	require.Nil(t, s.Violation())
	return s
}

func read(standby int, op uint64, status kv.Status, value string) StandbyRead {
	return StandbyRead{Client: 2, Standby: standby, Key: "a", Op: op, Result: kv.Result{Status: status, Value: value}}
}

func TestStandbyReadsAcceptTheCommittedState(t *testing.T) {
	s := readsSuite(t)
	for _, r := range []StandbyRead{
		read(3, 1, kv.StatusNotFound, ""),
		read(3, 2, kv.StatusOK, "x"),
		read(3, 3, kv.StatusOK, "y"),      // the duplicate in op 3 ran once
		read(4, 1, kv.StatusNotFound, ""), // another standby may be further behind
		read(4, 4, kv.StatusOK, "yz"),
	} {
		s.OnStandbyRead(10*ms, r)
		require.Nil(t, s.Violation(), "%+v", r)
	}
	require.Equal(t, uint64(5), s.reads.checked)
}

func TestStandbyReadsFire(t *testing.T) {
	cases := map[string]struct {
		reads []StandbyRead
		op    uint64
		says  string
	}{
		"value of another op": {[]StandbyRead{read(3, 2, kv.StatusOK, "y")}, 2, `holds ok "x"`},
		"absent key present":  {[]StandbyRead{read(3, 1, kv.StatusOK, "x")}, 1, "not_found"},
		"past its commit":     {[]StandbyRead{read(3, 4, kv.StatusOK, "yz")}, 4, "past the highest op it ever executed, 3"},
		"reads went back": {[]StandbyRead{read(3, 3, kv.StatusOK, "y"), read(3, 2, kv.StatusOK, "x")},
			2, "reads went back"},
		"duplicate ran twice": {[]StandbyRead{read(3, 3, kv.StatusOK, "x")}, 3, `holds ok "y"`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			s := readsSuite(t)
			for _, r := range c.reads {
				s.OnStandbyRead(10*ms, r)
			}
			requireViolation(t, s.Violation(), NameStandbyReads, 3, c.op, 0, 10*ms)
			require.Contains(t, s.Violation().Error(), c.says)
		})
	}
}

// A registration into a full client table evicts the oldest session; its requests no longer
// run (the model follows the table's rule).
func TestStandbyReadsModelEviction(t *testing.T) {
	s := NewSuite(3)
	s.SetClientTable(1)
	ops := [][]byte{
		preparedBatch(1, entry{client: 1, request: 1, operation: vsr.OperationRegister}),
		preparedBatch(2, entry{client: 2, request: 1, operation: vsr.OperationRegister}),
		preparedBatch(3, putEntry(1, 1, 2, "a", "evicted")),
		preparedBatch(4, putEntry(2, 2, 2, "a", "kept")),
	}
	commitPrepared(s, ops)
	s.OnStandbyRead(10*ms, read(3, 3, kv.StatusNotFound, ""))
	s.OnStandbyRead(10*ms, read(4, 4, kv.StatusOK, "kept"))
	require.Nil(t, s.Violation())
}

// Two appends to one key in one op both take effect, the second on the first's result (the
// model once read the state before the op for each entry and kept only the last append).
func TestStandbyReadsModelSeveralEntriesOnOneKey(t *testing.T) {
	s := NewSuite(3)
	appendEntry := func(request uint32, value string) entry {
		return entry{1, 1, request, vsr.OperationKV, kv.EncodeOp(kv.Op{Kind: kv.KindAppend, Key: "a", Value: value})}
	}
	commitPrepared(s, [][]byte{
		preparedBatch(1, entry{client: 1, request: 1, operation: vsr.OperationRegister}),
		preparedBatch(2, appendEntry(2, "x"), appendEntry(3, "y")),
	})
	s.OnStandbyRead(10*ms, read(4, 2, kv.StatusOK, "xy"))
	require.Nil(t, s.Violation())
}

// After a failover rewinds the history, reads served by the old configuration's standbys
// (delivered late) are not held to the rewound executors: they go unchecked.
func TestStandbyReadsAfterAFailoverAreUnchecked(t *testing.T) {
	s := readsSuite(t)
	s.OnFailover(20*ms, 2, 4)
	s.OnStandbyRead(21*ms, read(3, 4, kv.StatusOK, "yz"))
	require.Nil(t, s.Violation())
	require.Equal(t, uint64(1), s.reads.unchecked)
}
