package faults

import (
	"fmt"
	"strconv"
	"strings"

	"vopr/cluster/storage"
	"vopr/cluster/vsr"
	"vopr/sim"
)

// The synced checkpoint lost, an aimed move of the disk.correlated kind: a replica that has
// just installed a peer's checkpoint by state sync (its log lacks the ops below it) has that
// checkpoint file rot, and is rebooted so that its recovery meets the damage now. Its own log
// cannot rebuild that state: recovery must not replay the log as though it could, nor fall
// back to an older checkpoint and claim the ops above it; it must stay recovering until it
// installs a peer's checkpoint again. The fresh swarm ranges found two storage bugs in this
// shape by chance (seeds 2026495629 and 2026495735); the move makes it common.
//
// As every disk fault of the nemesis, it strikes only where the atlas lets random faults
// strike (the checkpoint file's zone is faulty on the replica), so a quorum keeps the
// checkpoint intact; the reboot waits on the availability bound like any crash (without it,
// the damage waits for the next crash).

// ActionDiskCorruptSyncedCheckpoint is the move's action name.
const ActionDiskCorruptSyncedCheckpoint = "disk.corrupt_synced_checkpoint"

// syncedWaitTicks is how long the move waits for a synced checkpoint to become durable.
const syncedWaitTicks = 300

// syncedCheckpoint is a state sync the move may strike: until is 0 when none is armed.
type syncedCheckpoint struct {
	replica int
	op      uint64
	until   uint64
}

// onSyncedEvent arms the move, with its probability, when a replica reports a state sync.
func (n *Nemesis) onSyncedEvent(e vsr.Event) {
	if e.Kind != vsr.EventStateSync || n.healed || n.synced.until != 0 || e.Replica >= n.swarm.Replicas {
		return
	}
	if !sim.Chance(n.r, n.o.SyncedCheckpointLossProbability) {
		return
	}
	n.synced = syncedCheckpoint{replica: e.Replica, op: e.Op, until: n.tick + syncedWaitTicks}
}

// stepSynced strikes the armed synced checkpoint once it is the replica's durable
// checkpoint, or gives up when it did not become one in time.
func (n *Nemesis) stepSynced(c *sim.Cluster) {
	s := n.synced
	if s.until == 0 {
		return
	}
	if n.tick > s.until {
		n.synced = syncedCheckpoint{}
		return
	}
	r := c.Replica(s.replica)
	if r == nil || c.Nodes[s.replica].Status() != sim.NodeUp {
		n.synced = syncedCheckpoint{}
		return
	}
	if r.Inspect().CheckpointOp != s.op {
		return // not durable yet (or replaced)
	}
	n.synced = syncedCheckpoint{}
	disk := c.Nodes[s.replica].Disk
	name, ok := checkpointFile(disk.Names(), s.op)
	if !ok {
		return
	}
	size, err := disk.Size(name)
	if err != nil || size < storage.SectorSize || !n.atlas.Allowed(s.replica, name, 0) {
		return
	}
	offset := storage.SectorSize * n.r.Int64N(size/storage.SectorSize)
	reboot := false
	for _, i := range n.mayTakeDown(c) {
		reboot = reboot || i == s.replica
	}
	n.record(c, s.replica, ActionDiskCorruptSyncedCheckpoint, fmt.Sprintf("%s@%d reboot=%t", name, offset, reboot))
	disk.CorruptSector(name, offset)
	n.hits.Hit(MarkSyncedCheckpointLost)
	if reboot {
		c.CrashReplica(s.replica)
		n.stableUntil[s.replica] = n.tick + uint64(n.o.ReplicaStabilityTicks)
		c.StartReplica(s.replica)
		n.hits.Hit(MarkSyncedCheckpointLostReboot)
	}
}

// checkpointFile finds the file of the checkpoint at op among a disk's names: "checkpoint-"
// and the op in hexadecimal, as the disk shows it (the name, not the engine's code).
func checkpointFile(names []string, op uint64) (string, bool) {
	for _, name := range names {
		if digits, ok := strings.CutPrefix(name, "checkpoint-"); ok {
			if n, err := strconv.ParseUint(digits, 16, 64); err == nil && n == op {
				return name, true
			}
		}
	}
	return "", false
}
