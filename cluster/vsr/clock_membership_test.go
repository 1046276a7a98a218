package vsr

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/storage"
)

// TestClockVerdictFollowsTheMembership: a replica alone in its configuration is synchronised
// with no sample (its own interval is a quorum of one). When its configuration grows to two
// members it holds no sample of the new one, so its verdict must be unsynchronised at once,
// not from its next tick: until then it reported (and a primary would stamp with) a verdict
// of the old membership (swarm seed 2046200897: the lone replica, its clock 26 s off after a
// long pause, added replica 2 and still reported its clock synchronised).
func TestClockVerdictFollowsTheMembership(t *testing.T) {
	lone := uint16(1<<0 | 1<<2) // replicas 0 and 2 outside: replica 1 alone
	r, _, _ := reviewRestart(t, storage.State{Cluster: reviewCluster, Replica: 1, ReplicaCount: 3, Epoch: 1, Outside: lone, LogEpoch: 1}, nil)
	require.Equal(t, 1, r.quorum())
	r.clockSync.update(r)
	require.True(t, r.clockSync.synchronized, "a lone replica's own interval is its quorum")

	r.adopt(2, 1<<0) // replica 2 added: a quorum of two, and no sample of it
	require.Equal(t, 2, r.quorum())
	require.False(t, r.clockSync.synchronized, "a verdict of the old membership outlived the change")
	_, ok := r.primaryTimestamp()
	require.False(t, ok)

	r.adopt(3, lone) // and back alone: synchronised again at once
	require.True(t, r.clockSync.synchronized)
}
