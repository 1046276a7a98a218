package scenarios

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/storage"
	"vopr/cluster/vsr"
	"vopr/sim"
)

// entryOffset finds the file and offset of op's entry header in a replica's log by scanning
// the pristine bytes of its segment at sector boundaries.
func entryOffset(t *testing.T, disk *sim.Disk, op uint64) (string, int64) {
	t.Helper()
	name := fmt.Sprintf("log-%016x", op/vsr.CheckpointInterval)
	data := disk.Pristine(name)
	for offset := 0; offset+storage.HeaderSize <= len(data); offset += storage.SectorSize {
		h, err := storage.DecodeHeader(data[offset : offset+storage.HeaderSize])
		if err == nil && h.Op == op {
			return name, int64(offset)
		}
	}
	t.Fatalf("op %d not found in %s", op, name)
	return "", 0
}

// Protocol-aware recovery: when every replica's copy of a committed prepare is corrupt, no
// replica may truncate it (it was acknowledged, so "seen but corrupt" is not "not seen"):
// the cluster stops at that op rather than lose it or replace it.
func TestRecoveryCorruptCommittedPrepareOnAllReplicasIsNeverTruncated(t *testing.T) {
	tc := newTestCluster(t, testOptions{replicas: 3, seed: 31})
	tc.commitN(20, ticks)
	tc.converge(ticks)
	head := tc.inspect(0).Op
	require.Less(t, head, uint64(vsr.CheckpointInterval), "the op must be above the checkpoint")
	for i := 0; i < 3; i++ {
		name, offset := entryOffset(t, tc.Nodes[i].Disk, head)
		tc.Nodes[i].Disk.CorruptSector(name, offset)
	}
	for i := 0; i < 3; i++ {
		tc.CrashReplica(i)
	}
	for i := 0; i < 3; i++ {
		tc.StartReplica(i)
	}
	tc.load = true
	tc.RunFor(10 * sim.Second)
	for i := 0; i < 3; i++ {
		in := tc.inspect(i)
		require.GreaterOrEqual(t, in.Op, head, "replica %d truncated the committed op %d", i, head)
		require.Less(t, in.CommitMin, head, "nobody can execute an op whose every copy is corrupt")
	}
	tc.requireNoFailures()
}

// The same corruption on one replica only is repaired from the others.
func TestRepairCorruptPrepareOnOneReplica(t *testing.T) {
	tc := newTestCluster(t, testOptions{replicas: 3, seed: 32})
	tc.commitN(20, ticks)
	tc.converge(ticks)
	op := tc.inspect(2).Op - 3
	name, offset := entryOffset(t, tc.Nodes[2].Disk, op)
	tc.Nodes[2].Disk.CorruptSector(name, offset)
	tc.CrashReplica(2)
	tc.StartReplica(2)
	tc.commitN(10, ticks)
	tc.converge(ticks)
	require.Greater(t, tc.inspect(2).Metrics.Repairs, uint64(0))
	tc.requireNoFailures()
}
