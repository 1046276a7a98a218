package vsr

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/checksum"
)

// TestLazyReplyEncodesAsRecorded checks that a reply a replica keeps unencoded (a backup's)
// is, when sent or checkpointed, the message Encode gave when it was recorded, and that the
// client table encodes (and sizes) the same either way, for a reply with a body and without.
func TestLazyReplyEncodesAsRecorded(t *testing.T) {
	h := sampleHeader()
	h.Command = CommandReply
	for _, body := range [][]byte{[]byte("result"), nil} {
		want := Encode(h, body)
		eager, lazy := newClientTable(4), newClientTable(4)
		eager.sessions[3] = &session{registered: 2, request: 9, reply: want}
		lazy.sessions[3] = &session{registered: 2, request: 9, replyHeader: h, replyBody: body, replyLazy: true}
		s := lazy.sessions[3]
		require.True(t, s.hasReply())
		require.Equal(t, len(want), s.replySize())
		require.Equal(t, eager.encodedSize(), lazy.encodedSize())
		require.Equal(t, eager.encode(), lazy.encode())
		require.Equal(t, want, s.replyMessage())
		require.False(t, s.replyLazy, "encoded once, then kept")
		require.Equal(t, want, s.replyMessage())
	}
	require.False(t, (&session{registered: 1}).hasReply())
	require.Nil(t, (&session{registered: 1}).replyMessage())
}

// replyBus keeps the replies a replica sends to clients.
type replyBus struct{ sent [][]byte }

func (b *replyBus) SendToReplica(int, []byte)         {}
func (b *replyBus) SendToClient(_ uint64, msg []byte) { b.sent = append(b.sent, msg) }

// TestReplyIsTheSameOnEveryReplica: the client table is replicated state, checkpointed and
// installed by state sync from any peer, so the reply an op leaves in it is the same bytes
// on every replica that executes the op, whatever that replica's index, view, epoch or
// binary release (it was stamped with the executing replica's own, and every replica's
// checkpoint differed). A reply sent, at once or to a retry, names the sender, in its view
// and configuration (the client finds the primary from it).
func TestReplyIsTheSameOnEveryReplica(t *testing.T) {
	prepare := Header{Cluster: 7, Command: CommandPrepare, Replica: 1, View: 4, Epoch: 2, Outside: 0b1000,
		Release: 3, Op: 90, Timestamp: 5555, Checksum: sum16(0xab)}
	register := batchEntry{Client: 11, Request: 1, Operation: OperationRegister}
	put := batchEntry{Client: 11, Session: 40, Request: 2, Operation: OperationKV}
	replicaIn := func(replica int, view, epoch, release uint32, outside uint16) (*Replica, *replyBus) {
		bus := &replyBus{}
		r := &Replica{cluster: 7, replica: replica, count: 4, view: view, epoch: epoch, outside: outside,
			status: StatusNormal, clients: newClientTable(4), bus: bus, options: Options{Release: release}}
		r.clients.register(11, 40)
		return r, bus
	}
	// The primary of a later view that commits the op (view 7's primary is slot 1, as view
	// 4's: three members take turns), a backup in a later epoch on a newer binary, and a
	// backup still in the prepare's view.
	primary, primaryBus := replicaIn(1, 7, 2, 3, 0b1000)
	later, laterBus := replicaIn(2, 9, 3, 4, 0)
	behind, _ := replicaIn(0, 4, 2, 3, 0b1000)
	var tables [][]byte
	for _, r := range []*Replica{primary, later, behind} {
		r.recordReply(prepare, register, nil)
		r.recordReply(prepare, put, []byte("result"))
		tables = append(tables, r.clients.encode())
	}
	require.Equal(t, tables[0], tables[1], "the primary's and a later backup's client tables")
	require.Equal(t, tables[0], tables[2], "the primary's and a backup's client tables")

	stored, err := Decode(later.clients.get(11).replyMessage(), 7)
	require.NoError(t, err)
	require.Equal(t, prepare.Replica, stored.Header.Replica)
	require.Equal(t, prepare.View, stored.Header.View)
	require.Equal(t, uint64(40), stored.Header.Commit, "the reply names the session")

	// Sent, the reply names its sender: at once by the primary, in its view (later than the
	// prepare's) ...
	require.Len(t, primaryBus.sent, 2)
	sent, err := Decode(primaryBus.sent[1], 7)
	require.NoError(t, err)
	require.Equal(t, []byte("result"), sent.Body)
	require.Equal(t, uint8(1), sent.Header.Replica)
	require.Equal(t, uint32(7), sent.Header.View)
	// ... and to a retry by the backup, in its view, epoch and configuration, on its release.
	require.Empty(t, laterBus.sent)
	later.sendReply(11, later.clients.get(11))
	require.Len(t, laterBus.sent, 1)
	retried, err := Decode(laterBus.sent[0], 7)
	require.NoError(t, err)
	require.Equal(t, []byte("result"), retried.Body)
	require.Equal(t, uint8(2), retried.Header.Replica)
	require.Equal(t, uint32(9), retried.Header.View)
	require.Equal(t, uint32(3), retried.Header.Epoch)
	require.Equal(t, uint16(0), retried.Header.Outside)
	require.Equal(t, uint32(4), retried.Header.Release)
	require.Equal(t, stored.Header.Request, retried.Header.Request)
	require.Equal(t, stored.Header.Op, retried.Header.Op)
	require.Equal(t, tables[0], later.clients.encode(), "sending leaves the table as it was")
}

func sum16(b byte) (s checksum.Sum) {
	for i := range s {
		s[i] = b
	}
	return s
}
