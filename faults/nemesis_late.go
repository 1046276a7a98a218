package faults

import (
	"strings"

	"vopr/cluster/storage"
	"vopr/sim"
)

// The late checkpoint loss, an aimed move of the disk.correlated kind that the swarm makes
// once, shortly before the heal (LoseCheckpointLate): every checkpoint file of a replica that
// holds the cluster's newest checkpoint rots, and the replica reboots. It has no older state
// to fall back to, so it reports its checkpoint lost and must fetch one from a peer; the
// heal then stops the faults and soon the load, so its peers hold that same checkpoint and
// no newer one. A replica that waits for a newer checkpoint than its own, or peers that
// serve only newer ones, stay stuck there, and the liveness phase says so. The synced
// checkpoint loss (nemesis_synced.go) strikes mid-run, where the cluster goes on to newer
// checkpoints that hide such a bug.
//
// As every disk fault of the nemesis, it strikes only files whose zone the atlas lets faults
// strike on that replica, and the reboot waits on the availability bound.

// ActionDiskCorruptLateCheckpoint is the move's action name.
const ActionDiskCorruptLateCheckpoint = "disk.corrupt_late_checkpoint"

// LoseCheckpointLate makes the move, with its probability.
func (n *Nemesis) LoseCheckpointLate(c *sim.Cluster) {
	if n.healed || !sim.Chance(n.r, n.o.LateCheckpointLossProbability) {
		return
	}
	newest := uint64(0)
	for i := 0; i < n.swarm.Replicas; i++ {
		if r := c.Replica(i); r != nil && c.Nodes[i].Status() == sim.NodeUp {
			newest = max(newest, r.Inspect().CheckpointOp)
		}
	}
	if newest == 0 {
		return
	}
	var candidates []int
	for _, i := range n.mayTakeDown(c) {
		if r := c.Replica(i); r != nil && r.Inspect().CheckpointOp == newest && n.checkpointsStrikable(c, i) {
			candidates = append(candidates, i)
		}
	}
	i, ok := n.pick(candidates)
	if !ok {
		return
	}
	disk := c.Nodes[i].Disk
	var struck []string
	for _, name := range checkpointFiles(disk.Names()) {
		if size, err := disk.Size(name); err == nil && size >= storage.SectorSize {
			disk.CorruptSector(name, storage.SectorSize*n.r.Int64N(size/storage.SectorSize))
			struck = append(struck, name)
		}
	}
	n.record(c, i, ActionDiskCorruptLateCheckpoint, strings.Join(struck, ","))
	c.CrashReplica(i)
	n.stableUntil[i] = n.tick + uint64(n.o.ReplicaStabilityTicks)
	c.StartReplica(i)
	n.hits.Hit(MarkLateCheckpointLost)
}

// checkpointsStrikable reports whether replica i has a checkpoint file and the atlas lets
// faults strike every one of them.
func (n *Nemesis) checkpointsStrikable(c *sim.Cluster, i int) bool {
	names := checkpointFiles(c.Nodes[i].Disk.Names())
	for _, name := range names {
		if !n.atlas.Allowed(i, name, 0) {
			return false
		}
	}
	return len(names) > 0
}

// checkpointFiles lists the checkpoint files among a disk's names, as the disk shows them.
func checkpointFiles(names []string) []string {
	var out []string
	for _, name := range names {
		if strings.HasPrefix(name, "checkpoint-") {
			out = append(out, name)
		}
	}
	return out
}
