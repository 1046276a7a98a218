package faults

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
	"vopr/sim"
)

// The synced checkpoint loss strikes a replica's durable checkpoint file with one damaged
// sector, where the atlas allows it, and reboots the replica; the replica recovers by
// installing a peer's checkpoint, and the cluster goes on. It never strikes where the atlas
// keeps the zone clean, nor a checkpoint that is not the replica's durable one.
func TestNemesisSyncedCheckpointLoss(t *testing.T) {
	run := newAimedRun(t, 3, 40, NemesisOptions{SyncedCheckpointLossProbability: 1, ReplicaStabilityTicks: 10})
	c, n := run.c, run.n
	target, op := -1, uint64(0)
	for tick := 0; target < 0; tick++ {
		require.Less(t, tick, 6000, "no checkpoint on a replica the atlas lets faults strike")
		c.RunFor(sim.TickInterval)
		n.Step(c)
		for i := 0; i < c.ReplicaCount(); i++ {
			in := c.Replica(i).Inspect()
			name, ok := checkpointFile(c.Nodes[i].Disk.Names(), in.CheckpointOp)
			if in.CheckpointOp > 0 && ok && n.atlas.Allowed(i, name, 0) {
				target, op = i, in.CheckpointOp
			}
		}
	}
	// Armed for another op than the durable checkpoint: nothing strikes until it gives up.
	n.synced = syncedCheckpoint{replica: target, op: op + 1, until: n.tick + 2}
	for range 3 {
		n.Step(c)
	}
	require.Zero(t, n.synced.until, "the wait ends")
	require.Empty(t, c.Nodes[target].Disk.Faults())
	// Armed for it (as a state sync to op would arm it): one sector of its file, a reboot.
	n.synced = syncedCheckpoint{replica: target, op: op, until: n.tick + syncedWaitTicks}
	n.Step(c)
	faults := c.Nodes[target].Disk.Faults()
	require.Len(t, faults, 1)
	name, _ := checkpointFile(c.Nodes[target].Disk.Names(), op)
	require.Equal(t, name, faults[0].Name)
	require.Equal(t, uint64(1), n.Marks().Count(MarkSyncedCheckpointLost))
	require.Equal(t, uint64(1), n.Marks().Count(MarkSyncedCheckpointLostReboot))
	require.Equal(t, uint64(1), n.Counts()[ActionDiskCorruptSyncedCheckpoint])
	n.o.SyncedCheckpointLossProbability = 0
	for tick := 0; ; tick++ {
		require.Less(t, tick, 3000, "the replica never recovered from its lost checkpoint")
		c.RunFor(sim.TickInterval)
		n.Step(c)
		if in := c.Replica(target).Inspect(); in.Status == vsr.StatusNormal && !in.CheckpointLost && in.CheckpointOp >= op {
			break
		}
	}
	requireProgress(t, c)
}

func TestCheckpointFile(t *testing.T) {
	names := []string{"superblock", "log-0000000000000001", "checkpoint-0000000000000040", "checkpoint-zz"}
	name, ok := checkpointFile(names, 64)
	require.True(t, ok)
	require.Equal(t, "checkpoint-0000000000000040", name)
	_, ok = checkpointFile(names, 40)
	require.False(t, ok)
}
