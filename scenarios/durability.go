package scenarios

import (
	"fmt"

	"vopr/cluster/checksum"
	"vopr/cluster/storage"
	"vopr/cluster/vsr"
	"vopr/sim"
)

// The durability check holds a replica to its prepare_ok: "persist before PrepareOk"
// (DESIGN.md section 3). When a replica acknowledges a prepare, the entry must already be on
// its disk's durable image (what survives a crash), with the acknowledged checksum. It reads
// the simulated disk directly, so it sees what a crash would leave, not what the replica
// believes.

// checkAckDurable returns a violation message if replica's disk does not durably hold the
// prepare with checksum sum at op. Ops at or below the replica's checkpoint are exempt: the
// engine compacts their entries away.
func checkAckDurable(c *sim.Cluster, replica int, op uint64, sum checksum.Sum) string {
	r := c.Replica(replica)
	if r == nil || op <= r.Inspect().CheckpointOp {
		return ""
	}
	disk := c.Nodes[replica].Disk
	name := fmt.Sprintf("log-%016x", op/vsr.CheckpointInterval)
	for offset := int64(0); ; offset += storage.SectorSize {
		sector := disk.DurableRange(name, offset, storage.SectorSize)
		if len(sector) < storage.HeaderSize {
			break
		}
		h, err := storage.DecodeHeader(sector[:storage.HeaderSize])
		if err != nil || h.Op != op {
			continue
		}
		_, body, err := storage.DecodeEntry(disk.DurableRange(name, offset, h.Size()))
		if err != nil {
			continue
		}
		if m, err := vsr.Decode(body, c.ClusterID()); err == nil && m.Header.Checksum == sum {
			return ""
		}
	}
	return fmt.Sprintf("replica %d acknowledged op %d (prepare %016x) at %s, but its disk does not durably hold it",
		replica, op, sum.Low64(), c.Loop.Now())
}
