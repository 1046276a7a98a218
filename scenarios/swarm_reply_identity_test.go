package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
)

// A reply naming its sender's view, epoch and release passes; one recorded in an older view
// (a retry answered from the client table with the header it was executed under), epoch or
// release fires.
func TestReplyIdentityFiresOnAStaleReply(t *testing.T) {
	st := vsr.TraceState{View: 7, Epoch: 2, Release: 3}
	h := vsr.Header{Command: vsr.CommandReply, Replica: 1, View: 7, Epoch: 2, Release: 3, Client: 5, Request: 9}
	require.Empty(t, replyIdentityProblem(1, h, st))
	old := h
	old.View = 4
	require.Contains(t, replyIdentityProblem(1, old, st), "naming view 4 of epoch 2")
	old = h
	old.Epoch = 1
	require.Contains(t, replyIdentityProblem(1, old, st), "naming view 7 of epoch 1")
	old = h
	old.Release = 2
	require.Contains(t, replyIdentityProblem(1, old, st), "naming release 2")
}

// The swarm holds every reply a replica sends to the check: a seed's replies are counted.
func TestSwarmChecksEveryReply(t *testing.T) {
	swarm, ok := Lookup("swarm")
	require.True(t, ok)
	r := swarm.Run(Options{Seed: 1})
	require.Equal(t, Pass, r.Outcome, r.Reason)
	require.Positive(t, r.Counters["coverage.mark.reply_identity.checked"])
}
