package faults

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"

	"vopr/cluster/storage"
	"vopr/cluster/vsr"
	"vopr/sim"
)

// Identity loss (the aimed move disk.corrupt_identity): PAR's worst recoverable case, both
// copies of an entry's identity rotted. The storage engine keeps, beside each log entry, a
// redundant record of its header; with the record intact, a damaged entry is known ("faulty:
// op n, prepare x") and peers repair it by checksum or deny holding it. With the entry and its
// record both damaged, recovery knows only that op n existed: its header drops out of the
// do_view_change, a new primary must take it from another replica's log of the same log
// view, and a replica asked whether it holds x can only say "I cannot tell". The bugs this
// reaches live in that path: the merge of headers, the nack rule for unknown identities,
// the repair of an op whose checksum nobody gave, the recovery's count of a faulty head.
//
// The move damages 1..identityEntriesMax of the newest entries of one replica (the current
// primary when there is one: its log is the longest, so the view change that follows is
// likeliest to choose it), each with a sector of the entry and its record's sector, and then
// reboots the replica (crash and restart at once, if the availability bound allows), so that
// recovery reads the damage now rather than at the next crash. As the other correlated
// moves, it damages only entries another replica durably holds intact where no fault may
// strike (a guarantor): every committed op keeps a good copy. It is stricter than they are,
// though: it damages an entry only while every other replica but f holds it intact, so
// that after the move a quorum still does. An entry whose identity is lost cannot be
// repaired by checksum nor denied, so the view change must find it, header and body, in a
// quorum's logs; with its identity gone on more than f replicas (swarm seed 268 before this
// rule: three of four replicas lost ops 77-78 in turn) no protocol can decide it, and the
// cluster rightly stays in view change.
//
// Records are found by content, as entries are: a sector carrying the record magic whose
// embedded entry header is the damaged entry's, never by the engine's layout.

// ActionDiskCorruptIdentity is the identity-loss move's action name.
const ActionDiskCorruptIdentity = "disk.corrupt_identity"

// identityEntriesMax is the most entries one identity loss damages.
const identityEntriesMax = 3

// recordMagicAt16 is the storage engine's record magic ("VOPRREC1"), at byte 16 of a record
// sector, and recordEntryAt the offset of the entry header it carries.
const (
	recordMagicAt16 = 0x31434552524f5056
	recordEntryAt   = 32
)

func (n *Nemesis) identityLoss(c *sim.Cluster) {
	if n.atlas.F == 0 {
		return // no disk fault at all where no replica may be faulty
	}
	target, ok := n.identityTarget(c)
	if !ok {
		return
	}
	n.identityLossOn(c, target)
}

// identityLossOn damages up to identityEntriesMax of target's newest entries, identity and
// all, and reboots it (see identityLoss); it reports whether it damaged any.
func (n *Nemesis) identityLossOn(c *sim.Cluster, target int) bool {
	want := 1 + n.r.IntN(identityEntriesMax)
	v := newDiskView(c)
	disk := c.Nodes[target].Disk
	var what []string
	damaged := 0
	for _, e := range n.tailEntries(v, target) {
		if damaged == want {
			break
		}
		if holders, _ := n.holders(v, target, e); len(holders) < len(v.active)-n.atlas.F {
			continue // a quorum must keep the entry intact, identity and all: see above
		}
		record, ok := recordOf(disk.Pristine(e.name), e)
		if !ok {
			continue
		}
		entrySector := e.offset + storage.SectorSize*n.r.Int64N(e.size/storage.SectorSize)
		disk.CorruptSector(e.name, entrySector)
		disk.CorruptSector(e.name, record)
		what = append(what, fmt.Sprintf("op %d %s@%d+record@%d", e.op, e.name, entrySector, record))
		damaged++
	}
	if damaged == 0 {
		return false
	}
	reboot := false
	for _, i := range n.mayTakeDown(c) {
		reboot = reboot || i == target
	}
	n.record(c, target, ActionDiskCorruptIdentity, fmt.Sprintf("entries=%d %s reboot=%t", damaged,
		strings.Join(what, ","), reboot))
	n.hits.Hit(MarkDiskIdentityLoss)
	if reboot {
		c.CrashReplica(target)
		n.stableUntil[target] = n.tick + uint64(n.o.ReplicaStabilityTicks)
		c.StartReplica(target)
		n.hits.Hit(MarkDiskIdentityLossReboot)
	}
	return true
}

// identityTarget is the normal primary of the highest view, if a replica is one, else a
// random up replica.
func (n *Nemesis) identityTarget(c *sim.Cluster) (int, bool) {
	best, view := -1, uint32(0)
	for i := 0; i < n.swarm.Replicas; i++ {
		r := c.Replica(i)
		if r == nil || c.Nodes[i].Status() != sim.NodeUp {
			continue
		}
		if s := r.TraceState(); s.Status == vsr.StatusNormal && s.Role == vsr.RolePrimary && (best < 0 || s.View > view) {
			best, view = i, s.View
		}
	}
	if best >= 0 {
		return best, true
	}
	return n.pick(n.replicasWhere(c, func(i int) bool { return c.Nodes[i].Status() == sim.NodeUp }))
}

// recordOf finds the sector of segment image holding e's redundant record.
func recordOf(image []byte, e logEntry) (int64, bool) {
	return RecordSectorOf(image, e.offset)
}

// RecordSectorOf finds the sector of segment image holding the redundant record of the entry
// at entryAt: the record magic at byte 16, and the entry's own header (which names its op and
// offset) at recordEntryAt. The storage_matrix harness shares it to take an entry's identity.
func RecordSectorOf(image []byte, entryAt int64) (int64, bool) {
	if entryAt < 0 || entryAt+storage.HeaderSize > int64(len(image)) {
		return 0, false
	}
	header := image[entryAt : entryAt+storage.HeaderSize]
	for at := int64(0); at+storage.SectorSize <= int64(len(image)); at += storage.SectorSize {
		if at == entryAt {
			continue
		}
		s := image[at : at+storage.SectorSize]
		if binary.LittleEndian.Uint64(s[16:]) == recordMagicAt16 &&
			bytes.Equal(s[recordEntryAt:recordEntryAt+storage.HeaderSize], header) {
			return at, true
		}
	}
	return 0, false
}
