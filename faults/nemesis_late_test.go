package faults

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
	"vopr/sim"
)

// TestNemesisLateCheckpointLoss: once a replica the atlas lets faults strike holds the newest
// checkpoint, the move corrupts every checkpoint file it has and reboots it; the replica
// reports its checkpoint lost, fetches one from a peer and catches up.
func TestNemesisLateCheckpointLoss(t *testing.T) {
	run := newAimedRun(t, 3, 40, NemesisOptions{ReplicaStabilityTicks: 10})
	c, n := run.c, run.n
	for tick := 0; ; tick++ {
		require.Less(t, tick, 6000, "no replica with a checkpoint the atlas lets faults strike")
		c.RunFor(sim.TickInterval)
		n.Step(c)
		if n.LoseCheckpointLate(c); n.Counts()[ActionDiskCorruptLateCheckpoint] > 0 {
			t.Fatal("the move struck with a probability of zero")
		}
		found := false
		for i := 0; i < c.ReplicaCount(); i++ {
			found = found || (c.Replica(i).Inspect().CheckpointOp > 0 && n.checkpointsStrikable(c, i))
		}
		if found {
			break
		}
	}
	n.o.LateCheckpointLossProbability = 1
	n.LoseCheckpointLate(c)
	require.Equal(t, uint64(1), n.Counts()[ActionDiskCorruptLateCheckpoint])
	require.Equal(t, uint64(1), n.Marks().Count(MarkLateCheckpointLost))
	target := -1
	for i := 0; i < c.ReplicaCount(); i++ {
		if len(c.Nodes[i].Disk.Faults()) > 0 {
			require.Equal(t, -1, target, "one replica struck")
			target = i
		}
	}
	require.NotEqual(t, -1, target)
	struck := map[string]bool{}
	for _, f := range c.Nodes[target].Disk.Faults() {
		struck[f.Name] = true
	}
	require.Len(t, struck, len(checkpointFiles(c.Nodes[target].Disk.Names())), "every checkpoint file struck")
	op := uint64(0)
	for i := 0; i < c.ReplicaCount(); i++ {
		if i != target {
			op = max(op, c.Replica(i).Inspect().CheckpointOp)
		}
	}
	n.o.LateCheckpointLossProbability = 0
	for tick := 0; ; tick++ {
		require.Less(t, tick, 3000, "the replica never recovered from its lost checkpoints")
		c.RunFor(sim.TickInterval)
		n.Step(c)
		if in := c.Replica(target).Inspect(); in.Status == vsr.StatusNormal && !in.CheckpointLost && in.CheckpointOp >= op {
			break
		}
	}
	requireProgress(t, c)
}
