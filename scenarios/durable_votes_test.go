package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
	"vopr/sim"
)

// The decision on its own: a vote needs its view durable, and a prepare_ok its log view too.
func TestVoteDurabilityNeedsTheViewAndLogViewOnDisk(t *testing.T) {
	sb := durableSuperblock{ok: true, view: 4, logView: 3}
	for _, tc := range []struct {
		vote voteDurability
		lack string
	}{
		{voteDurability{"sent prepare_ok", 4, 3}, ""},
		{voteDurability{"sent prepare_ok", 3, 3}, ""},
		{voteDurability{"sent do_view_change", 4, 0}, ""},
		{voteDurability{"sent prepare_ok", 4, 4}, "its superblock durably holds log view 3 (view 4)"},
		{voteDurability{"sent prepare_ok", 5, 3}, "its superblock durably holds view 4 (log view 3)"},
		{voteDurability{"sent do_view_change", 5, 0}, "its superblock durably holds view 4 (log view 3)"},
		{voteDurability{"sent start_view", 5, 0}, "its superblock durably holds view 4 (log view 3)"},
	} {
		require.Equal(t, tc.lack, tc.vote.missing(sb), "%+v", tc.vote)
	}
	require.Equal(t, "no intact superblock copy", voteDurability{"sent prepare_ok", 0, 0}.missing(durableSuperblock{}))
}

// On a real disk: after a view change, a backup's votes in its view pass, and a vote in the
// next view, which its superblock does not hold yet, is reported; a damaged superblock
// sector silences the check.
func TestVoteDurabilityReadsTheSendersDisk(t *testing.T) {
	tc := newTestCluster(t, testOptions{replicas: 3, clients: 1, seed: 5})
	tc.commitN(10, 20_000)
	tc.CrashReplica(tc.primary())
	require.True(t, tc.RunUntil(func() bool {
		for i := 0; i < 3; i++ {
			if r := tc.Replica(i); r != nil && r.Inspect().View > 0 && r.Inspect().Status == vsr.StatusNormal {
				return true
			}
		}
		return false
	}, 20_000), "a view change after the primary's crash")
	tc.RunFor(sim.Second) // the superblock writes land
	disks := newDurableDisks(tc.Cluster)
	backup := -1
	for i := 0; i < 3; i++ {
		if r := tc.Replica(i); r != nil && i != tc.primary() {
			backup = i
		}
	}
	require.GreaterOrEqual(t, backup, 0)
	in := tc.inspect(backup)
	require.Positive(t, in.View)
	vote := vsr.Header{Command: vsr.CommandPrepareOK, View: in.View}
	require.Empty(t, disks.checkVoteSent(backup, vote))
	vote.View++
	require.Contains(t, disks.checkVoteSent(backup, vote),
		"sent prepare_ok in view", "a vote in a view the disk does not hold")
	require.Contains(t, disks.checkVoteSent(backup, vote), "but its superblock durably holds view")
	tc.Nodes[backup].Disk.CorruptSector("superblock", 0) // damage the replica cannot know of excuses the disk
	require.Empty(t, disks.checkVoteSent(backup, vote))
}
