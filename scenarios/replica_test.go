package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/kv"
	"vopr/cluster/vsr"
	"vopr/sim"
)

// Replica scenario tests: each runs the real replicas (cluster/vsr) on the simulated world
// and asserts an outcome of the protocol. Names follow "area/scenario". Citations are to
// Viewstamped Replication Revisited (VRR 2012).

const ticks = 3000 // 30 s of virtual time: generous for any single step below

// Normal operation (VRR 2012 §4.1): requests commit and every replica executes them.
func TestNormalCommitThreeReplicas(t *testing.T) {
	tc := newTestCluster(t, testOptions{replicas: 3, seed: 1})
	tc.commitN(20, ticks)
	tc.converge(ticks)
	require.Equal(t, 0, tc.primary())
	require.GreaterOrEqual(t, tc.inspect(1).CommitMin, uint64(20))
	tc.requireNoFailures()
}

func TestNormalCommitSingleReplica(t *testing.T) {
	tc := newTestCluster(t, testOptions{replicas: 1, seed: 2})
	tc.commitN(20, ticks)
	require.GreaterOrEqual(t, tc.inspect(0).CommitMin, uint64(20))
	tc.requireNoFailures()
}

func TestNormalCommitFiveReplicasBatching(t *testing.T) {
	tc := newTestCluster(t, testOptions{replicas: 5, clients: 24, seed: 3})
	tc.commitN(200, ticks)
	tc.converge(ticks)
	// 24 clients overflow the pipeline, so requests share prepares: fewer ops than requests
	// (plus registrations) proves batching.
	require.Less(t, tc.inspect(0).CommitMin, uint64(tc.totalAcked()+24))
	tc.requireNoFailures()
}

// View change (VRR 2012 §4.2): the primary crashes, the backups elect the next primary,
// and no committed op is lost (the commit checker in testCluster.onEvent fires otherwise).
func TestViewChangePrimaryCrash(t *testing.T) {
	tc := newTestCluster(t, testOptions{replicas: 3, seed: 4})
	tc.commitN(10, ticks)
	before := tc.inspect(1).CommitMax
	tc.CrashReplica(0)
	tc.commitN(10, ticks)
	require.Equal(t, 1, tc.primary())
	require.GreaterOrEqual(t, tc.inspect(1).CommitMin, before+10)
	require.Greater(t, tc.inspect(1).Metrics.ViewChangesTotal, uint64(0))
	tc.StartReplica(0)
	tc.converge(ticks)
	tc.requireNoFailures()
}

// Recovery: a crashed backup restarts from its own log and catches up.
func TestRecoveryBackupCrash(t *testing.T) {
	tc := newTestCluster(t, testOptions{replicas: 3, seed: 5})
	tc.commitN(10, ticks)
	tc.CrashReplica(2)
	tc.commitN(10, ticks)
	tc.StartReplica(2)
	require.Equal(t, vsr.StatusRecovering, tc.inspect(2).Status, "a restarted replica reads its disk first")
	tc.converge(ticks)
	require.Equal(t, 0, tc.primary(), "a backup's restart does not change the view")
	tc.requireNoFailures()
}

// A primary partitioned away loses its role; after the heal it rejoins as a backup.
func TestViewChangePrimaryPartitionedAndHealed(t *testing.T) {
	tc := newTestCluster(t, testOptions{replicas: 3, seed: 6})
	tc.commitN(5, ticks)
	tc.Network.Isolate(0)
	tc.commitN(5, ticks)
	require.NotEqual(t, 0, tc.primary())
	tc.Network.Heal()
	tc.converge(ticks)
	require.Equal(t, vsr.RoleBackup, tc.inspect(0).Role)
	tc.requireNoFailures()
}

// Repair: a backup that missed prepares (its inbound path was cut) fetches them.
func TestRepairBackupMissingPrepares(t *testing.T) {
	tc := newTestCluster(t, testOptions{replicas: 3, seed: 7})
	tc.commitN(3, ticks)
	tc.Network.Cut(0, 2)
	tc.commitN(10, ticks)
	tc.Network.Heal()
	tc.converge(ticks)
	require.Greater(t, tc.inspect(2).Metrics.Repairs, uint64(0))
	tc.requireNoFailures()
}

// State sync: a backup down while the others pass several checkpoints installs a checkpoint.
func TestStateSyncFarBehind(t *testing.T) {
	tc := newTestCluster(t, testOptions{replicas: 3, clients: 1, seed: 8})
	tc.CrashReplica(2)
	tc.commitN(3*vsr.CheckpointInterval, 4*ticks)
	tc.StartReplica(2)
	tc.converge(ticks)
	require.Greater(t, tc.inspect(2).Metrics.StateSyncs, uint64(0))
	require.GreaterOrEqual(t, tc.inspect(2).CheckpointOp, uint64(vsr.CheckpointInterval))
	tc.requireNoFailures()
}

// State sync of a snapshot larger than a message (swarm seed 2026123189): it travels in
// chunks. It used to be never sent at all, and the backup stayed behind forever.
func TestStateSyncSnapshotLargerThanAMessage(t *testing.T) {
	tc := newTestCluster(t, testOptions{replicas: 3, clients: 4, seed: 9})
	tc.bigValues = true
	tc.CrashReplica(2)
	keys := 2 * vsr.MessageSizeMax / kv.ValueSizeMax // two chunks and a bit
	tc.commitN(keys, 4*ticks)
	tc.CrashReplica(1)
	require.Greater(t, len(tc.recoverDisk(1).Snapshot), vsr.MessageSizeMax, "the checkpoint fits in a message")
	tc.StartReplica(1)
	tc.StartReplica(2)
	tc.converge(ticks)
	require.Greater(t, tc.inspect(2).Metrics.StateSyncs, uint64(0))
	tc.requireNoFailures()
}

// Duplicated and reordered messages change nothing.
func TestNetworkDuplicationAndReordering(t *testing.T) {
	tc := newTestCluster(t, testOptions{replicas: 3, clients: 2, seed: 9, mutate: func(o *sim.ClusterOptions) {
		o.World.Network.PacketReplayProbability = 0.3
		o.World.Network.PacketReorderProbability = 0.3
	}})
	tc.commitN(40, ticks)
	tc.converge(ticks)
	tc.requireNoFailures()
}

func TestNetworkLossAndCorruption(t *testing.T) {
	tc := newTestCluster(t, testOptions{replicas: 3, clients: 2, seed: 10, mutate: func(o *sim.ClusterOptions) {
		o.World.Network.PacketLossProbability = 0.2
		o.World.Network.PacketCorruptionProbability = 0.05
	}})
	tc.commitN(30, 2*ticks)
	tc.converge(ticks)
	tc.requireNoFailures()
}

// Five replicas survive two crashes.
func TestFiveReplicasTwoCrashed(t *testing.T) {
	tc := newTestCluster(t, testOptions{replicas: 5, seed: 11})
	tc.commitN(5, ticks)
	tc.CrashReplica(3)
	tc.CrashReplica(4)
	tc.commitN(10, ticks)
	tc.requireNoFailures()
}

// A quorum lost means no request is acknowledged; a quorum restored commits again.
func TestQuorumLostThenRestored(t *testing.T) {
	tc := newTestCluster(t, testOptions{replicas: 3, seed: 12})
	tc.commitN(5, ticks)
	acked := tc.totalAcked()
	tc.CrashReplica(1)
	tc.CrashReplica(2)
	tc.load = true
	tc.RunFor(5 * sim.Second)
	tc.load = false
	require.Equal(t, acked, tc.totalAcked(), "no write is acknowledged without a quorum")
	tc.StartReplica(1)
	tc.commitN(5, ticks)
	tc.requireNoFailures()
}

// All replicas crash and restart: every acknowledged op survives (VRR with durable logs).
func TestRecoveryAllReplicasRestart(t *testing.T) {
	tc := newTestCluster(t, testOptions{replicas: 3, seed: 13})
	tc.commitN(15, ticks)
	commitBefore := tc.inspect(0).CommitMin
	for i := 0; i < 3; i++ {
		tc.CrashReplica(i)
	}
	for i := 0; i < 3; i++ {
		tc.StartReplica(i)
	}
	// Every replica re-executes its log (testCluster checks each op's prepare is the same).
	require.True(t, tc.RunUntil(func() bool {
		for i := 0; i < 3; i++ {
			if r := tc.Replica(i); r == nil || r.Inspect().CommitMin < commitBefore {
				return false
			}
		}
		return true
	}, ticks), "the acknowledged ops were not executed again: %s", tc.describe())
	tc.commitN(5, ticks)
	tc.converge(ticks)
	require.Greater(t, tc.inspect(0).CommitMax, commitBefore)
	tc.requireNoFailures()
}

// A primary whose wall clock is 2 s off cannot timestamp; it abdicates and the cluster moves
// on under a primary whose clock agrees with a quorum.
func TestClockPrimaryTwoSecondsOff(t *testing.T) {
	tc := newTestCluster(t, testOptions{replicas: 3, seed: 14, mutate: func(o *sim.ClusterOptions) {
		o.World.Clocks = []sim.ClockOptions{{OffsetNs: 2_000_000_000}, {}, {}, {}}
	}})
	tc.commitN(10, 2*ticks)
	p := tc.primary()
	require.NotEqual(t, 0, p)
	require.False(t, tc.inspect(0).ClockSynchronized)
	require.True(t, tc.inspect(p).ClockSynchronized)
	tc.requireNoFailures()
}

// A paused backup resumes and catches up.
func TestBackupPausedAndResumed(t *testing.T) {
	tc := newTestCluster(t, testOptions{replicas: 3, seed: 15})
	tc.commitN(5, ticks)
	tc.Nodes[1].Pause()
	tc.commitN(10, ticks)
	tc.Nodes[1].Unpause()
	tc.converge(ticks)
	tc.requireNoFailures()
}

// Operators raise the election timeout at run time (the runbook's config set).
func TestConfigElectionTimeoutAtRunTime(t *testing.T) {
	tc := newTestCluster(t, testOptions{replicas: 3, seed: 16})
	tc.commitN(3, ticks)
	for i := 0; i < 3; i++ {
		c := tc.Replica(i).Config()
		c.ElectionTimeoutTicks = 200
		require.NoError(t, tc.Replica(i).SetConfig(c))
	}
	bad := vsr.DefaultConfig()
	bad.ElectionTimeoutTicks = 1
	require.Error(t, tc.Replica(0).SetConfig(bad))
	tc.commitN(3, ticks)
	tc.requireNoFailures()
}

// Primary crashes with a full pipeline: uncommitted ops either commit in the new view or
// are never acknowledged.
func TestViewChangePrimaryCrashMidPipeline(t *testing.T) {
	tc := newTestCluster(t, testOptions{replicas: 3, clients: 6, seed: 17})
	tc.commitN(12, ticks)
	tc.load = true
	tc.RunFor(3 * sim.Millisecond)
	tc.CrashReplica(tc.primary())
	tc.commitN(12, ticks)
	tc.converge(ticks)
	tc.requireNoFailures()
}

// State sync under load (swarm seed 20261800): a replica whose next op to execute lies below
// its peers' checkpoint, compacted from every log (the peers restarted from it), and too
// close below it for the primary's commit heartbeat to call for a sync (or the primary
// itself, which hears none), state-syncs while clients keep the cluster busy. New prepares
// at its head counted as progress, so it waited for the load to stop, or for the peers' next
// checkpoint, with its clients unserved.
func TestStateSyncBehindCompactedOpsUnderLoad(t *testing.T) {
	t.Run("backup", func(t *testing.T) { stateSyncBehindCompactedOps(t, false) })
	t.Run("primary", func(t *testing.T) { stateSyncBehindCompactedOps(t, true) })
}

func stateSyncBehindCompactedOps(t *testing.T, primary bool) {
	tc := newTestCluster(t, testOptions{replicas: 3, clients: 4, seed: 10})
	tc.commitN(vsr.CheckpointInterval-10, ticks)
	tc.settle()
	tc.Network.Isolate(0)
	tc.commitN(20, ticks)
	for _, i := range []int{1, 2} {
		require.Equal(t, uint64(vsr.CheckpointInterval), tc.inspect(i).CheckpointOp, "R%d's checkpoint", i)
		tc.CrashReplica(i) // its log restarts above the checkpoint
		tc.StartReplica(i)
	}
	tc.commitN(5, ticks)
	behind := tc.inspect(0).CommitMin
	require.Less(t, behind, uint64(vsr.CheckpointInterval))
	require.Greater(t, behind+vsr.CheckpointInterval/2, uint64(vsr.CheckpointInterval), "a commit heartbeat would call for the sync")
	tc.Network.Heal()
	if primary {
		// R0 rejoins as a backup, then becomes the primary of view 3 without R2.
		ok := tc.RunUntil(func() bool { return tc.inspect(0).Status == vsr.StatusNormal }, ticks)
		require.True(t, ok, "R0 did not rejoin: %s", tc.describe())
		tc.Network.Isolate(2)
		ok = tc.RunUntil(func() bool { return tc.primary() == 0 }, ticks)
		require.True(t, ok, "R0 did not become the primary: %s", tc.describe())
		tc.Network.Heal()
		require.Less(t, tc.inspect(0).CommitMin, uint64(vsr.CheckpointInterval), "R0 caught up before it led")
	}

	// A request per client every 100 ms: a new op at the head more often than the stuck limit
	// (ten repair rounds), and the peers' next checkpoint some seconds off.
	synced := false
	for tick := 0; !synced && max(tc.inspect(1).CheckpointOp, tc.inspect(2).CheckpointOp) == vsr.CheckpointInterval; tick++ {
		require.Less(t, tick, 10*ticks, "the peers never took their next checkpoint")
		tc.load = tick%10 == 0
		tc.RunFor(sim.TickInterval)
		synced = tc.inspect(0).CommitMin >= vsr.CheckpointInterval
	}
	tc.load = false
	require.True(t, synced, "R0 waited for the peers' next checkpoint: %s", tc.describe())
	require.Greater(t, tc.inspect(0).Metrics.StateSyncs, uint64(0))
	tc.settle()
	tc.requireNoFailures()
}
