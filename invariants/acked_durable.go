package invariants

import (
	"cmp"
	"slices"

	"vopr/cluster/checksum"
)

// NameAckedDurable checks that acknowledged copies stay on disk, not only at the moment of
// the acknowledgement (which the harness checks against the disk at every prepare_ok and
// every primary's own vote):
//
//   - A copy stays: a prepare a replica acknowledged (prepare_ok, or a primary counting its
//     own vote) stays durably on that replica's disk until the replica legitimately drops it:
//     a durable checkpoint covers the op -- its own, or any replica's (a replica that finds
//     its log unverifiable against a new view's drops it and state-syncs from a peer's
//     checkpoint, which is legitimate once some checkpoint holds the op) -- or a view change
//     truncated it while it was not committed, or the simulator damaged a copy at or below
//     it (the engine's log is append-only: repairing a damaged entry rewrites the log from
//     it, so the intact copies above it are dropped and written again). A copy found gone from a disk, of an op that was already executed with that
//     prepare while the copy was known to be there, was dropped after the op committed: a
//     violation. A copy the simulator damaged is still there (DurableEntry.Intact false).
//   - The last copy stays: every executed op above every replica's durable checkpoint keeps
//     an intact durable copy on some disk, unless the simulator damaged more copies than
//     the fault atlas allows (f = (replicas-1)/2): then the loss is beyond the fault model.
//
// Disks are read at the cadence described in disk.go; a declared wipe or restore forgets
// the copies it replaced.
const NameAckedDurable = "acked_durable"

type durableAck struct {
	op   uint64
	sum  checksum.Sum
	view uint32
	atNs int64
}

type ackedDurable struct {
	canon    *canonicalCommit
	replicas int // the cluster's size, for the atlas's f
	// acks are each replica's acknowledged copies, one per op, in op order: check walks
	// them in that order (a map's keys were sorted at every disk read).
	acks [][]durableAck
	// checkedNs is when each replica's disk was last read: the copies it still holds were
	// there then.
	checkedNs []int64
	checks    uint64
	// covered is the highest checkpoint any replica made durable (vsr.EventCheckpoint).
	covered uint64
}

func (a *ackedDurable) ack(atNs int64, replica int, op uint64, sum checksum.Sum, view uint32) {
	a.acks = grow(a.acks, replica)
	acks := a.acks[replica]
	// Acknowledgements mostly come in op order: the search is for the others.
	i := len(acks)
	if i > 0 && acks[i-1].op >= op {
		i, _ = slices.BinarySearchFunc(acks, op, func(a durableAck, op uint64) int { return cmp.Compare(a.op, op) })
	}
	switch {
	case i == len(acks):
		// The usual case: appended and filled in place (an ack built apart and copied in
		// was reread with wide loads right after its narrower stores, a stall per ack).
		acks = append(acks, durableAck{})
		a.acks[replica] = acks
	case acks[i].op == op:
		// A later acknowledgement of the op replaces the earlier.
	default:
		a.acks[replica] = slices.Insert(acks, i, durableAck{})
		acks = a.acks[replica]
	}
	acks[i].op, acks[i].sum, acks[i].view, acks[i].atNs = op, sum, view, atNs
}

// check holds one replica's acknowledged copies to its disk image; copies missing from op
// excused on are explained by simulator damage (see damage).
func (a *ackedDurable) check(atNs int64, replica int, image *DiskImage, excused uint64) *Violation {
	a.checks++
	a.checkedNs = grow(a.checkedNs, replica)
	seenNs := a.checkedNs[replica]
	a.checkedNs[replica] = atNs
	if replica >= len(a.acks) || !image.Valid {
		return nil // nothing acknowledged, or a superblock the simulator damaged
	}
	// The copies kept are moved down in place over those dropped; a violation stops the
	// walk, keeping the copies it did not reach.
	acks, kept := a.acks[replica], 0
	var v *Violation
	for i, ack := range acks {
		op := ack.op
		if op <= max(image.CheckpointOp, a.covered) {
			continue
		}
		if e, ok := image.entry(op); ok && e.Prepare == ack.sum {
			acks[kept] = ack
			kept++
			continue
		}
		rec := a.canon.record(op)
		if rec != nil && rec.sum == ack.sum && rec.atNs <= max(seenNs, ack.atNs) && op < excused {
			kept += copy(acks[kept:], acks[i+1:])
			v = violation(NameAckedDurable, replica, op, ack.view, atNs,
				"acknowledged prepare %s at op %d at %s; the op was executed with it at %s while the copy was on disk (still there at %s), and now the disk no longer holds it durably (durable checkpoint op %d): a committed copy was dropped",
				short(ack.sum), op, formatNs(ack.atNs), formatNs(rec.atNs), formatNs(max(seenNs, ack.atNs)),
				image.CheckpointOp)
			break
		}
	}
	a.acks[replica] = acks[:kept]
	return v
}

// lastCopy checks, over every replica's fresh disk image, that each executed op above every
// durable checkpoint keeps an intact copy somewhere.
func (a *ackedDurable) lastCopy(atNs int64, images []DiskImage) *Violation {
	var covered uint64
	for i := range images {
		if images[i].Valid {
			covered = max(covered, images[i].CheckpointOp)
		}
	}
	f := (a.replicas - 1) / 2
	for op := covered + 1; op <= a.canon.highest; op++ {
		rec := a.canon.record(op)
		if rec == nil {
			continue
		}
		intact, damaged := 0, 0
		for i := range images {
			if e, ok := images[i].entry(op); ok && e.Prepare == rec.sum {
				if e.Intact {
					intact++
				} else {
					damaged++
				}
			}
		}
		if intact == 0 && damaged <= f {
			return violation(NameAckedDurable, -1, op, rec.view, atNs,
				"op %d, executed with prepare %s at %s, has no intact durable copy on any of the %d disks (%d damaged by injected faults, the atlas allows %d), and no durable checkpoint covers it (highest: op %d)",
				op, short(rec.sum), formatNs(rec.atNs), len(images), damaged, f, covered)
		}
	}
	return nil
}

// forget drops a replica's copies: its disk was wiped or replaced by declaration.
func (a *ackedDurable) forget(replica int) {
	if replica < len(a.acks) {
		a.acks[replica] = nil
	}
}
