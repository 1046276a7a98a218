package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
)

// attemptRequest is a client's request as it leaves the client.
func attemptRequest(cluster uint64, operation vsr.Operation, request uint32) []byte {
	return vsr.Encode(vsr.Header{Cluster: cluster, Client: 1, Request: request, Command: vsr.CommandRequest,
		Operation: operation}, nil)
}

// TestClientAttemptsFires: a request sent once more than the budget (the first send not
// counted), or reported indeterminate before the budget is spent, is a violation; a request
// sent exactly the budget's times and then given up on, a stale read within it, and a new
// request number starting its own count, are not.
func TestClientAttemptsFires(t *testing.T) {
	const cluster = 7
	a := newClientAttempts(cluster, 2, 3)
	for range 3 {
		require.Empty(t, a.onSend(0, attemptRequest(cluster, vsr.OperationKV, 5)))
	}
	require.Empty(t, a.onGiveUp(0), "three sends of a budget of three, then indeterminate")
	require.Equal(t, "client c1 sent request 6 4 times: a client gives a request at most AttemptsMax = 3 sends "+
		"(its first transmission among them) before it reports it indeterminate", func() string {
		for range 3 {
			require.Empty(t, a.onSend(0, attemptRequest(cluster, vsr.OperationKV, 6)))
		}
		return a.onSend(0, attemptRequest(cluster, vsr.OperationKV, 6))
	}())

	// Client 2: a stale read numbered like a request counts apart from it.
	for range 3 {
		require.Empty(t, a.onSend(1, attemptRequest(cluster, vsr.OperationKV, 1)))
	}
	require.Empty(t, a.onSend(1, attemptRequest(cluster, vsr.OperationReadStale, 1)))
	require.Empty(t, a.onGiveUp(1), "a stale read's give-up is not judged")
	require.Contains(t, a.onSend(1, attemptRequest(cluster, vsr.OperationReadStale, 1))+
		a.onSend(1, attemptRequest(cluster, vsr.OperationReadStale, 1))+
		a.onSend(1, attemptRequest(cluster, vsr.OperationReadStale, 1)), "client c2 sent stale read 1 4 times")

	// Given up early.
	require.Empty(t, a.onSend(1, attemptRequest(cluster, vsr.OperationRegister, 2)))
	require.Empty(t, a.onSend(1, attemptRequest(cluster, vsr.OperationKV, 3)))
	require.Equal(t, "client c2 reported request 3 indeterminate after 1 sends: a client gives a request "+
		"AttemptsMax = 3 sends before it gives up on it", a.onGiveUp(1))
	require.EqualValues(t, 2, a.judged)

	// Another cluster's messages, replies and a client out of range are not counted.
	require.Empty(t, a.onSend(0, attemptRequest(cluster+1, vsr.OperationKV, 9)))
	require.Empty(t, a.onSend(5, attemptRequest(cluster, vsr.OperationKV, 9)))
	reply := vsr.Encode(vsr.Header{Cluster: cluster, Client: 1, Request: 6, Command: vsr.CommandReply}, nil)
	require.Empty(t, a.onSend(0, reply))
}
