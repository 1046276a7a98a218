package scenarios

import (
	"fmt"

	"vopr/cluster/storage"
)

// Write-time misdirects of the storage episode. The damage drawn after the crash (damage)
// hits copies at rest; a write the disk sends elsewhere hits the engine while it works: an
// entry of a fresh or replacing append, its record, a tombstone of a truncation, a repair,
// a record Open places, each leaving the old bytes where it was meant to go (PAR's lost
// write) and its own bytes over whatever lay where it landed. The engine reads back only
// what it must (tombstones, placed records), so most of these it learns of at the next boot,
// from its redundancy: an entry whose record names another, a record whose entry is gone.
//
// In half the boots the episode arms one misdirect (sim.Disk.ArmMisdirect) at a drawn
// completion before the crash, on the segment file the operation in flight writes (or any
// segment), aimed at its record area, its entries, or anywhere in it. After the crash, every
// op whose entry or record, where the engine wrote it, the misdirect displaced or covered is
// damaged: it may come back faulty, never silently lost, never with a body or identity that
// was not acknowledged there.

// misdirectAim is where an armed misdirect waits: the completion before which it is armed
// (-1: none this boot), and the byte range of the segment file it waits in.
type misdirectAim struct {
	at     int
	lo, hi int64
}

// drawMisdirectAim draws the boot's armed misdirect from the episode's write-fault stream,
// for a boot that crashes after crashAfter completions.
func (e *storeEpisode) drawMisdirectAim(crashAfter int) misdirectAim {
	r := e.writeFaults
	if crashAfter == 0 || r.IntN(2) != 0 {
		return misdirectAim{at: -1}
	}
	aim := misdirectAim{at: r.IntN(crashAfter)}
	records := int64(storageEpisodeOptions.SegmentEntriesMax) * storage.SectorSize
	switch r.IntN(3) {
	case 0:
		aim.lo, aim.hi = 0, records
	case 1:
		aim.lo, aim.hi = records, 1<<40
	default:
		aim.lo, aim.hi = 0, 1<<40
	}
	return aim
}

// armMisdirect arms aim on the segment the operation in flight writes, or on any segment.
func (e *storeEpisode) armMisdirect(aim misdirectAim) {
	if p := e.m.Pending; p != nil && p.Op > 0 && e.writeFaults.IntN(4) != 0 {
		e.disk.ArmMisdirect(segmentFileName4(p.Op), aim.lo, aim.hi)
		return
	}
	if names := e.segments(); len(names) > 0 {
		e.disk.ArmMisdirect(names[e.writeFaults.IntN(len(names))], aim.lo, aim.hi)
	}
}

// settleMisdirect withdraws the boot's armed misdirect after the crash; if a write landed
// elsewhere, it marks the ops it hit damaged (noteMisdirectHit): those up to the head or the
// op in flight, and the ops above whose record sector it covered (a record there may be taken
// for a durable append, so such an op may come back faulty), in every segment file on disk.
func (e *storeEpisode) settleMisdirect() {
	if !e.disk.DisarmMisdirect() {
		return
	}
	e.counters["storage_episode.damage.misdirected_write"]++
	e.markMisdirectHits(0, e.m.CP)
}

// markMisdirectHits marks the ops above checkpoint op cp that a landed misdirect hit
// (settleMisdirect), but for the record sector of op own (0: none), which the engine must
// have read back and written again (storage_episode_open_record.go); it returns them.
//
// The ops it may have hit are those of every segment file on disk, not only up to the head's
// segment (or the op in flight's, or a failed append's): a failed cut leaves the segments of
// a truncation it gave up on disk, above the head, and the engine reads their record areas
// (storage crash seed 831660059819: truncate_after(7) failed to remove segment 2, where op 9's
// misdirected entry write had landed on op 10's record sector; Open took it for a damaged
// record, the evidence of a finished append, and held op 10 faulty). Only the ops whose own
// sectors the landing altered are marked, wherever their file lies.
func (e *storeEpisode) markMisdirectHits(own, cp uint64) (hit []uint64) {
	top := max(e.m.Head, e.errorAim.failedOp)
	if p := e.m.Pending; p != nil {
		top = max(top, p.Op)
	}
	perSegment := uint64(storageEpisodeOptions.SegmentEntriesMax)
	end := (top/perSegment + 1) * perSegment
	for _, name := range e.segments() {
		var index uint64
		if _, err := fmt.Sscanf(name, "log-%x", &index); err == nil {
			end = max(end, (index+1)*perSegment)
		}
	}
	images := map[string][]byte{}
	for op := cp + 1; op < end; op++ {
		name := segmentFileName4(op)
		image, ok := images[name]
		if !ok {
			image = e.disk.Pristine(name)
			images[name] = image
		}
		record, entry := e.misdirectHit(name, image, op)
		record = record && op != own
		if record || entry {
			hit = append(hit, op)
		}
		e.noteMisdirectHit(op, record, entry)
	}
	return hit
}

// noteMisdirectHit notes what the boot's misdirect left of op's copies: its record sector,
// its entry, neither or both. Both copies are gone when it hit the record and the entry is
// hit too, by the same write or by an earlier fault that still stands (entryHit: storage
// crash seeds 2200504435 and 4100155577, an entry covered at rest by a misdirected copy of
// another op, left faulty and known by its record, whose record a repair's misdirected
// record write covered a boot later). Nothing names the op then, and Open may drop it as an
// append that never finished (a foreign record is no evidence: seed 1072540137867). Either
// copy intact, the op must come back.
func (e *storeEpisode) noteMisdirectHit(op uint64, record, entry bool) {
	if record || entry {
		e.damaged[op] = true
		e.counters["storage_episode.damage.misdirected_write_ops"]++
	}
	if record {
		e.recordHit[op] = true
	}
	if record && entry {
		e.counters["storage_episode.damage.misdirected_both_copies"]++
	} else if record && e.entryHit[op] {
		e.counters["coverage.storage_episode.both_copies_across_boots"]++
	}
	if record && (entry || e.entryHit[op]) {
		e.bothCopies[op] = true
	}
	if entry {
		e.entryHit[op] = true
	}
}

// misdirectHit reports whether op's record sector (record.go: sector op % SegmentEntriesMax
// of its segment), and whether op's newest entry as the engine wrote it (the pristine image:
// every write where it was meant to go), read otherwise than written. A write displaced by a
// misdirect reads as what lay there before, with that sector's old fault if it had one
// (storage crash seed 2496: a repair of an op whose sector had a latent error, misdirected,
// left the error in place).
func (e *storeEpisode) misdirectHit(name string, image []byte, op uint64) (record, entry bool) {
	at := int64(op%uint64(storageEpisodeOptions.SegmentEntriesMax)) * storage.SectorSize
	record = len(e.disk.DurablyAltered(name, at, storage.SectorSize)) > 0
	for _, p := range placedEntries(image) {
		if p.op == op {
			entry = len(e.disk.DurablyAltered(name, p.offset, p.size)) > 0
		}
	}
	return record, entry
}
