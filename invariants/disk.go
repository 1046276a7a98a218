package invariants

import (
	"sort"

	"vopr/cluster/checksum"
)

// DiskImage is what one replica's disk durably holds at a moment: what a crash now would
// leave for recovery to read. The harness reads it from the simulated disk's durable image
// with its own decoders (never from the replica), and marks what the simulator damaged.
type DiskImage struct {
	// Valid: an intact superblock copy was found; the fields below are the newest one's.
	Valid         bool
	View, LogView uint32
	// Epoch is the configuration epoch of View, LogEpoch that of LogView (vsr/reconfig.go):
	// a view is named by its epoch and number.
	Epoch, LogEpoch uint32
	Commit          uint64
	CheckpointOp    uint64
	// CheckpointDamaged: the simulator injected a fault into the superblock or into the
	// checkpoint file it names (recovery may fall back to an older checkpoint).
	CheckpointDamaged bool
	// CheckpointUnheld: the checkpoint file the superblock names does not hold the size and
	// checksum the copy records, though nothing was injected: the copy is what a superblock
	// write whose sync failed left on disk (the engine was told it failed), and the engine's
	// retry of that checkpoint then rewrote the file, unsynced, when the crash came. Recovery
	// falls back to the previous checkpoint; only a checkpoint the replica had reported
	// durable (vsr.EventCheckpoint) holds a restart up.
	CheckpointUnheld bool
	// SuperblockDamaged: the simulator injected a fault into the superblock itself (recovery
	// may read an older copy, which may name an older checkpoint).
	SuperblockDamaged bool
	// FormatReplayable: every log segment file from the first through CheckpointOp's is on
	// disk, so ops 1 through the checkpoint may be replayed from the format's state (op 0).
	FormatReplayable bool
	// FaultsInjected counts the faults the simulator ever injected on this disk (it only
	// grows): a replica repairing a damaged entry rewrites its log from there.
	FaultsInjected uint64
	// Entries are the log entries durably present above CheckpointOp, ascending by op, one
	// per op.
	Entries []DurableEntry
}

// DurableEntry is one durable log entry.
type DurableEntry struct {
	Op      uint64
	Prepare checksum.Sum // the checksum of the prepare it holds
	View    uint32       // the view the prepare was created in
	Epoch   uint32       // and that view's configuration epoch
	// Intact: the entry's checksums hold on the durable bytes and the simulator has placed
	// no fault on its sectors; a damaged copy is there but cannot be read back.
	Intact bool
	// Disowned: the engine wrote a distrust mark over the entry's record (after a fallback
	// past a damaged checkpoint that had not audited it): recovery holds the op faulty, of
	// unknown identity, so the copy names nothing for a view change. Not Intact either.
	Disowned bool
}

// entry returns the durable entry at op.
func (d *DiskImage) entry(op uint64) (DurableEntry, bool) {
	i := sort.Search(len(d.Entries), func(i int) bool { return d.Entries[i].Op >= op })
	if i < len(d.Entries) && d.Entries[i].Op == op {
		return d.Entries[i], true
	}
	return DurableEntry{}, false
}

// DiskReader reads replica's durable disk image; opMax bounds the ops of interest (the
// highest op any prepare was created at), so the reader need not probe beyond it.
type DiskReader func(replica int, opMax uint64) DiskImage

// When the Suite reads disks (cost: a disk image is a copy of the durable log above the
// checkpoint, and a parse of what changed since the last one):
//   - a replica's own disk at its checkpoint, compaction-prone (disk_full) and view events,
//     and right after it crashed (what recovery will read);
//   - every disk at each truncation, every diskAllEvery-th checkpoint, and at Finish, for
//     the cluster-wide check that a committed op keeps an intact copy somewhere.
const diskAllEvery = 4

// damage follows what the simulator damaged on each disk between two reads. A replica
// repairing a damaged entry (or recovering past a damaged checkpoint) rewrites its
// append-only log from there, so copies missing from there on are the fault's doing, which
// the atlas allows: acked_durable and log_view_durable excuse them.
type damage struct {
	faults     []uint64 // each disk's injected-fault count at its last read
	low        []uint64 // its lowest damaged entry then (0: none)
	checkpoint []bool   // its checkpoint or superblock damaged then
}

const noneExcused = ^uint64(0)

// excused returns the op from which missing copies on this read are explained by damage
// (noneExcused if none are), and takes the read as the new baseline.
func (d *damage) excused(replica int, image *DiskImage) uint64 {
	d.faults, d.low, d.checkpoint = grow(d.faults, replica), grow(d.low, replica), grow(d.checkpoint, replica)
	low := uint64(0)
	for _, e := range image.Entries {
		if !e.Intact {
			low = e.Op
			break
		}
	}
	from := noneExcused
	switch {
	case image.FaultsInjected != d.faults[replica], image.CheckpointDamaged, d.checkpoint[replica]:
		from = 0 // damage since the last read, at ops not known, or under the whole log
	case d.low[replica] != 0:
		from = d.low[replica]
	}
	if low != 0 {
		from = min(from, low)
	}
	d.faults[replica], d.low[replica], d.checkpoint[replica] = image.FaultsInjected, low, image.CheckpointDamaged
	return from
}
