package vsr

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/kv"
)

// clientBus records what a replica sends to clients.
type clientBus struct {
	reviewBus
	toClients []Message
	clients   []uint64
}

func (b *clientBus) SendToClient(client uint64, msg []byte) {
	m, err := Decode(msg, reviewCluster)
	require.NoError(b.t, err)
	b.toClients, b.clients = append(b.toClients, m), append(b.clients, client)
}

// TestBatchEvictionsNameOnlySessionsGone: a batch of registers (stale duplicates among
// them, delayed by the network and taken by a primary while the client had no session) can
// open a client's session, evict it and open it again within one op, under the same name
// (the op). The eviction sent midway named the session the client then held, with the
// reply to its register: the client took it and gave up a live session (swarm seed
// 2042000048, client_sessions: "told ... that its session 39 was evicted, but the committed
// history still holds it"). Only a session the table no longer holds once the whole batch
// has run is reported evicted.
func TestBatchEvictionsNameOnlySessionsGone(t *testing.T) {
	r, _, _ := reviewReplica(t, 0, 0, 0, nil, 0)
	bus := &clientBus{reviewBus: reviewBus{t: t}}
	r.bus = bus
	r.clients = newClientTable(2)
	r.clients.register(3, 5)
	r.clients.register(4, 6)
	// Client 1 opens, client 2 opens, client 5 evicts client 1 (the oldest: session 10, the
	// lowest id), client 1's newer register opens session 10 again and evicts client 2.
	entries := []batchEntry{{Client: 1, Request: 1, Operation: OperationRegister},
		{Client: 2, Request: 1, Operation: OperationRegister}, {Client: 5, Request: 1, Operation: OperationRegister},
		{Client: 1, Request: 2, Operation: OperationRegister}}
	m, err := Decode(Encode(Header{Command: CommandPrepare, Cluster: reviewCluster, Op: 10, Release: kv.ReleaseBase},
		encodeBatch(entries)), reviewCluster)
	require.NoError(t, err)
	r.commitMin, r.commitMax, r.op = 9, 10, 10
	r.execute(m)

	require.Equal(t, uint64(10), r.clients.get(1).registered)
	require.Equal(t, uint32(2), r.clients.get(1).request)
	require.Nil(t, r.clients.get(2))
	evicted := map[[2]uint64]bool{}
	for i, sent := range bus.toClients {
		if sent.Header.Command == CommandEviction {
			evicted[[2]uint64{bus.clients[i], sent.Header.Commit}] = true
		}
	}
	require.Equal(t, map[[2]uint64]bool{{3, 5}: true, {4, 6}: true, {2, 10}: true}, evicted,
		"the evictions sent (client, session): client 1 holds session 10 after the op")
}
