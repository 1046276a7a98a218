package vsr

// A regression test from the h42 review (see failover_epoch_of_a_kept_change_test.go for its
// helpers): the DR failover of a standby that the active region's loss left between views.

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/kv"
	"vopr/cluster/storage"
)

// TestFailoverOfAStandbyBetweenViews: Promote refused a standby that was not in normal
// status, and a standby is in view_change between entering a new view and receiving that
// view's log from its primary: after it executes a change (enterConfiguration waits for the
// new epoch's start_view), or after a restart that finds its view above its log view. Its log
// and state are its own all the while (only the start_view installs another log, and makes it
// normal), but with the active region gone no start_view ever comes: the standby stays in
// view_change for good, and `cluster failover --promote-standby 100` is refused for good,
// restarts included. The DR region cannot be brought up at all.
//
// Here the standby executes the removal of replica 2 (op 40) and enters epoch 1 on its next
// tick; the active region is lost before the new epoch's primary sends it the log.
func TestFailoverOfAStandbyBetweenViews(t *testing.T) {
	const change = 40
	chain := failoverChain(t, change, change, 1<<2)
	r, fs := failoverStandby(t, storage.State{Cluster: reviewCluster, Replica: 3, ReplicaCount: 3, StandbyCount: 1,
		View: 1, LogView: 1, Boots: 1}, chain)
	require.Equal(t, StatusNormal, r.status)

	// View 1's primary heartbeats commit 40: the standby executes up to the change.
	c := Header{Command: CommandCommit, Cluster: reviewCluster, View: 1, Replica: 1, Commit: change,
		Parent: chain[change].Header.Checksum, Release: kv.ReleaseBase}
	heartbeat, err := Decode(Encode(c, nil), reviewCluster)
	require.NoError(t, err)
	require.Empty(t, deliver(r, heartbeat))
	fs.drain()
	require.Equal(t, uint64(change), r.commitMin)
	r.Tick() // enters epoch 1: waits for its first view's log
	fs.drain()
	require.Equal(t, uint32(1), r.epoch)
	require.Equal(t, StatusViewChange, r.status)

	// The active region is lost: nothing more reaches the standby.
	for range 1000 {
		r.Tick()
		fs.drain()
	}
	require.Equal(t, StatusViewChange, r.status, "without a primary the standby stays between views")

	report, promoted, failure := promoteAndRestart(t, r, fs)
	require.Empty(t, failure)
	require.Equal(t, uint64(change), report.Op)
	in := promoted.InspectState()
	require.Equal(t, StatusNormal, in.Status)
	require.Equal(t, RolePrimary, in.Role)
	require.Equal(t, uint64(change), in.CommitMin)
}
