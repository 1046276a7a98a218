package scenarios

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"vopr/cluster/storage"
	"vopr/internal/storagemodel"
)

// Two shapes the episode's single faults rarely make, built on purpose (their own streams,
// storage_episode/hidden_region and storage_episode/mark_rot, so that every other draw of a
// seed stays as it was):
//
//   - a hidden region: one Open meets read errors over every sector of the head's segment
//     past the last acknowledged entry (where an unfinished append, or a stale entry above the
//     head, lies), and in half of them over the head entry's first sector and its record too, so
//     that the head is faulty with an extent Open cannot know and Open cannot cut what lies past it.
//     The errors are transient: the next boot, after the replica's truncation or repair of
//     the head and more appends, reads those bytes whole. The engine must have cut them, or
//     tombstoned or distrusted their records, so that they never come back above a log view
//     persisted without them (recovery.go's cutUnfinished, journal.go's cutPastHead).
//   - a faulty mark under rot: after the last boot (whose rejoin keeps the faulty ops and
//     truncates nothing), an op held faulty without a record carries a faulty mark; a view
//     change writes the superblock, and every acknowledged op above the marked one rots in
//     both copies, entry and record. The mark is then the only evidence that the marked op is
//     in the log (it may have been acknowledged): it must come back faulty, never dropped as
//     an append that never finished.

// hiddenRegion is the set of sectors of one segment hidden from one Open.
type hiddenRegion struct {
	name    string
	offsets []int64
	ops     []uint64 // the ops whose bytes the sectors hold, damaged for that Open only
}

// hideRegion, in a third of the boots whose transient stream hid nothing, hides the region
// past the head (see above). It returns nil when it hides nothing: no bytes past the head, or
// an op there already damaged (one fault per op).
func (e *storeEpisode) hideRegion(other *hiddenSector) *hiddenRegion {
	r := e.hiddenRegions
	if other != nil || r.IntN(3) != 0 {
		return nil
	}
	name := segmentFileName4(e.m.Head + 1)
	durable := e.disk.Durable(name)
	lo, headAt := int64(-1), int64(-1)
	for _, p := range placedEntries(durable) {
		if p.op <= e.m.Head {
			lo = max(lo, p.offset+p.size)
		}
		if p.op == e.m.Head {
			headAt = p.offset
		}
	}
	records := int64(storageEpisodeOptions.SegmentEntriesMax) * storage.SectorSize
	if lo < 0 {
		lo = records // the head is the segment's first op's predecessor, or the checkpoint
	}
	if lo >= int64(len(durable)) {
		return nil
	}
	h := &hiddenRegion{name: name}
	for at := lo; at+storage.SectorSize <= int64(len(durable)); at += storage.SectorSize {
		h.offsets = append(h.offsets, at)
	}
	if headAt >= 0 && r.IntN(2) == 0 && e.isVictim(e.m.Head) {
		// The head's header and its record: its extent unknown to Open (an intact record
		// tells where the entry ends, and Open cuts there).
		record := int64(e.m.Head%uint64(storageEpisodeOptions.SegmentEntriesMax)) * storage.SectorSize
		h.offsets = append(h.offsets, headAt, record)
		e.recordHit[e.m.Head] = true // a mark over it is one copy, as in hideSector
		e.counters["coverage.storage_episode.hidden_region_head"]++
	}
	image := e.disk.Pristine(name)
	seen := map[uint64]bool{}
	for _, at := range h.offsets {
		for _, op := range e.opsAt(name, image, at) {
			if e.damaged[op] {
				return nil
			}
			if !seen[op] {
				seen[op] = true
				h.ops = append(h.ops, op)
			}
		}
	}
	for _, at := range h.offsets {
		e.disk.LatentSectorError(name, at)
	}
	for _, op := range h.ops {
		e.damaged[op] = true
		if op <= e.m.Head {
			continue
		}
		for _, b := range e.written[op] {
			if bytes.Contains(image, b) {
				if e.pastHead == nil {
					e.pastHead = map[uint64][][]byte{}
				}
				e.pastHead[op] = append(e.pastHead[op], b)
			}
		}
	}
	e.counters["coverage.storage_episode.hidden_region"]++
	return h
}

// isVictim reports whether op may take a fault now (victims' rule).
func (e *storeEpisode) isVictim(op uint64) bool {
	for _, v := range e.victims() {
		if v == op {
			return true
		}
	}
	return false
}

// healRegion cures the hidden region after the recovery's check, as healHidden does.
func (e *storeEpisode) healRegion(h *hiddenRegion) {
	if h == nil {
		return
	}
	for _, at := range h.offsets {
		e.disk.HealLatent(h.name, at)
	}
	for _, op := range h.ops {
		delete(e.damaged, op)
	}
}

// faultyMarked returns the lowest op in the log above the checkpoint whose record sector,
// as durable now, holds a faulty mark naming it, and that the last recovery held faulty.
func (e *storeEpisode) faultyMarked() (uint64, bool) {
	perSegment := uint64(storageEpisodeOptions.SegmentEntriesMax)
	for op := e.m.CP + 1; op <= e.m.Head; op++ {
		image := e.disk.Durable(segmentFileName4(op))
		at := int64(op%perSegment) * storage.SectorSize
		if int64(len(image)) < at+storage.SectorSize || !e.damaged[op] {
			continue
		}
		sector := image[at : at+storage.SectorSize]
		if binary.LittleEndian.Uint64(sector[16:]) == markFaulty && binary.LittleEndian.Uint64(sector[32:]) == op {
			return op, true
		}
	}
	return 0, false
}

// rotAboveFaultyMark runs after the last boot's check (and its reopen), in half the seeds
// whose disk holds a faulty mark of an op in the log, and only when the last boot drew no
// repair (the model is then the last rejoin's): a view change writes the superblock, every
// acknowledged op above the marked one rots in both copies, and Open must still hold the
// marked op faulty (check: an acknowledged op is never silently lost; the rotted ones may go,
// bothCopies). lost is whether the last recovery reported its checkpoint lost.
func (e *storeEpisode) rotAboveFaultyMark(lost bool) {
	r := e.markRot
	if r.IntN(2) != 0 {
		return
	}
	op, ok := e.faultyMarked()
	if !ok || lost {
		// A lost checkpoint stays lost through a superblock write (until installed again),
		// which the model would take for the end of a fallback (acknowledged).
		return
	}
	e.counters["coverage.storage_episode.faulty_mark_found"]++
	step := storagemodel.Step{Kind: storagemodel.SaveState, View: e.m.View + 1}
	e.m.Pending = &step
	if err := e.wait(func(done func(error)) { storagemodel.Issue(e.s, step, done) }); err != nil {
		e.fail("save state before the rot above faulty mark %d: %v", op, err)
		return
	}
	e.acknowledged(step)
	rotted := 0
	for _, above := range e.victims() {
		if above > op {
			e.damageOp(above, true, r)
			e.bothCopies[above] = true
			rotted++
		}
	}
	e.disk.Crash()
	s, rec, err := e.open()
	if err != nil {
		e.fail("open after the rot above faulty mark %d: %v", op, err)
		return
	}
	e.s = s
	if rotted > 0 {
		e.counters["coverage.storage_episode.faulty_mark_rot"]++
	}
	e.check(rec)
	if e.failure != "" {
		e.failure += fmt.Sprintf(" (after the ops above faulty-marked op %d rotted in both copies)", op)
	}
}
