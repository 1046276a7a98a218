package scenarios

import (
	"slices"

	"vopr/cluster/storage"
)

// An op whose record a fault destroyed, returned intact by the next Open. Open's contract
// (Recovery's documentation) is that an entry it returns intact is in the log as any
// acknowledged entry is: the replica acts on it, and a later fault of one copy leaves it
// faulty, never lost. So Open writes its record again when it finds one missing, damaged, or
// another op's (a misdirected write's landing), and reads it back where a mark lay under it.
// The episode stopped damaging an op once a fault had hit its record (damaged, recordHit,
// bothCopies, all kept until the op was written again), and excused its loss at any later
// boot: an engine that left the op with its entry as its only copy went unseen
// (storage.open_skips_foreign_record_over_intact, storage.open_finished_record_not_read_back).
//
// The rule is narrowed to what the model can judge: an op destroyed in every copy may be
// lost, at the boot whose faults destroyed them; an op an Open then returned intact has its
// copies back, and its earlier damage is forgotten (forgetRepaired). At the next boot, in half
// of those whose previous Open returned such an op (its own stream,
// storage_episode/rot_rewritten, so that every other draw of a seed stays), the episode rots
// that op's entry: it must come back faulty, with its record as the evidence.

// rewrittenOps returns the ops rec returned intact whose record a fault had hit before it
// (a landing, a misdirect, a sector hidden from it or damaged with the entry).
func (e *storeEpisode) rewrittenOps(rec *storage.Recovery) []uint64 {
	var ops []uint64
	for _, entry := range rec.Entries {
		if e.recordHit[entry.Op] || e.bothCopies[entry.Op] || e.damaged[entry.Op] || entry.Op == e.openAimed {
			ops = append(ops, entry.Op)
		}
	}
	return ops
}

// forgetRepaired forgets the damage of the ops rec returned intact: Open put both their
// copies back (see above).
func (e *storeEpisode) forgetRepaired(rec *storage.Recovery) {
	e.afterRewrite, e.openAimed = e.rewrittenOps(rec), 0
	hit := e.openHit
	e.openHit = nil
	for _, entry := range rec.Entries {
		if slices.Contains(hit, entry.Op) {
			continue // damaged while the Open ran (storage_episode_open_record.go)
		}
		delete(e.damaged, entry.Op)
		delete(e.bothCopies, entry.Op)
		delete(e.recordHit, entry.Op)
	}
}

// rotRewritten, after the crash, rots the entry of one op the previous Open returned intact
// over a record a fault had hit, in half the boots that have one that no fault of this boot
// touched and no operation since wrote.
func (e *storeEpisode) rotRewritten() {
	ops := e.afterRewrite
	e.afterRewrite = nil
	if len(ops) == 0 || e.rotAfterRewrite.IntN(2) != 0 {
		return
	}
	victims := e.victims()
	ops = slices.DeleteFunc(slices.Clone(ops), func(op uint64) bool { return !slices.Contains(victims, op) })
	if len(ops) == 0 {
		return
	}
	e.damageOp(ops[e.rotAfterRewrite.IntN(len(ops))], false, e.rotAfterRewrite)
	e.counters["coverage.storage_episode.rot_after_rewrite"]++
}

// landedMark is a mark landing's sector and place (landMark).
type landedMark struct {
	name   string
	at     int64
	sector []byte
}

// putBackLanding, under the foreignRecordStays knob, puts the boot's mark landing back over
// the record sector Open wrote again, as an engine that skips another op's record left it.
func (e *storeEpisode) putBackLanding() {
	l := e.landed
	e.landed = nil
	if !e.foreignRecordStays || l == nil || e.failure != "" {
		return
	}
	if err := e.wait(func(done func(error)) { e.disk.WriteAt(l.name, l.sector, l.at, done) }); err != nil {
		e.fail("landing put back: %v", err)
		return
	}
	if err := e.wait(func(done func(error)) { e.disk.Sync(l.name, done) }); err != nil {
		e.fail("landing put back: %v", err)
	}
}
