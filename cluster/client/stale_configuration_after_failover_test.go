package client

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
)

// TestReplyOfTheLostConfigurationAfterAFailover: after a DR failover the client is told the
// new configuration has one replica (Reconfigure(1): slot 0, the promoted standby). A reply
// to its request in flight, sent by a replica of the lost configuration before the region
// went and delivered late, names that configuration: an epoch newer than any the client had
// seen (the cluster had removed replica 0 since the client's last reply), in which slot 0 is
// outside. The client took its membership over its one slot, left no active member, and
// PrimaryIndex's assertion ("a configuration without an active member") crashed the client's
// process on a reply it should have taken as an answer and nothing more. Such a reply says
// nothing of where the client's single slot leads; its routing stays the new configuration's.
func TestReplyOfTheLostConfigurationAfterAFailover(t *testing.T) {
	var sent []int
	c := New(Options{ID: 7, Cluster: 1, ReplicaCount: 3, Send: func(to int, _ []byte) { sent = append(sent, to) }})
	require.False(t, c.Submit([]byte("op"), nil))
	c.Receive(vsr.Encode(vsr.Header{Cluster: 1, Client: 7, Command: vsr.CommandReply, Request: 1, Commit: 40, View: 1}, nil))
	require.True(t, c.Registered())

	var results []Result
	require.True(t, c.Submit([]byte("op"), func(r Result) { results = append(results, r) }))
	c.Reconfigure(1) // the failover: the region is lost, standby 100 is replica 0 of 1

	// Old replica 1's reply, of epoch 1 (replica 0 removed), view 5.
	late := vsr.Encode(vsr.Header{Cluster: 1, Client: 7, Command: vsr.CommandReply, Request: 2, Commit: 40, View: 5,
		Replica: 1, Epoch: 1, Outside: 1 << 0, Op: 97}, nil)
	require.NotPanics(t, func() { c.Receive(late) }, "a late reply of the lost configuration crashed the client")
	require.Len(t, results, 1)
	require.Equal(t, OK, results[0].Outcome, "the reply answers the request")
	require.Equal(t, uint64(97), results[0].Op)

	// The client's next request goes to the one replica there is.
	sent = nil
	require.True(t, c.Submit([]byte("op"), nil))
	require.Equal(t, []int{0}, sent)
}
