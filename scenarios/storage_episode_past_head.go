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
}
