package ops

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
)

func TestConfigurationTextNamesSlotsByOperatorIDs(t *testing.T) {
	require.Equal(t, "epoch 0, members 0 1 2", ConfigurationText(0, 0, 3, 0))
	require.Equal(t, "epoch 2, members 1 2 3; standbys 100; outside 0 101", ConfigurationText(2, 1|1<<5, 4, 2))
	require.Equal(t, "epoch 0, members 0 1 2; outside 3 100", ConfigurationText(0, 1<<3|1<<4, 4, 1))
}

func TestReconfigRequestRoundTrips(t *testing.T) {
	for _, c := range []vsr.Change{{Kind: vsr.ChangeAddReplica, Replica: 3}, {Kind: vsr.ChangeRemoveStandby, Replica: 4}} {
		got, err := changeOf(ReconfigRequest(c))
		require.NoError(t, err)
		require.Equal(t, c, got)
	}
	_, err := changeOf(Request{Command: CommandReconfig, Key: "promote", Value: "1"})
	require.ErrorIs(t, err, ReconfigRefused)
	require.True(t, ReconfigRetriable("cluster reconfig: replica 2: "+vsr.ErrReconfigBusy.Error()))
	require.False(t, ReconfigRetriable("reconfig: add-replica: replica 3 is already a member"))
}

// status is a reachable replica's status in a configuration.
func status(i int, s, role string, epoch uint32, outside uint16) ReplicaStatusReport {
	return ReplicaStatusReport{Replica: i, Status: s, Role: role, Epoch: epoch, Outside: outside, Op: 9, CommitMin: 9, Commit: 9}
}

// A cluster status follows the newest configuration: a removed replica and a spare count for
// nothing, the quorum is a majority of the members, and a joining replica's own (epoch 0)
// view of the configuration is ignored.
func TestClusterStatusFollowsTheNewestConfiguration(t *testing.T) {
	s := ClusterStatusOf([]ReplicaStatusReport{
		{Replica: 0, Status: "stopped", Epoch: 3, Outside: 1, Removed: true},
		status(1, "normal", "primary", 3, 1),
		status(2, "normal", "backup", 2, 0), // has not heard of epoch 3 yet
		{Replica: 3, Status: "recovering", Outside: 1 << 3, Joining: true},
	})
	require.Equal(t, uint32(3), s.Epoch)
	require.Equal(t, uint16(1), s.Outside)
	require.Equal(t, 2, s.Quorum, "three members: 1 2 3")
	require.Equal(t, 2, s.Healthy)
	require.Equal(t, 1, s.Primary)
	require.True(t, ReconfigDone(s, 3))
	require.False(t, ReconfigDone(s, 4))
	require.False(t, EpochEverywhere(s, 3, 0), "replica 2 is still in epoch 2")
	s.Replicas[2].Epoch = 3
	require.True(t, EpochEverywhere(s, 3, 0))

	s.Replicas[1].CommitMin = 0 // a primary that cannot execute what it committed does not serve
	require.False(t, ReconfigDone(s, 3))

	unchanged := ClusterStatusOf([]ReplicaStatusReport{status(0, "normal", "primary", 0, 0),
		status(1, "normal", "backup", 0, 0), Unreachable(2)})
	require.Equal(t, 2, unchanged.Quorum, "no configuration change: a majority of every slot")
	require.Equal(t, 2, unchanged.Healthy)
}
