package scenarios

import "vopr/cluster/storage"

// Transient read errors of the storage episode. A latent error that the drive's retries
// later get past hides a sector from one Open and shows it whole to the next: recovery
// decides on what it could not read, and must leave nothing there that a later boot, reading
// it, takes for the log (an unfinished append past the head that the hidden sector kept Open
// from seeing whole, say, under a head rewritten and a log view persisted since).
//
// In a third of the boots (its own stream) the episode hides one sector before Open: past
// the last acknowledged entry of the head's segment when the file holds bytes there (what an
// unfinished append left), else anywhere in a segment; and cures it once the recovery passed
// its check. An op whose entry or record the sector holds is damaged for that Open; one
// already damaged is left alone (one fault per op).

// hiddenSector is a sector hidden from one Open.
type hiddenSector struct {
	name   string
	offset int64
	ops    []uint64 // the ops it damaged, for that Open only
}

// hideSector draws and places the boot's transient read error, if any.
func (e *storeEpisode) hideSector() *hiddenSector {
	r := e.transient
	if r.IntN(3) != 0 {
		return nil
	}
	name, lo := segmentFileName4(e.m.Head+1), int64(-1)
	image := e.disk.Pristine(name)
	for _, p := range placedEntries(e.disk.Durable(name)) {
		if p.op <= e.m.Head {
			lo = max(lo, p.offset+p.size)
		}
	}
	if lo < 0 || lo >= int64(len(image)) || r.IntN(4) == 0 {
		names := e.segments()
		if len(names) == 0 {
			return nil
		}
		name = names[r.IntN(len(names))]
		image, lo = e.disk.Pristine(name), 0
	}
	sectors := (int64(len(image)) - lo) / storage.SectorSize
	if sectors <= 0 {
		return nil
	}
	h := &hiddenSector{name: name, offset: lo + storage.SectorSize*r.Int64N(sectors)}
	for _, op := range e.opsAt(name, image, h.offset) {
		if e.damaged[op] {
			return nil
		}
		h.ops = append(h.ops, op)
	}
	e.disk.LatentSectorError(name, h.offset)
	for _, op := range h.ops {
		e.damaged[op] = true
		if h.offset == int64(op%uint64(storageEpisodeOptions.SegmentEntriesMax))*storage.SectorSize {
			// A mark is one copy, read or not: an Open that cannot read the distrust mark
			// over this op's record takes an entry it kept back for the op's (storage crash
			// seed 2048358986: op 2's unfinished append, hidden from the Open that marked
			// it, read whole at the next, whose read of the mark failed), as when a
			// misdirected write destroys the mark (recordHit).
			e.recordHit[op] = true
		}
	}
	e.hideMarksBelowCheckpoint(h)
	e.counters["storage_episode.damage.transient_read"]++
	return h
}

// hideMarksBelowCheckpoint counts the hidden sector as a hit on the mark of each disowned op
// at or below the checkpoint whose record sector it is: opsAt looks above the checkpoint
// only, but a fallback past a damaged checkpoint brings those ops back above the one it
// falls back to, and the mark, one copy, is then all that keeps the stale entry from coming
// back (storage crash seed 633389253502: op 1, disowned at a fallback to op 0 past installed
// checkpoint 3, its faulty mark hidden at the Open that fell back to op 0 past installed
// checkpoint 4). Its disk and its draws stay as they were.
func (e *storeEpisode) hideMarksBelowCheckpoint(h *hiddenSector) {
	perSegment := uint64(storageEpisodeOptions.SegmentEntriesMax)
	for op := range e.m.Disowned {
		if op <= e.m.CP && segmentFileName4(op) == h.name && h.offset == int64(op%perSegment)*storage.SectorSize {
			e.recordHit[op] = true
		}
	}
}

// opsAt returns the ops above the checkpoint whose newest entry (in image, the segment as
// written) or record sector holds offset.
func (e *storeEpisode) opsAt(name string, image []byte, offset int64) []uint64 {
	perSegment := uint64(storageEpisodeOptions.SegmentEntriesMax)
	var ops []uint64
	newest := map[uint64]placedEntry{}
	for _, p := range placedEntries(image) {
		newest[p.op] = p
	}
	for op := e.m.CP + 1; op <= e.m.Head+perSegment; op++ {
		if segmentFileName4(op) != name {
			continue
		}
		record := int64(op%perSegment) * storage.SectorSize
		p, ok := newest[op]
		if offset/storage.SectorSize == record/storage.SectorSize ||
			(ok && p.offset <= offset && offset < p.offset+p.size) {
			ops = append(ops, op)
		}
	}
	return ops
}

// healHidden cures the hidden sector after the recovery's check: the damage it did was for
// that Open alone (rejoin marks what Open reported faulty).
func (e *storeEpisode) healHidden(h *hiddenSector) {
	if h == nil {
		return
	}
	e.disk.HealLatent(h.name, h.offset)
	for _, op := range h.ops {
		delete(e.damaged, op)
	}
}
