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
	if _, ok := durableEntry(c.Nodes[replica].Disk, c.ClusterID(), op, sum); ok {
		return ""
	}
	return fmt.Sprintf("replica %d acknowledged op %d (prepare %016x) at %s, but its disk does not durably hold it",
		replica, op, sum.Low64(), c.Loop.Now())
}

// entryPlace is where a log entry lies in a segment file.
type entryPlace struct {
	name         string
	offset, size int64
	// selfNamed: the entry's header names the offset it was found at (the engine's own
	// check against misdirected writes).
	selfNamed bool
}

// durableEntry finds op's entry holding the prepare with checksum sum in the durable image
// of a disk, by scanning its segment at sector boundaries for an entry header (never by a
// fixed offset: the segment layout is the engine's business) and decoding the whole entry.
func durableEntry(disk *sim.Disk, cluster, op uint64, sum checksum.Sum) (entryPlace, bool) {
	name := fmt.Sprintf("log-%016x", op/vsr.CheckpointInterval)
	for offset := int64(0); ; offset += storage.SectorSize {
		sector := disk.DurableRange(name, offset, storage.SectorSize)
		if len(sector) < storage.HeaderSize {
			return entryPlace{}, false
		}
		h, err := storage.DecodeHeader(sector[:storage.HeaderSize])
		if err != nil || h.Op != op {
			continue
		}
		_, body, err := storage.DecodeEntry(disk.DurableRange(name, offset, h.Size()))
		if err != nil {
			continue
		}
		if m, err := vsr.Decode(body, cluster); err == nil && m.Header.Checksum == sum {
			return entryPlace{name: name, offset: offset, size: h.Size(), selfNamed: h.Offset == offset}, true
		}
	}
}
