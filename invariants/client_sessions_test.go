package invariants

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
)

// sessionsAt returns the checker over a model whose committed history registered client 7 at
// op 5 and then, through a register retried under a new request number, ran op 9 for it.
func sessionsAt() *clientSessions {
	m := &kvShadow{applied: 9, sessions: map[uint64]*shadowSession{7: {registered: 5, request: 2}},
		opened: map[[2]uint64]bool{{7, 3}: true, {7, 5}: true}}
	return &clientSessions{model: m}
}

// TestClientSessionsFiresOnTheWrongSession: a client that takes the op of the reply to its
// retried register for its session is caught; one that takes the session the reply names is
// not.
func TestClientSessionsFiresOnTheWrongSession(t *testing.T) {
	reply := vsr.Header{Command: vsr.CommandReply, Operation: vsr.OperationRegister, Client: 7, Op: 9, Commit: 5}
	c := sessionsAt()
	require.Nil(t, c.answer(1, 7, 0, 5, reply))
	require.Nil(t, c.answer(1, 7, 0, 3, reply), "a session since evicted, named by a late reply")
	v := c.answer(2, 7, 0, 9, reply)
	require.NotNil(t, v)
	require.Equal(t, NameClientSessions, v.Checker)
	require.Contains(t, v.Message, "client 7 took session 9 from the reply to its register (op 9)")
	require.Contains(t, v.Message, "opened no session of it there; it holds its session 5")

	c.model.rewound = true
	require.Nil(t, c.answer(3, 7, 0, 9, reply), "a rewound history is not the ground truth")
	require.Equal(t, uint64(1), c.skipped)
}

// TestClientSessionsFiresOnAnOlderSessionsEviction: a client that gives up its session on an
// eviction of an older one is caught; an eviction of its own session, or a reply to a request
// (the session unchanged), is not.
func TestClientSessionsFiresOnAnOlderSessionsEviction(t *testing.T) {
	c := sessionsAt()
	c.model.sessions[7].executedIn = [2]uint32{0, 1} // the evictions come from an older view
	evict := func(session uint64) vsr.Header {
		return vsr.Header{Command: vsr.CommandEviction, Client: 7, Commit: session}
	}
	require.Nil(t, c.answer(1, 7, 5, 0, evict(5)))
	require.Nil(t, c.answer(1, 7, 5, 5, vsr.Header{Command: vsr.CommandReply, Operation: vsr.OperationKV, Op: 11}))
	v := c.answer(2, 7, 5, 0, evict(2))
	require.NotNil(t, v)
	require.Contains(t, v.Message, "client 7 gave up its session 5 on an eviction naming session 2")
	require.Contains(t, v.Message, "still holds it")
	require.Equal(t, uint64(2), c.checked)
}

// TestClientSessionsFiresOnASpuriousEviction: a client told its session was evicted while the
// committed history still holds it (no registration evicted it) is caught when the eviction
// comes from a primary of the view that executed the register or a later one; one from an
// older view (a deposed primary that never learnt of the register) is not held against the
// cluster, nor is an eviction the history made (the table full, the oldest session gone).
func TestClientSessionsFiresOnASpuriousEviction(t *testing.T) {
	c := sessionsAt()
	c.model.sessions[7].executedIn = [2]uint32{1, 4}
	evict := func(view uint32) vsr.Header {
		return vsr.Header{Command: vsr.CommandEviction, Client: 7, Commit: 5, Replica: 2, Epoch: 1, View: view}
	}
	require.Nil(t, c.answer(1, 7, 5, 0, evict(3)), "a deposed primary of an older view")
	require.Equal(t, uint64(1), c.stale)
	v := c.answer(2, 7, 5, 0, evict(4))
	require.NotNil(t, v)
	require.Equal(t, NameClientSessions, v.Checker)
	require.Contains(t, v.Message, "client 7 was told by replica 2 (epoch 1 view 4) that its session 5 was evicted")
	require.Contains(t, v.Message, "still holds it")
	require.NotNil(t, c.answer(3, 7, 5, 0, evict(9)), "a later view's primary holds the register too")

	// The history's own eviction: with a table of one session, client 8's register evicts
	// client 7's, and the eviction that follows is the cluster keeping its word.
	m := &kvShadow{capacity: 1}
	register := registerBatch
	m.commit(1, register(7), 1, 4)
	c = &clientSessions{model: m}
	require.NotNil(t, c.answer(4, 7, 1, 0, vsr.Header{Command: vsr.CommandEviction, Client: 7, Commit: 1, Epoch: 1, View: 4}))
	m.commit(2, register(8), 1, 5)
	require.Nil(t, c.answer(5, 7, 1, 0, vsr.Header{Command: vsr.CommandEviction, Client: 7, Commit: 1, Epoch: 1, View: 5}))
	require.Nil(t, c.model.sessions[7], "client 8's register evicted client 7's session")
}

// TestClientSessionsFiresOnAnEvictionNamingAnotherSession: every eviction a replica sends,
// whether or not it ends a request, names a session a register of that client opened. A
// primary whose register of client 8 (op 2) evicts client 7's session (op 1) and names the
// register's own op instead is caught as it sends; the eviction naming session 1, and one
// answering a request under client 7's evicted session, are not.
func TestClientSessionsFiresOnAnEvictionNamingAnotherSession(t *testing.T) {
	m := &kvShadow{capacity: 1}
	register := registerBatch
	c := &clientSessions{model: m}
	evict := func(session uint64) vsr.Header { return evictionFrom1(7, session) }
	require.Nil(t, c.sent(1, 1, evict(2)), "nothing committed yet: not checked")
	require.Equal(t, uint64(1), c.evictionsSkipped)
	m.commit(1, register(7), 1, 4)
	m.commit(2, register(8), 1, 5)
	require.Nil(t, c.sent(2, 1, evict(1)), "the session the model's table evicted at op 2")
	require.Nil(t, c.sent(3, 1, evict(1)), "again, answering a request under the evicted session")
	v := c.sent(4, 1, evict(2))
	require.NotNil(t, v)
	require.Equal(t, NameClientSessions, v.Checker)
	require.Equal(t, 1, v.Replica)
	require.Contains(t, v.Message, "replica 1 (epoch 1 view 5) sent client 7 an eviction naming session 2")
	require.Contains(t, v.Message, "opened no session of that client at op 2; its table holds no session of it")
	require.Equal(t, uint64(3), c.evictionsChecked)

	m.rewound = true
	require.Nil(t, c.sent(5, 1, evict(2)), "a rewound history is not the ground truth")
}

// An eviction sent while its primary executes the register that evicted names an op the
// model has not applied yet (swarm seed 2042000048): it is held and judged once the model
// reaches that op, right or wrong.
func TestClientSessionsJudgesAnEarlyEvictionLater(t *testing.T) {
	m := &kvShadow{capacity: 1}
	register := registerBatch
	c := &clientSessions{model: m}
	evict := evictionFrom1
	m.commit(1, register(7), 1, 4)
	require.Nil(t, c.sent(1, 1, evict(7, 1)), "op 1 opened client 7's session")
	// Op 2 registers client 8 and evicts client 7's session 1; op 3 registers client 7
	// again. A replica executing op 3 names session 3 to client 8... wrongly, and session 1
	// to client 7 rightly, before the model has them.
	require.Nil(t, c.sent(2, 1, evict(8, 3)), "op 3 not applied yet: held")
	require.Nil(t, c.sent(2, 1, evict(7, 1)), "applied: judged at once")
	require.Len(t, c.early, 1)
	m.commit(2, register(8), 1, 5)
	m.commit(3, register(7), 1, 6)
	v := c.sent(3, 1, evict(7, 1))
	require.NotNil(t, v, "the held eviction, judged once the model reached op 3")
	require.Contains(t, v.Message, "sent client 8 an eviction naming session 3")
	require.Empty(t, c.early)

	require.Nil(t, c.sent(4, 1, evict(7, 4)), "op 4 not applied yet: held")
	m.rewound = true
	require.Nil(t, c.sent(5, 1, evict(7, 1)), "a rewound history is not the ground truth")
	require.Empty(t, c.early, "held evictions dropped with the model")
}

// registerBatch is a prepare body: a batch of one register of client.
func registerBatch(client uint64) []byte {
	b := make([]byte, vsr.HeaderSize+2+25)
	b[vsr.HeaderSize] = 1
	e := b[vsr.HeaderSize+2:]
	binary.LittleEndian.PutUint64(e, client)
	binary.LittleEndian.PutUint32(e[16:], 1)
	e[20] = byte(vsr.OperationRegister)
	return b
}

// evictionFrom1 is an eviction replica 1 (epoch 1, view 5) sends client, naming session.
func evictionFrom1(client, session uint64) vsr.Header {
	return vsr.Header{Command: vsr.CommandEviction, Replica: 1, Client: client, Commit: session, Op: 0, Epoch: 1, View: 5}
}
