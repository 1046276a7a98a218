package scenarios

import (
	"encoding/binary"

	"vopr/cluster/storage"
	"vopr/internal/storagemodel"
)

// A distrust mark above a rewritten head, under rot (its own stream,
// storage_episode/past_head_mark_rot, so that every other draw of a seed stays as it was).
//
// Open writes distrust marks over the record sectors above a faulty head of unknown extent
// (distrustAbove): its damaged region runs to the end of the file, and may hide an append
// that never finished, which Open cannot cut. Once the replica repairs the head in place, the
// engine cuts what its segment holds past it (cutPastHead): nothing past the head is in the
// log. The marks are then the second line of defence only, and rot of one of them must not
// matter: with the segment cut at the head's end, a damaged record sector above it is no
// evidence of an op (damagedRecordEvidence's room rule). Left in place instead, an unfinished
// append that a hidden region kept past the head reads intact at the next boot under its
// rotted mark, and comes back as a stale op above the log the replica acknowledged
// (mutant storage.head_rewrite_keeps_past_head).

// noteHeadRewrite keeps e.headRewritten: the last acknowledged step that changed the log was a
// repair of the head op (an Append the engine wrote in place).
func (e *storeEpisode) noteHeadRewrite(step storagemodel.Step) {
	switch step.Kind {
	case storagemodel.Repair:
		if step.Op == e.m.Head {
			e.headRewritten = true
		}
	case storagemodel.Append, storagemodel.Replace, storagemodel.Truncate, storagemodel.Install:
		e.headRewritten = false
	}
}

// rotMarksPastHead runs after the crash and the boot's other faults: when the head was
// rewritten last, no operation in flight touches the log, and no fault of this boot touched
// the head, then in half the boots it corrupts every distrust mark that lies over the record
// sector of an op above the head in the head's segment.
func (e *storeEpisode) rotMarksPastHead() {
	if !e.headRewritten || e.m.Head <= e.m.CP || e.damaged[e.m.Head] || e.recordHit[e.m.Head] || e.entryHit[e.m.Head] {
		return
	}
	if p := e.m.Pending; p != nil && p.Kind != storagemodel.SaveState && p.Kind != storagemodel.Checkpoint {
		return
	}
	per := uint64(storageEpisodeOptions.SegmentEntriesMax)
	name := segmentFileName4(e.m.Head)
	image := e.disk.Durable(name)
	var marked []int64
	var ops []uint64
	for op := e.m.Head + 1; op/per == e.m.Head/per; op++ {
		at := int64(op%per) * storage.SectorSize
		if int64(len(image)) < at+storage.SectorSize {
			break
		}
		sector := image[at : at+storage.SectorSize]
		if binary.LittleEndian.Uint64(sector[16:]) == markDistrust && binary.LittleEndian.Uint64(sector[32:]) == op {
			marked = append(marked, at)
			ops = append(ops, op)
		}
	}
	if len(marked) == 0 || e.pastHeadMarks.IntN(2) != 0 {
		return
	}
	for _, at := range marked {
		e.disk.CorruptSector(name, at)
	}
	// A fault of theirs: a damaged record sector is evidence that an append finished, and an
	// older entry of the op that lies in the file below the head (a cut that failed, storage
	// crash seed 2211559073) makes it faulty above the head. Not recordHit: no entry of theirs
	// may come back intact (an unfinished append left past the head is what this chain finds).
	for _, op := range ops {
		e.damaged[op] = true
	}
	e.counters["coverage.storage_episode.past_head_mark_rot"]++
	for _, op := range pastHeadEvidence(image, e.m.Head, marked, per) {
		if e.pastHeadRot == nil {
			e.pastHeadRot = map[uint64]bool{}
		}
		e.pastHeadRot[op] = true
		e.counters["coverage.storage_episode.past_head_mark_rot.evidence"]++
	}
}

// pastHeadEvidence returns the ops whose rotted mark (at the record sectors marked) the engine
// may rightly take for evidence of the op, so that the check must not call it faulty "with
// nothing damaging it": the rot is that op's damage. The head's repair is an Append, which
// the engine writes in place only when it knows the head's extent; at a head of unknown
// extent it writes the entry past the damaged region, and the segment keeps what lay there
// (storage crash seed 2212101403: a stale op 3 at 4096 below the new op 2 at 5120), or it
// keeps bytes past the head's end (seed 2212201617: 1024 bytes past op 1's entry). A rotted
// mark over an op whose entry lies in the file is an intact entry under a damaged record,
// faulty, never intact; one with room past the head's entry is a damaged record the room rule
// (damagedRecordEvidence) counts. On a segment cut at the head's entry with no entry of a
// marked op in it, nothing is returned: a faulty report of such an op fails the check still.
func pastHeadEvidence(image []byte, head uint64, marked []int64, per uint64) []uint64 {
	headEnd, placed := int64(-1), map[uint64]bool{}
	for _, p := range placedEntries(image) {
		placed[p.op] = true
		if p.op == head {
			headEnd = max(headEnd, p.offset+p.size)
		}
	}
	room := headEnd < 0 || int64(len(image)) > headEnd
	var out []uint64
	for _, at := range marked {
		op := head/per*per + uint64(at/storage.SectorSize)
		if room || placed[op] {
			out = append(out, op)
		}
	}
	return out
}
