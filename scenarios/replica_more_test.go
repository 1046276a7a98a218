package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/client"
	"vopr/cluster/kv"
	"vopr/cluster/vsr"
	"vopr/sim"
)

// Client table (VRR 2012 §4.1): a retried request is answered from the table, and the
// operation runs once. The reply to the first attempt is lost (the primary's path to the
// client is cut), so the client retries with the same request number, at a backup (which
// answers from its own table once it executed the op, or forwards the retry to the primary)
// and then at the primary once the path heals.
func TestClientRetryGetsCachedReplyAndRunsOnce(t *testing.T) {
	tc := newTestCluster(t, testOptions{replicas: 3, seed: 21})
	tc.commitN(2, ticks) // registers the session
	require.True(t, tc.RunUntil(func() bool { return !tc.Client(0).Busy() }, ticks))
	clientNode := tc.ClientNode(0)
	tc.Network.Cut(0, clientNode)
	var result *client.Result
	appendX := kv.EncodeOp(kv.Op{Kind: kv.KindAppend, Key: "once", Value: "x"})
	require.True(t, tc.Client(0).Submit(appendX, func(r client.Result) { result = &r }))
	require.True(t, tc.RunUntil(func() bool { return result != nil }, ticks))
	tc.Network.Heal()
	require.Equal(t, client.OK, result.Outcome)
	duplicates := uint64(0)
	for i := 0; i < 3; i++ {
		duplicates += tc.inspect(i).Metrics.RequestsDuplicate
	}
	require.Positive(t, duplicates, "the retry was answered from a client table")
	get := kv.EncodeOp(kv.Op{Kind: kv.KindGet, Key: "once"})
	var read *client.Result
	require.True(t, tc.RunUntil(func() bool {
		return tc.Client(0).Submit(get, func(r client.Result) { read = &r })
	}, ticks))
	require.True(t, tc.RunUntil(func() bool { return read != nil }, ticks))
	value, err := kv.DecodeResult(read.Reply)
	require.NoError(t, err)
	require.Equal(t, "x", value.Value, "the append ran exactly once")
	tc.requireNoFailures()
}

// A do_view_change from a view older than the replica's is ignored (VRR 2012 §4.2).
func TestViewChangeStaleDoViewChangeIgnored(t *testing.T) {
	tc := newTestCluster(t, testOptions{replicas: 3, seed: 22})
	tc.commitN(3, ticks)
	tc.CrashReplica(0)
	tc.commitN(3, ticks) // view 1, primary 1
	tc.StartReplica(0)
	tc.converge(ticks)
	before := tc.inspect(1)
	stale := vsr.Encode(vsr.Header{Cluster: 7, Replica: 2, View: 0, LogView: 0, Op: 1, Command: vsr.CommandDoViewChange}, nil)
	tc.Replica(1).Receive(stale)
	after := tc.inspect(1)
	require.Equal(t, before.View, after.View)
	require.Equal(t, before.Status, after.Status)
	require.Equal(t, before.Op, after.Op)
	tc.commitN(3, ticks)
	tc.requireNoFailures()
}

// Messages of another cluster, or with a bad checksum, are dropped without effect.
func TestMessagesFromAnotherClusterOrCorruptAreDropped(t *testing.T) {
	tc := newTestCluster(t, testOptions{replicas: 3, seed: 23})
	tc.commitN(3, ticks)
	before := tc.inspect(1)
	other := vsr.Encode(vsr.Header{Cluster: 8, Replica: 0, View: 9, Command: vsr.CommandStartViewChange}, nil)
	tc.Replica(1).Receive(other)
	corrupt := vsr.Encode(vsr.Header{Cluster: 7, Replica: 0, View: 9, Command: vsr.CommandStartViewChange}, nil)
	corrupt[100] ^= 1
	tc.Replica(1).Receive(corrupt)
	tc.Replica(1).Receive(corrupt[:50])
	after := tc.inspect(1)
	require.Equal(t, before.View, after.View)
	require.Equal(t, vsr.StatusNormal, after.Status)
	tc.requireNoFailures()
}

// A restarted primary never resumes as primary of the view it crashed in: the cluster moves
// to a later view.
func TestRecoveryRestartedPrimaryStartsViewChange(t *testing.T) {
	tc := newTestCluster(t, testOptions{replicas: 3, seed: 24})
	tc.commitN(5, ticks)
	tc.CrashReplica(0)
	tc.StartReplica(0)
	tc.commitN(5, ticks)
	tc.converge(ticks)
	require.Greater(t, tc.inspect(0).View, uint32(0))
	tc.requireNoFailures()
}

// Views never go backwards on a replica, across crashes and restarts.
func TestRecoveryViewsNeverGoBackwards(t *testing.T) {
	tc := newTestCluster(t, testOptions{replicas: 3, seed: 25})
	tc.commitN(3, ticks)
	tc.CrashReplica(0) // view 1
	tc.commitN(3, ticks)
	tc.StartReplica(0)
	tc.converge(ticks)
	for i := 0; i < 3; i++ {
		view := tc.inspect(i).View
		tc.CrashReplica(i)
		tc.StartReplica(i)
		tc.RunUntil(func() bool { return tc.Replica(i) != nil && tc.inspect(i).Status != vsr.StatusRecovering }, ticks)
		require.GreaterOrEqual(t, tc.inspect(i).View, view, "replica %d went back from view %d", i, view)
		tc.converge(ticks)
	}
	tc.requireNoFailures()
}

// Clocks that drift by 1% run their timeouts at different speeds; the cluster still
// commits and stays in one view when no fault happens.
func TestClockDriftingClocksStillCommit(t *testing.T) {
	tc := newTestCluster(t, testOptions{replicas: 3, seed: 26, mutate: func(o *sim.ClusterOptions) {
		o.World.Clocks = []sim.ClockOptions{{DriftPPM: 10_000}, {DriftPPM: -10_000}, {DriftPPM: 5_000}, {}}
	}})
	tc.commitN(30, ticks)
	tc.converge(ticks)
	require.Equal(t, uint32(0), tc.inspect(0).View, "drift alone must not cause view changes")
	tc.requireNoFailures()
}

// Session eviction: when the client table is full, registering evicts the oldest session,
// whose client is told so and must register again.
func TestClientTableEvictionOfOldestSession(t *testing.T) {
	const table = 4 // sessions kept; one client more than that
	tc := newTestCluster(t, testOptions{replicas: 3, clients: table + 1, seed: 27,
		mutate: func(o *sim.ClusterOptions) { o.ClientsMax = table }})
	tc.commitN(4*table, 2*ticks)
	evictions := uint64(0)
	for i := 0; i < 3; i++ {
		evictions += tc.inspect(i).Metrics.Evictions
	}
	require.Greater(t, evictions, uint64(0))
	evicted := 0
	for _, r := range tc.results {
		if r.Outcome == client.Evicted {
			evicted++
		}
	}
	require.Greater(t, evicted, 0, "an evicted client is told so")
	tc.converge(ticks)
	tc.requireNoFailures()
}

// A view-change storm (random partitions for a while) ends when the network heals; no
// committed op is lost and the replicas converge.
func TestViewChangeStormThenHeal(t *testing.T) {
	tc := newTestCluster(t, testOptions{replicas: 5, clients: 3, seed: 28, mutate: func(o *sim.ClusterOptions) {
		o.World.Network.PartitionMode = sim.PartitionUniformPartition
		o.World.Network.PartitionProbability = 0.05
		o.World.Network.UnpartitionProbability = 0.05
		// A partition lasts longer than an election timeout (500 ms): one that cuts the
		// primary off from a majority forces a view change.
		o.World.Network.PartitionStabilityMin = 800 * sim.Millisecond
		o.World.Network.UnpartitionStabilityMin = 200 * sim.Millisecond
	}})
	tc.load = true
	tc.RunFor(10 * sim.Second)
	tc.load = false
	tc.Network.SetFaultsEnabled(false)
	tc.Network.Heal()
	tc.commitN(10, ticks)
	tc.converge(ticks)
	require.Greater(t, tc.Network.Stats().Partitions, uint64(0), "the storm partitioned the network")
	viewChanges := uint64(0)
	for i := 0; i < 5; i++ {
		viewChanges += tc.inspect(i).Metrics.ViewChangesTotal
	}
	require.Greater(t, viewChanges, uint64(0), "the partitions forced view changes")
	tc.requireNoFailures()
}

// The primary crashes and restarts repeatedly under load; every acknowledged write
// survives.
func TestViewChangeRepeatedPrimaryCrashes(t *testing.T) {
	tc := newTestCluster(t, testOptions{replicas: 3, clients: 3, seed: 29})
	for round := 0; round < 4; round++ {
		tc.commitN(8, ticks)
		p := tc.primary()
		require.GreaterOrEqual(t, p, 0)
		tc.CrashReplica(p)
		tc.commitN(4, ticks)
		tc.StartReplica(p)
	}
	tc.converge(ticks)
	tc.requireNoFailures()
}
