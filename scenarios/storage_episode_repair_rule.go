package scenarios

import (
	"bytes"

	"vopr/cluster/storage"
	"vopr/internal/storagemodel"
)

// The repair rule. The README's storage paragraph: "A repair rewrites a damaged entry in
// place whenever the entry the log names there fits (the next known entry names it as
// parent), so intact acknowledged ops above it are never un-persisted". The episode repaired
// only what the engine already called Rewritable, and so never asked whether the engine
// calls rewritable every op the rule says it must. Now, after every recovery that passed its
// check and after every acknowledged checkpoint install (a lost checkpoint installed again at
// its own op keeps the anchor the log above it was written on, doc.go), each faulty op f above
// the checkpoint and the audited op whose acknowledged body the model holds, with the entry
// below it known (recovered intact with its acknowledged body, or the checkpoint op: the
// anchor) and the entry above it recovered intact with its acknowledged body, must be
// Rewritable with that body: the op above was written on it, so it fits (checkRepairRule).
// One exception: when the checkpoint's anchor is one an install took without learning it
// (noteAnchor), the op right above the checkpoint may instead be repaired by RechainRun, which
// keeps every op above it too.
//
// A lost checkpoint with a faulty op right above it is what this reaches: the episode damages
// one thing per boot, so in half the boots whose damage corrupted the newest checkpoint's file
// (their own stream, storage_episode/repair_rule, so that every other draw of a seed stays as
// it was) it also takes the identity (entry and record) of one acknowledged op above the
// checkpoint, below an acknowledged op that stays intact (damageAboveCheckpoint).

// damageAboveCheckpoint takes the identity of one acknowledged op above the checkpoint whose
// next op is acknowledged and undamaged, the lowest such op in half the draws (the one whose
// parent is the checkpoint's anchor, when it is above the checkpoint).
func (e *storeEpisode) damageAboveCheckpoint() {
	r := e.repairRule
	if r.IntN(2) != 0 {
		return
	}
	ops := e.victims()
	var picks []uint64
	for i := 0; i+1 < len(ops); i++ {
		if ops[i+1] == ops[i]+1 {
			picks = append(picks, ops[i])
		}
	}
	if len(picks) == 0 {
		return
	}
	op := picks[r.IntN(len(picks))]
	if r.IntN(2) == 0 {
		op = picks[0]
	}
	e.damageOp(op, true, r)
	e.counters["coverage.storage_episode.damage.above_checkpoint"]++
}

// noteRecovered keeps the intact entries a recovery returned, which checkRepairRule takes for
// the entries the log knows until the next Open.
func (e *storeEpisode) noteRecovered(rec *storage.Recovery) {
	e.recovered, e.recoveredCP = map[uint64][]byte{}, rec.State.CheckpointOp
	if rec.State.CheckpointOp != e.unanchored {
		e.unanchored = 0 // another checkpoint's anchor (a fallback past the unanchored one)
	}
	for _, entry := range rec.Entries {
		e.recovered[entry.Op] = entry.Body
	}
}

// noteAnchor follows, through an acknowledged step, whether the anchor of the checkpoint in
// force may not be what the log above it was written on: an install whose anchor
// checkRepairRuleWith would not call known, with no intact entry above it to name the anchor,
// takes one of its own (the new file's checksum), and a lost checkpoint installed again at
// that op keeps it. A repair of the op above it then writes the ops above again linked anew
// (RechainRun), not in place (storage crash seed 2196067393: checkpoint 11 damaged, and op
// 12's entry and record; the fallback to 8, checkpoint 11 installed from a peer at its file's
// checksum, that file lost at the next boot and installed again: op 12 was not Rewritable,
// though op 13 recovered intact, and ops 12-14 were RechainableRun). A checkpoint of the
// log's own, or op cp+1 written again, anchors the log above once more.
func (e *storeEpisode) noteAnchor(step storagemodel.Step) {
	switch step.Kind {
	case storagemodel.Install:
		known := func(op uint64) bool {
			body, ok := e.recovered[op]
			return ok && op <= e.m.Head && !e.m.Disowned[op] && bytes.Equal(body, e.m.Log[op])
		}
		// An intact entry above the checkpoint names the anchor, and the install takes it.
		if (step.Op <= e.recoveredCP && step.Op != e.unanchored) || known(step.Op) || known(step.Op+1) {
			e.unanchored = 0
		} else {
			e.unanchored = step.Op
		}
	case storagemodel.Checkpoint:
		e.unanchored = 0
	case storagemodel.Append, storagemodel.Replace, storagemodel.Repair:
		if e.unanchored != 0 && step.Op == e.unanchored+1 {
			e.unanchored = 0
		}
	}
}

// checkRepairRule holds the engine to the repair rule (see above).
func (e *storeEpisode) checkRepairRule() {
	audited, _ := e.s.AuditHead()
	e.checkRepairRuleWith(e.s.Faulty(), e.s.State().CheckpointOp, audited, e.s.Rewritable)
}

// checkRepairRuleWith is checkRepairRule for faulty ops above checkpoint cp and audited op
// audited, with rewritable as the engine's Rewritable.
func (e *storeEpisode) checkRepairRuleWith(faulty []uint64, cp, audited uint64, rewritable func(storage.Entry) bool) {
	m := e.m
	if m.Pending != nil || e.recovered == nil {
		return
	}
	known := func(op uint64) bool {
		body, ok := e.recovered[op]
		return ok && op <= m.Head && !m.Disowned[op] && bytes.Equal(body, m.Log[op])
	}
	// Where f's entry lies: after the entry below it, or, for the first op of a segment, at the
	// end of the record area, up to where the entry above it starts, in the same segment; and
	// the acknowledged entry must fit there exactly (a checkpoint region cut gives up a
	// damaged entry under the checkpoint, and the op above may then be appended over its
	// place: storage crash seed 2140082534). The checkpoint op's own entry may be gone
	// (compacted, or never in this log: an installed checkpoint), so below a segment's first
	// op the episode does not ask of the checkpoint's anchor.
	perSegment := uint64(storageEpisodeOptions.SegmentEntriesMax)
	records := int64(perSegment) * storage.SectorSize
	// The anchor is known when the checkpoint is the one the last Open recovered (a lost one
	// installed again keeps the anchor the superblock kept), or the entry at its op was
	// recovered intact: an install over a faulty op of unknown identity has no way to learn
	// what the op above was written on, and a later Open recovers that checkpoint with the
	// anchor the install took, until the op above it is written again (unlearned, below).
	anchored := cp <= e.recoveredCP || known(cp)
	// An anchor an install could not learn (noteAnchor) is not the one the op above the
	// checkpoint was written on: its repair may write the ops above again, linked anew, so long
	// as it keeps them all (RechainableRun).
	unlearned := e.unanchored != 0 && cp == e.unanchored && !known(cp)
	room := func(f uint64, size int) bool {
		if f/perSegment != (f+1)/perSegment {
			return false
		}
		_, above, ok := e.find(f + 1)
		if !ok {
			return false
		}
		start := records
		if f%perSegment != 0 {
			if f-1 == cp {
				return false
			}
			_, below, ok := e.find(f - 1)
			if !ok {
				return false
			}
			start = below.offset + below.size
		} else if f-1 == cp && !anchored {
			return false
		}
		return above.offset-start == (storage.HeaderSize+int64(size)+storage.SectorSize-1)/storage.SectorSize*storage.SectorSize
	}
	for _, f := range faulty {
		body, ok := m.Log[f]
		if !ok || f <= cp || f <= audited || f >= m.Head || m.Disowned[f] || e.unsettled[f] != nil ||
			e.recordHit[f] || e.staleCopies(f) || !(f-1 == cp || known(f-1)) || !known(f+1) || !room(f, len(body)) {
			continue
		}
		e.counters["coverage.storage_episode.repair_rule"]++
		if f-1 == cp {
			e.counters["coverage.storage_episode.repair_rule_on_anchor"]++
		}
		if !rewritable(storage.Entry{Op: f, Body: body}) {
			if f-1 == cp && unlearned && e.rechainable(f) {
				e.counters["storage_episode.repair_rule_rechain"]++
				continue
			}
			e.fail("faulty op %d is not Rewritable with its acknowledged body, though op %d above it, recovered intact, "+
				"was written on it (and the entry below it is known, checkpoint %d): its repair would truncate the durable ops above it",
				f, f+1, cp)
			return
		}
	}
}

// rechainable reports whether the engine would write the acknowledged ops from f to the head
// again, linked anew from the checkpoint's anchor, keeping them all (RechainableRun).
func (e *storeEpisode) rechainable(f uint64) bool {
	var run []storage.Entry
	for op := f; op <= e.m.Head; op++ {
		body, ok := e.m.Log[op]
		if !ok || e.m.Disowned[op] {
			return false
		}
		run = append(run, storage.Entry{Op: op, Body: body})
	}
	return e.s.RechainableRun(run)
}
