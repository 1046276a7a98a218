package client

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
)

// reply and eviction build the replica's messages to client 7 of cluster 1.
func reply(request uint32, session uint64) []byte {
	return vsr.Encode(vsr.Header{Cluster: 1, Client: 7, Command: vsr.CommandReply, Request: request,
		Commit: session}, nil)
}

func eviction(session uint64) []byte {
	return vsr.Encode(vsr.Header{Cluster: 1, Client: 7, Command: vsr.CommandEviction, Commit: session}, nil)
}

// TestEvictionOnlyOfTheCurrentSession: an eviction naming an older session (late, or sent
// for a retry of a request of that session) neither aborts a registration in flight nor ends
// the session it opened; one naming the current session ends it and fails the request in
// flight as Evicted (swarm seed 20264316: stale evictions kept aborting fresh registrations,
// and with more clients than sessions nothing committed).
func TestEvictionOnlyOfTheCurrentSession(t *testing.T) {
	c := New(Options{ID: 7, Cluster: 1, ReplicaCount: 3, Send: func(int, []byte) {}})
	require.False(t, c.Submit([]byte("op"), nil), "the first submit registers")
	c.Receive(eviction(5)) // for the session before this one
	require.True(t, c.Busy(), "a stale eviction aborted the registration")
	c.Receive(reply(1, 40))
	require.True(t, c.Registered())

	var results []Result
	require.True(t, c.Submit([]byte("op"), func(r Result) { results = append(results, r) }))
	c.Receive(eviction(5))
	require.True(t, c.Registered(), "an eviction of an older session ended the current one")
	require.Empty(t, results)
	c.Receive(eviction(40))
	require.False(t, c.Registered())
	require.Equal(t, []Result{{Outcome: Evicted}}, results)
}
