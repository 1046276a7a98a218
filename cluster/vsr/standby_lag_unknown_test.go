package vsr

// A regression test from a code review (the h45 helper; helpers in
// failover_epoch_of_a_kept_change_test.go): the lag a restarted standby reports before it
// hears from a primary.

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/kv"
	"vopr/cluster/storage"
)

// TestRestartedStandbyLagIsUnknown: a standby measures its lag from the commit numbers a
// primary announces to it, and a restarted process has heard none. It reported a lag of
// 0 ms, 0 ops and a contact lag of 0 until it did, with its superblock knowing commit 40 and
// nothing executed: figures that are no measurement, read by `replica status` and by a
// failover's plan (ops.PlanFailover judged it within the runbook's bounds). Until it hears
// from a primary its lag is unknown, and it is not eligible for promotion; the first
// announcement makes it known.
func TestRestartedStandbyLagIsUnknown(t *testing.T) {
	const commit = 40
	chain := failoverChain(t, commit, 0, 0) // ops 1..40, no reconfiguration
	r, fs := failoverStandby(t, storage.State{Cluster: reviewCluster, Replica: 3, ReplicaCount: 3, StandbyCount: 1,
		View: 1, LogView: 1, Commit: commit, Boots: 1}, chain)
	for range 200 { // two seconds of ticks with nothing heard
		r.Tick()
		fs.drain()
	}
	in := r.InspectState()
	require.Equal(t, StatusNormal, in.Status)
	require.Equal(t, RoleStandby, in.Role)
	require.Equal(t, uint64(commit), in.CommitMax, "its superblock knows commit 40")
	require.Equal(t, uint64(0), in.CommitMin, "nothing executed: no primary was heard from")
	require.False(t, in.StandbyLagKnown, "no primary heard since the restart: the lag is unknown")
	require.False(t, in.StandbyEligible, "a standby whose lag is unknown is not eligible")

	// View 1's primary heartbeats commit 40: the standby executes up to it, and its lag is a
	// measurement from then on.
	c := Header{Command: CommandCommit, Cluster: reviewCluster, View: 1, Replica: 1, Commit: commit,
		Parent: chain[commit].Header.Checksum, Release: kv.ReleaseBase}
	heartbeat, err := Decode(Encode(c, nil), reviewCluster)
	require.NoError(t, err)
	require.Empty(t, deliver(r, heartbeat))
	fs.drain()
	in = r.InspectState()
	require.Equal(t, uint64(commit), in.CommitMin)
	require.True(t, in.StandbyLagKnown, "it heard from its view's primary")
	require.Equal(t, uint64(0), in.StandbyLagOps)
	require.True(t, in.StandbyEligible)
}
