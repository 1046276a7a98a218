package scenarios

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
	"vopr/ops"
	"vopr/sim"
)

func TestOperatorStatus(t *testing.T) {
	tc := newTestCluster(t, testOptions{replicas: 3, clients: 1, seed: 11})
	tc.commitN(20, 2000)
	s := ClusterStatus(tc.Cluster)
	require.Equal(t, 3, s.Healthy, "%+v", s)
	require.True(t, s.QuorumAvailable)
	require.Equal(t, 2, s.Quorum)
	require.Equal(t, tc.primary(), s.Primary)
	for i, r := range s.Replicas {
		in := tc.inspect(i)
		require.Equal(t, in.Status.String(), r.Status)
		require.Equal(t, in.Role.String(), r.Role)
		require.Equal(t, in.Op, r.Op)
		require.Equal(t, in.CommitMax, r.Commit)
	}

	backup := (s.Primary + 1) % 3
	tc.CrashReplica(backup)
	require.Equal(t, StatusUnreachable, ReplicaStatus(tc.Cluster, backup).Status)
	s = ClusterStatus(tc.Cluster)
	require.Equal(t, 2, s.Healthy)
	require.True(t, s.QuorumAvailable)

	tc.CrashReplica(s.Primary)
	s = ClusterStatus(tc.Cluster)
	require.Equal(t, 1, s.Healthy)
	require.False(t, s.QuorumAvailable)
}

// TestOperatorStorage runs verify, backup and restore on a stopped replica's disk: a clean
// disk verifies; a corrupted log sector is found; a restore from the replica's own backup
// verifies clean and the replica rejoins; a backup of another replica is refused before
// anything is wiped; running replicas are refused.
func TestOperatorStorage(t *testing.T) {
	tc := newTestCluster(t, testOptions{replicas: 3, clients: 1, seed: 12})
	tc.commitN(80, 4000)
	tc.converge(2000)
	op := &Operator{C: tc.Cluster}

	_, err := op.Verify(1)
	require.ErrorIs(t, err, ErrReplicaRunning)
	_, err = op.Backup(1)
	require.ErrorIs(t, err, ErrReplicaRunning)

	in := tc.inspect(1)
	tc.CrashReplica(1)
	report, err := op.Verify(1)
	require.NoError(t, err)
	require.True(t, report.OK, "problems: %v", report.Problems)
	require.Equal(t, in.Op, report.Head)

	backup, err := op.Backup(1)
	require.NoError(t, err)
	from, err := BackupReplica(backup)
	require.NoError(t, err)
	require.Equal(t, 1, from)

	// Another replica's backup is refused, and its disk is left alone.
	tc.CrashReplica(2)
	require.ErrorIs(t, op.Restore(2, backup), ErrWrongReplica)
	report, err = op.Verify(2)
	require.NoError(t, err)
	require.True(t, report.OK)
	tc.StartReplica(2)

	// Corrupt a sector of replica 1's newest segment: verify finds it.
	name := fmt.Sprintf("log-%016x", in.Op/vsr.CheckpointInterval)
	size, err := tc.Nodes[1].Disk.Size(name)
	require.NoError(t, err)
	tc.Nodes[1].Disk.CorruptSector(name, size/2)
	report, err = op.Verify(1)
	require.NoError(t, err)
	require.False(t, report.OK)
	bad, _ := report.FirstBad()
	require.Equal(t, name, bad.File, "problems: %v", report.Problems)

	// A damaged backup is refused by storage.Restore.
	damaged := append([]byte(nil), backup...)
	damaged[len(damaged)/2] ^= 1
	require.Error(t, op.Restore(1, damaged))

	require.NoError(t, op.Restore(1, backup))
	report, err = op.Verify(1)
	require.NoError(t, err)
	require.True(t, report.OK, "problems: %v", report.Problems)
	tc.StartReplica(1)
	require.Equal(t, vsr.StatusRecovering.String(), ReplicaStatus(tc.Cluster, 1).Status)
	tc.commitN(10, 2000)
	tc.converge(3000)
	require.Equal(t, 3, ClusterStatus(tc.Cluster).Healthy)
	tc.requireNoFailures()
}

func TestOperatorConfig(t *testing.T) {
	tc := newTestCluster(t, testOptions{replicas: 3, clients: 1, seed: 13})
	tc.commitN(5, 2000)
	tc.CrashReplica(2)

	changed, err := ConfigSet(tc.Cluster, KeyElectionTimeoutMs, "2000")
	require.NoError(t, err)
	require.Equal(t, []int{0, 1}, changed)
	values, err := ConfigGet(tc.Cluster, KeyElectionTimeoutMs)
	require.NoError(t, err)
	require.Equal(t, []int{2000, 2000, -1}, values) // replica 2 is down: drift after restart
	require.Equal(t, 200, tc.Replica(0).Config().ElectionTimeoutTicks)

	_, err = ConfigSet(tc.Cluster, KeyMaxBatchSize, "8")
	require.NoError(t, err)
	require.Equal(t, 8, tc.Replica(1).Config().BatchMax)
	_, err = ConfigSet(tc.Cluster, KeyHeartbeatIntervalMs, "100")
	require.NoError(t, err)
	require.Equal(t, 10, tc.Replica(1).Config().HeartbeatTicks)

	// Refused values change nothing anywhere.
	_, err = ConfigSet(tc.Cluster, KeyHeartbeatIntervalMs, "1500") // election must exceed two heartbeats
	require.Error(t, err)
	require.Equal(t, 10, tc.Replica(0).Config().HeartbeatTicks)
	_, err = ConfigSet(tc.Cluster, KeyMaxBatchSize, "100000")
	require.Error(t, err)
	_, err = ConfigSet(tc.Cluster, "no-such-key", "1")
	require.True(t, errors.Is(err, ErrUnknownKey), "%v", err)
	_, err = ConfigSet(tc.Cluster, KeyMaxBatchSize, "x")
	require.Error(t, err)

	tc.StartReplica(2)
	tc.RunFor(10 * sim.TickInterval)
	values, err = ConfigGet(tc.Cluster, KeyElectionTimeoutMs)
	require.NoError(t, err)
	require.Equal(t, []int{2000, 2000, 500}, values)
	tc.commitN(5, 2000)
	tc.requireNoFailures()
}

// ops.TickMs, which config set rounds to, is the simulator's tick.
func TestOpsTickIsTheSimulatorsTick(t *testing.T) {
	require.Equal(t, sim.Duration(ops.TickMs)*sim.Millisecond, sim.TickInterval)
}
