package scenarios

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/checksum"
	"vopr/cluster/storage"
	"vopr/cluster/vsr"
	"vopr/invariants"
	"vopr/sim"
)

// TestDurableDiskReaderReadsWhatTheReplicasWrote holds the reader's own decoders (the
// superblock, the log entries) to the real engine's files: after 150 committed requests
// and convergence, every replica's durable image names its view, log_view and checkpoint,
// and holds, above the checkpoint, exactly the prepares it executed.
func TestDurableDiskReaderReadsWhatTheReplicasWrote(t *testing.T) {
	tc := newTestCluster(t, testOptions{replicas: 3, clients: 2, seed: 5})
	tc.commitN(150, 20_000)
	tc.converge(5_000)
	tc.RunFor(sim.Second) // the last superblock writes land
	disks := newDurableDisks(tc.Cluster)
	for i := 0; i < 3; i++ {
		in := tc.inspect(i)
		img := disks.image(i, in.Op)
		require.True(t, img.Valid, "replica %d", i)
		require.Equal(t, in.View, img.View, "replica %d", i)
		require.Equal(t, in.LogView, img.LogView, "replica %d", i)
		require.Equal(t, in.CheckpointOp, img.CheckpointOp, "replica %d", i)
		require.Positive(t, img.CheckpointOp, "replica %d: 150 requests cross a checkpoint", i)
		var ops []uint64
		for _, e := range img.Entries {
			ops = append(ops, e.Op)
			require.True(t, e.Intact, "replica %d op %d", i, e.Op)
			require.Equal(t, tc.commits[e.Op][i].Checksum, e.Prepare, "replica %d op %d", i, e.Op)
		}
		var want []uint64
		for op := in.CheckpointOp + 1; op <= in.Op; op++ {
			want = append(want, op)
		}
		require.Equal(t, want, ops, "replica %d: the durable log above the checkpoint", i)
		// And a prepare_ok check finds each of them, from the cache and without it.
		for _, e := range img.Entries {
			require.True(t, disks.holds(i, e.Op, e.Prepare))
			require.True(t, newDurableDisks(tc.Cluster).holds(i, e.Op, e.Prepare))
		}
		require.False(t, disks.holds(i, in.Op, tc.commits[1][i].Checksum), "another prepare at that op")
	}
}

// TestSwarmFailsWhenADiskLosesAcknowledgedCopies: once a fault-free swarm run has
// converged, the newest log segment of a replica is removed behind its back (as a
// compaction that chose the wrong segment would): its acknowledged, executed copies above
// every checkpoint are gone, and the end-of-run disk check reports it.
func TestSwarmFailsWhenADiskLosesAcknowledgedCopies(t *testing.T) {
	dropSegment := func(c *sim.Cluster) {
		in := c.Replica(1).Inspect()
		require.Greater(t, in.Op, in.CheckpointOp, "ops above the checkpoint to lose")
		c.Nodes[1].Disk.Remove(segmentName(segmentOf(in.Op)), func(error) {})
	}
	seed := faultFreeSeedOf(t, 3)
	r := runSwarmWith(Options{Seed: seed}, swarmKnobs{afterConverged: dropSegment})
	require.Equal(t, Correctness, r.Outcome, r.Reason)
	require.Contains(t, r.Reason, "invariant "+invariants.NameAckedDurable+" violated: replica 1,")
	require.Contains(t, r.Reason, "a committed copy was dropped")
}

// The swarm's counters show the simulator-aware checkers at work on a plain seed (one that
// never changes view: log_view_durable has no log view to check there).
func TestSwarmReportsTheSimulatorAwareCheckers(t *testing.T) {
	r := runSwarm(Options{Seed: faultFreeSeeds(t, 1)[0]})
	require.Equal(t, Pass, r.Outcome, r.Reason)
	for _, name := range []string{"invariants.prepares_created", "invariants.timestamps_in_model",
		"invariants.disk_checks"} {
		require.Positive(t, r.Counters[name], name)
	}
	require.Equal(t, r.Counters["invariants.prepares_created"],
		r.Counters["invariants.timestamps_checked"]+r.Counters["invariants.prepares_seen_late"])
}

// TestDisownedReadsTheDistrustMark: the harness's own reading of the storage engine's
// distrust mark finds it over the record of the op it names, in the cluster it names, only
// while its checksum holds.
func TestDisownedReadsTheDistrustMark(t *testing.T) {
	const cluster, op = 7, 70
	s := &segmentCache{data: make([]byte, vsr.CheckpointInterval*storage.SectorSize)}
	mark := s.data[(op%vsr.CheckpointInterval)*storage.SectorSize:][:storage.SectorSize]
	binary.LittleEndian.PutUint64(mark[16:], distrustMagicAt16)
	binary.LittleEndian.PutUint64(mark[24:], cluster)
	binary.LittleEndian.PutUint64(mark[32:], op)
	sum := checksum.Of(mark[16:])
	copy(mark, sum[:])
	require.True(t, s.disowned(op, cluster))
	require.False(t, s.disowned(op+1, cluster), "another op's record sector")
	require.False(t, s.disowned(op, cluster+1), "another cluster's mark")
	mark[100] ^= 1
	require.False(t, s.disowned(op, cluster), "a mark whose checksum fails is damage, not a mark")
	mark[100] ^= 1
	binary.LittleEndian.PutUint64(mark[16:], faultyMagicAt16) // the faulty mark disowns too
	sum = checksum.Of(mark[16:])
	copy(mark, sum[:])
	require.True(t, s.disowned(op, cluster))
}
