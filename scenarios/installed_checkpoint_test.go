package scenarios

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/storage"
	"vopr/cluster/vsr"
)

// TestCheckpointOverUnwrittenOpsIsInstalled: a backup on a slow disk executes committed ops
// from memory before their entries are durable. Its checkpoint then covers ops its log does
// not hold (yet), so the replica gives it to the engine as installed, and the superblock
// records that the checkpoint did not audit them: were the checkpoint to rot, a replay of the
// log from an older state would report them faulty rather than execute whatever the log
// holds there (swarm seed 2026299955 reached that through a state sync). The superblock is
// read as bytes: each one-sector copy holds CheckpointOp at 48 and the unaudited count at 166.
func TestCheckpointOverUnwrittenOpsIsInstalled(t *testing.T) {
	tc := newTestCluster(t, testOptions{replicas: 3, clients: 2, seed: 5})
	tc.Nodes[2].Disk.SetSlow(64)
	tc.load = true
	ok := tc.RunUntil(func() bool { return tc.inspect(2).CheckpointOp >= vsr.CheckpointInterval }, 16*ticks)
	require.True(t, ok, tc.describe())
	unaudited := func(replica int) uint64 {
		sb := tc.Nodes[replica].Disk.Durable("superblock")
		most := uint64(0)
		for at := 0; at+storage.SectorSize <= len(sb); at += storage.SectorSize {
			if copyOp := binary.LittleEndian.Uint64(sb[at+48:]); copyOp >= vsr.CheckpointInterval {
				most = max(most, binary.LittleEndian.Uint64(sb[at+166:]))
			}
		}
		return most
	}
	require.Positive(t, unaudited(2), "the slow replica's checkpoint claims to have audited ops its log did not hold")
	require.Zero(t, unaudited(0), "replica 0 checkpointed its own durable log")
}
