package scenarios

import (
	"encoding/binary"

	"vopr/cluster/storage"
	"vopr/internal/storagemodel"
)

// Faults aimed at the marks of the record area (tombstones, distrust and faulty marks,
// record.go), two at once on one op. A mark is one copy: what the engine writes over it, and
// what lands on it, decides what the op's record sector says at the next boot, and the entry
// beside it decides nothing once it rots too. The episode's other faults hit one copy of an
// op; these hit the record sector by a write and then the entry, which is where a recovery
// that reads a sector's mark wrongly loses an acknowledged op:
//
//   - record over a mark, misdirected: an append of an op whose record sector holds a mark
//     has its record write sent elsewhere (the mark stays), and after the crash the op's
//     entry rots. The engine must have read the record back and written it again, so the op
//     comes back faulty with its identity, never dropped as an append that never finished.
//   - a mark landing: another op's mark (or record) lands on the head op's record sector (a
//     misdirected mark write, read back and written again where it belonged), and the head's
//     entry rots. A mark names its op, so the landing reads as damage of the head's record,
//     and the head is faulty, never dropped (a tombstone naming it would have it dropped).
//
// Both are drawn from their own stream (storage_episode/marks), so a seed's other draws stay.

// The magics of the three marks, as record.go lays a mark out (magic at byte 16).
const (
	markTombstone = 0x31424d5452504f56 // "VOPRTMB1"
	markDistrust  = 0x3154534452504f56 // "VOPRDST1"
	markFaulty    = 0x31544c4652504f56 // "VOPRFLT1"
)

// markAim is the boot's armed misdirect of a record written over a mark (op 0: none). None is
// armed in a boot that draws its own misdirect (bootMisdirect): an arming replaces another,
// and forgets whether that one landed.
type markAim struct {
	op            uint64
	bootMisdirect bool
}

// holdsMark reports whether op's record sector, as durable now, holds a mark.
func (e *storeEpisode) holdsMark(op uint64) bool {
	image := e.disk.Durable(segmentFileName4(op))
	at := int64(op%uint64(storageEpisodeOptions.SegmentEntriesMax)) * storage.SectorSize
	if int64(len(image)) < at+storage.SectorSize {
		return false
	}
	return e.isMarkSector(image[at : at+storage.SectorSize])
}

// aimRecordOverMark arms, in a third of the appends of an op whose record sector holds a mark,
// a misdirect of the next write that starts at that sector: the append's record write.
func (e *storeEpisode) aimRecordOverMark(step storagemodel.Step) {
	if e.markAim.op != 0 || e.markAim.bootMisdirect || (step.Kind != storagemodel.Append && step.Kind != storagemodel.Replace) ||
		!e.holdsMark(step.Op) || e.marks.IntN(3) != 0 {
		return
	}
	at := int64(step.Op%uint64(storageEpisodeOptions.SegmentEntriesMax)) * storage.SectorSize
	e.disk.ArmMisdirect(segmentFileName4(step.Op), at, at+1)
	e.markAim.op = step.Op
	e.counters["coverage.storage_episode.record_over_mark_armed"]++
}

// settleRecordOverMark runs after the crash, before settleMisdirect withdraws the arming: if
// the record write over the mark landed elsewhere and its append was acknowledged, it rots
// the op's entry too (the second fault), once settleMisdirect marked what the landing hit.
func (e *storeEpisode) settleRecordOverMark() (rot func()) {
	op := e.markAim.op
	e.markAim = markAim{}
	if op == 0 || !e.disk.MisdirectLanded() {
		return func() {}
	}
	return func() {
		if _, ok := e.m.Log[op]; !ok || op > e.m.Head || e.m.PendingWrites(op) || e.m.PendingMayDrop(op) ||
			(e.m.PendingCheckpoint() && op <= e.m.Pending.Op) || op <= e.m.CP {
			return
		}
		e.damageOp(op, false, e.marks)
		e.counters["coverage.storage_episode.record_over_mark_rotted"]++
	}
}

// landMark, in a sixth of the boots, copies a mark of another op's record sector over the
// record sector of an acknowledged op whose entry stays intact (a mark write misdirected
// there, then read back and written again where it belonged). A mark names its op: over an
// intact entry, one naming another op is a damaged record, and the entry stays intact (the
// table in record.go), never taken as truncated or distrusted. Should the entry rot later, the
// op's record is no evidence of its append (a landing), so its loss is excused (bothCopies).
func (e *storeEpisode) landMark() {
	if e.marks.IntN(6) != 0 {
		return
	}
	ops := e.victims()
	if len(ops) == 0 {
		return
	}
	op := ops[e.marks.IntN(len(ops))]
	perSegment := uint64(storageEpisodeOptions.SegmentEntriesMax)
	target, at := segmentFileName4(op), int64(op%perSegment)*storage.SectorSize
	var sources [][]byte
	for _, name := range e.segments() {
		image := e.disk.Durable(name)
		for slot := int64(0); slot < int64(perSegment) && (slot+1)*storage.SectorSize <= int64(len(image)); slot++ {
			sector := image[slot*storage.SectorSize : (slot+1)*storage.SectorSize]
			if e.isMarkSector(sector) && binary.LittleEndian.Uint64(sector[32:]) != op {
				sources = append(sources, sector)
			}
		}
	}
	if len(sources) == 0 {
		return
	}
	sector := append([]byte(nil), sources[e.marks.IntN(len(sources))]...)
	if err := e.wait(func(done func(error)) { e.disk.WriteAt(target, sector, at, done) }); err != nil {
		e.fail("mark landing write: %v", err)
		return
	}
	if err := e.wait(func(done func(error)) { e.disk.Sync(target, done) }); err != nil {
		e.fail("mark landing sync: %v", err)
		return
	}
	e.recordHit[op], e.bothCopies[op] = true, true
	e.landed = &landedMark{name: target, at: at, sector: sector}
	e.counters["coverage.storage_episode.mark_landing"]++
}

// isMarkSector reports whether a record sector holds one of the three marks.
func (e *storeEpisode) isMarkSector(sector []byte) bool {
	switch binary.LittleEndian.Uint64(sector[16:]) {
	case markTombstone, markDistrust, markFaulty:
		return true
	}
	return false
}
