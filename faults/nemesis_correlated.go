package faults

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"

	"vopr/cluster/storage"
	"vopr/sim"
)

// Correlated damage (the aimed move disk.correlated): real disks fail in bursts, and the
// interesting bugs need damage on more than one entry, or damage where the good copies are
// out of reach. Two moves:
//
//   - corrupt_tail damages several of the newest log entries of one replica at once;
//   - corrupt_while_down crashes a replica holding good copies (unless one is down already)
//     and damages entries of another replica that the down ones hold intact.
//
// Both go beyond the atlas's "at most f replicas per zone" on purpose, but keep its promise
// where it matters: an entry is damaged only if another replica, on which random faults may
// not strike that zone, durably holds an intact identical copy (a guarantor). The
// guarantor's copy is then beyond every fault: random ones skip it, the nemesis's atlas-bound
// corruption skips it, and these moves never damage the last guaranteed copy. So every
// committed op keeps an intact copy somewhere, and a loss the swarm reports is a bug.
//
// Entries are found by scanning the sectors of segment files for entry headers whose whole
// entry checks out (as the durability check does), never by offsets: the engine's layout may
// change.

const (
	// correlatedEntriesMax is the most entries one move damages.
	correlatedEntriesMax = 5
	// correlatedSegments is how many of the newest segments a move looks for entries in.
	correlatedSegments = 2
)

// logEntry is one log entry found on a disk.
type logEntry struct {
	name   string
	op     uint64
	offset int64
	size   int64
	body   []byte
}

// scanEntries returns the entries of segment file name held in image, in offset order.
func scanEntries(name string, image []byte) []logEntry {
	var out []logEntry
	end := int64(len(image))
	for offset := int64(0); offset+storage.HeaderSize <= end; {
		h, err := storage.DecodeHeader(image[offset : offset+storage.HeaderSize])
		if err == nil && offset+h.Size() <= end {
			if _, body, err := storage.DecodeEntry(image[offset : offset+h.Size()]); err == nil {
				out = append(out, logEntry{name: name, op: h.Op, offset: offset, size: h.Size(), body: body})
				offset += h.Size()
				continue
			}
		}
		offset += storage.SectorSize
	}
	return out
}

// entryDamaged reports whether a fault overlay lies on any sector of e.
func entryDamaged(faults []sim.DiskFault, e logEntry) bool {
	return slices.ContainsFunc(faults, func(f sim.DiskFault) bool {
		return f.Name == e.name && f.Offset >= e.offset && f.Offset < e.offset+e.size
	})
}

// diskView is what one move knows of the replicas' disks: their entries, scanned once.
type diskView struct {
	c *sim.Cluster
	// durable is, per replica and file, the durable image's undamaged entries by op (in
	// file order for each op).
	durable map[viewFile]map[uint64][]logEntry
	// active are the active members of the newest configuration: a removed replica's disk
	// still holds its copies, but nobody asks it for them, so it is never a holder.
	active []int
}

type viewFile struct {
	replica int
	name    string
}

func newDiskView(c *sim.Cluster) *diskView {
	active, _ := c.Members()
	return &diskView{c: c, durable: map[viewFile]map[uint64][]logEntry{}, active: active}
}

// intact returns replica's durable, undamaged copy of e (same op, same bytes), if it has one
// that its engine recovers: one an undamaged redundant record names. An entry without one
// is an append that never finished (its record not written, or overwritten by a mark), which
// recovery drops by design, so it guarantees nothing: counted as a guarantor, such a copy
// let a move damage the one other copy of op 23, and a random fault the third (swarm seed
// 2027942608: every replica asked for op 23 forever).
func (v *diskView) intact(replica int, e logEntry) (logEntry, bool) {
	key := viewFile{replica, e.name}
	byOp, ok := v.durable[key]
	if !ok {
		byOp = map[uint64][]logEntry{}
		disk := v.c.Nodes[replica].Disk
		faults := disk.Faults()
		// A view, not a copy: the entries are read within this move, before it damages
		// anything (damage adds overlays; it never changes a file's bytes).
		image := disk.DurableView(e.name, 0, math.MaxInt64)
		recorded := recordedHeaders(image, e.name, faults)
		for _, d := range scanEntries(e.name, image) {
			if !entryDamaged(faults, d) && recorded[string(image[d.offset:d.offset+storage.HeaderSize])] {
				byOp[d.op] = append(byOp[d.op], d)
			}
		}
		v.durable[key] = byOp
	}
	for _, d := range byOp[e.op] {
		if bytes.Equal(d.body, e.body) {
			return d, true
		}
	}
	return logEntry{}, false
}

// recordedHeaders returns the entry headers that the undamaged redundant records of segment
// image name (a record sector: the record magic at byte 16, the entry's header at
// recordEntryAt).
func recordedHeaders(image []byte, name string, faults []sim.DiskFault) map[string]bool {
	recorded := map[string]bool{}
	for at := int64(0); at+storage.SectorSize <= int64(len(image)); at += storage.SectorSize {
		s := image[at : at+storage.SectorSize]
		if binary.LittleEndian.Uint64(s[16:]) != recordMagicAt16 || slices.ContainsFunc(faults, func(f sim.DiskFault) bool {
			return f.Name == name && f.Offset == at
		}) {
			continue
		}
		recorded[string(s[recordEntryAt:recordEntryAt+storage.HeaderSize])] = true
	}
	return recorded
}

// holders lists the active members other than target holding an intact copy of e, and
// whether one of them is a guarantor: the atlas keeps random faults off its copy. A removed
// replica's copy counts for nothing: counted as a guarantor, it let two moves damage the two
// members' copies of a committed op that the removal's change op itself was (swarm seed
// 2026282304: every member then asked for op 35 forever).
func (n *Nemesis) holders(v *diskView, target int, e logEntry) (holders []int, guaranteed bool) {
	for _, i := range v.active {
		if i == target || i == n.leaving {
			continue
		}
		if d, ok := v.intact(i, e); ok {
			holders = append(holders, i)
			guaranteed = guaranteed || !n.atlas.Allowed(i, d.name, d.offset)
		}
	}
	return holders, guaranteed
}

// tailEntries returns target's newest undamaged entries (highest op first) in the newest
// segments, each with a guarantor elsewhere.
func (n *Nemesis) tailEntries(v *diskView, target int) []logEntry {
	n.advanceSegmentHigh(v.c)
	disk := v.c.Nodes[target].Disk
	faults := disk.Faults()
	var out []logEntry
	for k := n.segmentHigh; k+correlatedSegments > n.segmentHigh; k-- {
		name := segmentName(k)
		for _, e := range scanEntries(name, disk.Pristine(name)) {
			if _, guaranteed := n.holders(v, target, e); guaranteed && !entryDamaged(faults, e) {
				out = append(out, e)
			}
		}
		if k == 0 {
			break
		}
	}
	slices.SortStableFunc(out, func(a, b logEntry) int { return -cmpOp(a.op, b.op) })
	return out
}

func cmpOp(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (n *Nemesis) correlated(c *sim.Cluster) {
	if n.atlas.F == 0 {
		return // no disk fault at all where no replica may be faulty
	}
	if n.r.IntN(2) == 0 {
		n.corruptTail(c)
	} else {
		n.corruptWhileDown(c)
	}
}

// corruptTail damages 2..correlatedEntriesMax of one replica's newest entries at once.
func (n *Nemesis) corruptTail(c *sim.Cluster) {
	target := n.r.IntN(n.swarm.Replicas)
	want := 2 + n.r.IntN(correlatedEntriesMax-1)
	v := newDiskView(c)
	entries := n.tailEntries(v, target)
	if len(entries) < 2 {
		return // not several: nothing to do
	}
	n.damage(c, target, entries[:min(want, len(entries))], ActionDiskCorruptTail, "")
	n.hits.Hit(MarkDiskCorrelatedTail)
}

// corruptWhileDown damages entries of a running replica that a down replica holds intact,
// crashing one holder first if none is down.
func (n *Nemesis) corruptWhileDown(c *sim.Cluster) {
	isDown := func(i int) bool { return c.Nodes[i].Status() == sim.NodeCrashed }
	if len(n.replicasWhere(c, isDown)) == 0 {
		victim, ok := n.pick(n.mayTakeDown(c))
		if !ok {
			return
		}
		n.record(c, victim, ActionCrash, "to damage others while it is down")
		c.CrashReplica(victim)
	}
	target, ok := n.pick(n.replicasWhere(c, func(i int) bool { return !isDown(i) }))
	if !ok {
		return
	}
	want := 1 + n.r.IntN(correlatedEntriesMax)
	v := newDiskView(c)
	var chosen []logEntry
	onlyDown := false
	for _, e := range n.tailEntries(v, target) {
		holders, _ := n.holders(v, target, e)
		if len(chosen) == want || !slices.ContainsFunc(holders, isDown) {
			continue
		}
		chosen = append(chosen, e)
		onlyDown = onlyDown || !slices.ContainsFunc(holders, func(i int) bool { return !isDown(i) })
	}
	if len(chosen) == 0 {
		return
	}
	n.damage(c, target, chosen, ActionDiskCorruptWhileDown, fmt.Sprintf("only_down_copies=%t", onlyDown))
	n.hits.Hit(MarkDiskCorrelatedWhileDown)
	if onlyDown {
		n.hits.Hit(MarkDiskCorrelatedOnlyDownCopies)
	}
}

// damage strikes one random sector of each entry on replica's disk, corrupting it or making
// it unreadable, and traces the move with the ops it hit.
func (n *Nemesis) damage(c *sim.Cluster, replica int, entries []logEntry, action, detail string) {
	disk := c.Nodes[replica].Disk
	type strike struct {
		e      logEntry
		offset int64
		latent bool
	}
	strikes := make([]strike, len(entries))
	var what []string
	for i, e := range entries {
		strikes[i] = strike{e: e, offset: e.offset + storage.SectorSize*n.r.Int64N(e.size/storage.SectorSize),
			latent: n.r.IntN(2) == 0}
		what = append(what, fmt.Sprintf("op %d %s@%d", e.op, e.name, strikes[i].offset))
	}
	text := fmt.Sprintf("entries=%d %s", len(entries), strings.Join(what, ","))
	if detail != "" {
		text += " " + detail
	}
	n.record(c, replica, action, text)
	for _, s := range strikes {
		if s.latent {
			disk.LatentSectorError(s.e.name, s.offset)
		} else {
			disk.CorruptSector(s.e.name, s.offset)
		}
	}
}

// SetLeaving tells the nemesis that a membership change is taking replica node out (-1:
// none): from then on its copies guarantee nothing to the correlated moves.
func (n *Nemesis) SetLeaving(node int) { n.leaving = node }

// SoleHolder reports whether node holds, among the active members, the only intact copy of
// an entry that another active member's disk has damaged: a change that removes node, or
// replaces its disk, would leave the cluster without one. The correlated moves damage an
// entry only while a guarantor holds it, and a replaced disk took the guarantor's copy with
// it (swarm seed 2026305952: op 731, damaged on two replicas, was lost with the third's
// disk).
func (n *Nemesis) SoleHolder(c *sim.Cluster, node int) bool {
	v := newDiskView(c)
	for _, t := range v.active {
		if t == node {
			continue
		}
		disk := c.Nodes[t].Disk
		faults := disk.Faults()
		var names []string
		for _, f := range faults {
			if strings.HasPrefix(f.Name, "log-") && !slices.Contains(names, f.Name) {
				names = append(names, f.Name)
			}
		}
		for _, name := range names {
			for _, e := range scanEntries(name, disk.Pristine(name)) {
				if !entryDamaged(faults, e) {
					continue
				}
				holders, _ := n.holders(v, t, e)
				if slices.Equal(holders, []int{node}) {
					return true
				}
			}
		}
	}
	return false
}
