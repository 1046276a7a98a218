package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
)

func routingMessage(h vsr.Header) []byte {
	h.Cluster = 7
	return vsr.Encode(h, nil)
}

func routingRequest(request uint32, op vsr.Operation) []byte {
	return routingMessage(vsr.Header{Client: 1, Request: request, Command: vsr.CommandRequest, Operation: op})
}

func routingReply(request uint32, view, epoch uint32, outside uint16, replier uint8) []byte {
	return routingMessage(vsr.Header{Client: 1, Request: request, Command: vsr.CommandReply,
		Operation: vsr.OperationKV, View: view, Epoch: epoch, Outside: outside, Replica: replier})
}

// A client that sends its next request to the replier (a backup that answered a retry from
// its client table) and not to the primary of the reply's view fails the check; one that
// follows the view passes, as does any slot for a retry or after an eviction.
func TestClientRoutingFiresOnTheReplier(t *testing.T) {
	r := newClientRouting(7, 1, 3, 0)
	require.Empty(t, r.onSend(0, 0, 0, routingRequest(1, vsr.OperationKV)))
	require.Empty(t, r.onSend(0, 0, 1, routingRequest(1, vsr.OperationKV)), "a retry moves on")
	require.Empty(t, r.onAnswer(0, 0, routingReply(1, 4, 0, 0, 2)), "view 4 of 3: slot 1 is primary; slot 2 replied")
	require.Empty(t, r.onSend(0, 0, 1, routingRequest(2, vsr.OperationKV)), "to the primary of view 4")
	require.Empty(t, r.onAnswer(0, 0, routingReply(2, 4, 0, 0, 2)))
	problem := r.onSend(0, 0, 2, routingRequest(3, vsr.OperationKV))
	require.Contains(t, problem, "sent request 3 first to slot 2")
	require.Contains(t, problem, "primary is slot 1")
	require.Equal(t, uint64(2), r.judged)
}

// The membership a newer epoch's reply names moves the turns; a stale read teaches nothing;
// a failover's reconfiguration forgets what the client learned.
func TestClientRoutingFollowsTheMembership(t *testing.T) {
	r := newClientRouting(7, 1, 5, 0b10000)
	require.Empty(t, r.onSend(0, 0, 0, routingRequest(1, vsr.OperationKV)))
	// Epoch 2 puts slot 1 outside and slot 4 back: members 0, 2, 3, 4; view 5 mod 4 = 1: slot 2.
	require.Empty(t, r.onAnswer(0, 0, routingReply(1, 5, 2, 0b00010, 0)))
	require.Contains(t, r.onSend(0, 0, 1, routingRequest(2, vsr.OperationKV)), "primary is slot 2")
	require.Empty(t, r.onAnswer(0, 0, routingReply(2, 5, 1, 0, 0)), "an older epoch's reply leaves the membership")
	require.Contains(t, r.onSend(0, 0, 1, routingRequest(3, vsr.OperationKV)), "primary is slot 2")
	// A stale read's reply names the standby's view: no expectation from it.
	require.Empty(t, r.onSend(0, 0, 4, routingMessage(vsr.Header{Client: 1, Request: 1, Command: vsr.CommandRequest, Operation: vsr.OperationReadStale})))
	// A failover: every client looks from the first slot of one.
	require.Empty(t, r.onAnswer(0, 0, routingReply(3, 9, 2, 0b00010, 0)))
	require.Empty(t, r.onSend(1, 0, 0, routingRequest(4, vsr.OperationKV)), "forgotten at the failover")
	require.Empty(t, r.onAnswer(1, 0, routingReply(4, 9, 2, 0b00010, 0)))
	require.Equal(t, 0, r.clients[0].expect, "one slot: slot 0 is every view's primary")
}

// A request sent from the callback of the reply before it reaches the check before that
// reply does: it is judged once the reply is in.
func TestClientRoutingJudgesARequestSentBeforeItsReplyWasSeen(t *testing.T) {
	r := newClientRouting(7, 1, 3, 0)
	require.Empty(t, r.onSend(0, 0, 0, routingRequest(1, vsr.OperationKV)))
	require.Empty(t, r.onSend(0, 0, 2, routingRequest(2, vsr.OperationKV)))
	require.Contains(t, r.onAnswer(0, 0, routingReply(1, 0, 0, 0, 0)), "sent request 2 first to slot 2")
}

func TestTurnOf(t *testing.T) {
	require.Equal(t, 1, turnOf(4, 3, 0))
	require.Equal(t, 3, turnOf(5, 5, 0b10010)) // members 0, 2, 3: 5 mod 3 = 2, the third member
	require.Equal(t, -1, turnOf(1, 2, 0b11))
}

// A failover's reconfiguration sends every client to the first slot: one that keeps the
// primary it knew before (an index past the new count) fails the check, and a retry of a
// request in flight is not judged.
func TestClientRoutingFiresOnAStalePrimaryAfterAReconfiguration(t *testing.T) {
	r := newClientRouting(7, 2, 3, 0)
	require.Empty(t, r.onSend(0, 0, 0, routingRequest(1, vsr.OperationKV)))
	require.Empty(t, r.onAnswer(0, 0, routingReply(1, 2, 0, 0, 2)), "view 2 of 3: slot 2 is primary")
	require.Empty(t, r.onSend(0, 0, 2, routingRequest(2, vsr.OperationKV)))
	require.Empty(t, r.onAnswer(0, 0, routingReply(2, 2, 0, 0, 2)))
	// Client 2 has request 1 in flight when the failover comes: its retry goes anywhere.
	c2 := routingMessage(vsr.Header{Client: 2, Request: 1, Command: vsr.CommandRequest, Operation: vsr.OperationKV})
	require.Empty(t, r.onSend(0, 1, 1, c2))
	require.Empty(t, r.onSend(1, 1, 1, c2), "a retry after the failover is not judged")
	problem := r.onSend(1, 0, 2, routingRequest(3, vsr.OperationKV))
	require.Contains(t, problem, "sent request 3 first to slot 2 after a failover reconfigured it to 1 slots")
	require.Empty(t, r.onSend(1, 0, 0, routingRequest(4, vsr.OperationKV)), "judged once")
}

// A reply of the configuration a failover replaced, held on the way and delivered after the
// reconfiguration, names a newer epoch in which slot 0 is outside: it names no slot the
// client addresses, so the client still looks for the primary at slot 0, and the check
// still judges it there (a client that took that membership had no primary at all).
func TestClientRoutingAfterALateReplyOfTheReplacedConfiguration(t *testing.T) {
	r := newClientRouting(7, 1, 3, 0)
	require.Empty(t, r.onSend(0, 0, 0, routingRequest(1, vsr.OperationKV)))
	require.Empty(t, r.onAnswer(0, 0, routingReply(1, 0, 0, 0, 0)))
	require.Empty(t, r.onSend(0, 0, 0, routingRequest(2, vsr.OperationKV)))
	// The failover; then the old replica 1's reply to request 2, of epoch 3 (slot 0 removed).
	require.Empty(t, r.onAnswer(1, 0, routingReply(2, 7, 3, 0b001, 1)))
	require.Equal(t, 0, r.clients[0].expect, "one slot: slot 0 leads")
	require.Contains(t, r.onSend(1, 0, 1, routingRequest(3, vsr.OperationKV)), "sent request 3 first to slot 1")
}
