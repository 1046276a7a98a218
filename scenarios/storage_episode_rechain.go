package scenarios

import (
	"bytes"
	"fmt"
	"slices"

	"vopr/cluster/storage"
	"vopr/faults"
	"vopr/internal/storagemodel"
)

// A rechain. A state sync that installs a peer's checkpoint at an op whose entry, and the
// next op's header, the disk lost (identity and all) takes the checkpoint file's checksum as
// its anchor: the ops above were written on a chain sum nobody knows any more, and a replica
// repairs them by RechainRun, which writes every op from the checkpoint's next to the head
// again, linked anew from the anchor, each known op (intact, or faulty with its record) at its
// own offset and each run of ops of unknown identity laid back to back below the next known
// entry of its segment, never over a known entry below it. The episode reached that state in
// about one seed in 20,000 (a lost checkpoint installed again after a fallback), so the
// engine's rechain placement and its writes were never put to it.
//
// So at the end of half the episodes, in up to three rounds while the engine holds no faulty op (their own stream,
// storage_episode/rechain, so that every other draw of a seed stays as it was where the move
// is off; the lost-write and lost-tail checks, which need the log as the episode left it, are
// skipped where it is on), the episode appends two to seven more ops, draws a checkpoint op cp
// just above the audited ops, below the head, and damages, after a crash: the entry header and
// the record of cp and cp+1 (their identity), and of each op above up to the head's (not
// included), drawn, nothing, an entry sector (faulty of known identity) or the header and the
// record (unknown identity), so that every run of unknown ops has a known op above it in its
// segment. Open must report the damaged ops faulty (check). Then a peer's checkpoint is
// installed at cp, and the run from cp+1 to the head, with the bodies acknowledged there, or,
// in two thirds of the draws, with the unknown ops' bodies one or two sectors longer (the
// caller's log need not hold the prepares the disk lost there: a state sync's history), is put
// to RechainableRun; a run it accepts is written by RechainRun (the longer one first, if
// accepted), acknowledged, and after another crash Open must return every op of it intact
// with the body written, and every op below as it was (check).

// rechainPlan is a drawn damage: by op, 0 intact, 1 faulty of known identity, 2 unknown.
type rechainPlan map[uint64]int

// maybeCheckRechain runs the rechain at the episode's end (see above); it reports whether it
// changed the disk.
func (e *storeEpisode) maybeCheckRechain() bool {
	if e.rechain.IntN(2) != 0 {
		return false
	}
	changed := false
	for round := 0; round < 3 && e.failure == ""; round++ {
		wrote, ran := e.rechainRound()
		changed = changed || ran
		if !wrote {
			break
		}
	}
	return changed
}

// rechainRound is one round of the rechain: it reports whether it changed the disk, and
// whether it wrote a run and opened the disk again after it (the log whole again, for a next
// round).
func (e *storeEpisode) rechainRound() (wrote, changed bool) {
	r := e.rechain
	if e.s == nil || len(e.s.Faulty()) > 0 || e.m.Pending != nil {
		return false, false
	}
	m := e.m
	audited, _ := e.s.AuditHead()
	lo, head := max(e.s.State().CheckpointOp, audited), e.s.Head()
	stateCP := e.s.State().CheckpointOp
	if head < lo+1 || e.checkpointDamaged != 0 || readSuperblock(e.disk.Durable("superblock")).checkpointOp != stateCP {
		return false, false // the engine is not the disk's (an end check's), or its checkpoint is in doubt
	}
	for op := lo + 1; op <= head; op++ {
		body, ok := e.recovered[op]
		if !ok || !bytes.Equal(body, m.Log[op]) || m.Disowned[op] || e.damaged[op] || len(e.unsettled[op]) > 0 {
			return false, false
		}
	}
	// A few more ops first, as a replica goes on appending: runs with ops of both kinds of
	// damage between the checkpoint's next op and the head.
	for range 2 + r.IntN(6) {
		head++
		body := fmt.Appendf(nil, "rechain op %d ", head)
		body = append(body, bytes.Repeat([]byte{byte(head) | 1}, r.IntN(1400))...)
		step := storagemodel.Step{Kind: storagemodel.Append, Op: head, Body: body}
		m.Pending = &step
		e.written[head] = append(e.written[head], body)
		if err := e.wait(func(done func(error)) { storagemodel.Issue(e.s, step, done) }); err != nil {
			e.fail("rechain: the append of op %d failed: %v", head, err)
			return false, true
		}
		e.acknowledged(step)
	}
	cp := lo + 1 + r.Uint64N(min(3, head-lo-2)) // cp+1 < head
	plan := rechainPlan{cp: 2, cp + 1: 2}
	for op := cp + 2; op < head; op++ {
		plan[op] = r.IntN(3)
	}
	if !plan.placeable(cp, head) && r.IntN(4) != 0 {
		return false, false
	}
	e.counters["coverage.storage_episode.rechain"]++
	for op := cp; op < head; op++ {
		if plan[op] == 0 {
			continue
		}
		kind, ok := e.damageForRechain(op, plan[op] == 2)
		if !ok {
			e.fail("rechain: op %d's entry not found to damage", op)
			return false, true
		}
		plan[op] = kind
	}
	placeable := plan.placeable(cp, head)
	e.disk.Crash()
	if !e.openForRechain("damage of ops from %d", cp) {
		return false, true
	}
	if st := e.s.State(); st.CheckpointOp != stateCP || len(e.s.Faulty()) == 0 {
		return false, true // another checkpoint than the one the plan was drawn under
	}
	install := storagemodel.Step{Kind: storagemodel.Install, Op: cp,
		Snapshot: fmt.Appendf(nil, "a peer's snapshot at %d over ops of unknown identity", cp)}
	m.Pending = &install
	if err := e.wait(func(done func(error)) { storagemodel.Issue(e.s, install, done) }); err != nil {
		e.fail("rechain: the install of checkpoint %d failed: %v", cp, err)
		return false, true
	}
	e.acknowledged(install)
	run := make([]storage.Entry, 0, head-cp)
	for op := cp + 1; op <= head; op++ {
		run = append(run, storage.Entry{Op: op, Body: m.Log[op]})
	}
	if e.rechainOtherBody(run, plan); e.failure != "" {
		return false, true
	}
	if placeable && r.IntN(3) != 0 {
		longer := make([]storage.Entry, len(run))
		for i, entry := range run {
			longer[i] = entry
			if plan[entry.Op] == 2 {
				grow := bytes.Repeat([]byte{byte(entry.Op) | 1}, storage.SectorSize*(1+r.IntN(2)))
				longer[i].Body = append(bytes.Clone(entry.Body), grow...)
			}
		}
		if e.s.RechainableRun(longer) {
			e.counters["coverage.storage_episode.rechain_longer"]++
			run = longer
		}
	}
	if e.s.Rewritable(run[0]) {
		// The disk still names the anchor (a record the damage missed): a repair in place.
		e.counters["storage_episode.rechain_rewritable"]++
		return false, true
	}
	if n, _ := e.s.RewritableRun(run); n > 0 {
		e.counters["storage_episode.rechain_rewritable"]++
		return false, true
	}
	if !placeable {
		// RechainableRun's contract: only the head's ops may not be unknown, nothing above
		// them in their segment places them.
		if e.rechainAsked().RechainableRun(run) {
			e.fail("rechain: RechainableRun accepted the run of ops %d-%d over checkpoint %d, whose ops of unknown identity have no known entry above them in their segment (damage %v)",
				cp+1, head, cp, plan.String(cp, head))
		}
		e.counters["coverage.storage_episode.rechain_unplaceable"]++
		return false, true
	}
	if !e.s.RechainableRun(run) {
		// RechainableRun's contract: the ops above run[0] are the disk's bodies (intact, or
		// faulty of known identity) or of unknown identity below a known one, and run[0]
		// neither Rewritable nor RewritableRun's (the anchor is the new file's checksum).
		e.fail("rechain: RechainableRun refused the run of the bodies acknowledged at ops %d-%d over checkpoint %d, installed over ops of unknown identity (damage %v)",
			cp+1, head, cp, plan.String(cp, head))
		return false, true
	}
	written := 0
	err := e.wait(func(done func(error)) {
		if e.rechainForged {
			done(nil) // the test's knob: a rechain acknowledged, never written
			written = len(run)
			return
		}
		e.s.RechainRun(run, func(n int, err error) { written = n; done(err) })
	})
	if err != nil || written != len(run) {
		e.fail("rechain: RechainRun from op %d wrote %d of %d entries: %v", cp+1, written, len(run), err)
		return false, true
	}
	e.counters["coverage.storage_episode.rechain_written"]++
	for _, entry := range run {
		m.Log[entry.Op] = entry.Body
		e.written[entry.Op] = append(e.written[entry.Op], entry.Body)
		delete(e.damaged, entry.Op)
		delete(e.bothCopies, entry.Op)
		delete(e.entryHit, entry.Op)
		delete(e.recordHit, entry.Op)
	}
	e.disk.Crash()
	return e.openForRechain("write from op %d", cp+1), true
}

// rechainOtherBody puts to RechainableRun the run with the body of one op of known identity
// (drawn) changed, of the same size: another prepare than the one the disk knows there, which
// a rechain must not write over it (RechainableRun's contract: the ops above run[0] hold the
// disk's bodies, intact or faulty of known identity).
func (e *storeEpisode) rechainOtherBody(run []storage.Entry, plan rechainPlan) {
	var known []int
	for i, entry := range run {
		if plan[entry.Op] != 2 {
			known = append(known, i)
		}
	}
	if len(known) == 0 {
		return
	}
	at := known[e.rechain.IntN(len(known))]
	other := slices.Clone(run)
	other[at].Body = bytes.Clone(other[at].Body)
	other[at].Body[len(other[at].Body)-1] ^= 0x5a
	if e.rechainAsked().RechainableRun(other) {
		e.fail("rechain: RechainableRun accepted the run from op %d with another body at op %d, whose identity the disk knows (damage %v)",
			run[0].Op, other[at].Op, plan.String(run[0].Op-1, run[len(run)-1].Op))
	}
}

// rechainAsked is the engine the rechain's refusals are asked of: the episode's, or a test's
// liar (rechainLies).
func (e *storeEpisode) rechainAsked() probeTarget {
	if e.rechainLies != nil {
		return e.rechainLies(e.s)
	}
	return e.s
}

// String is the plan from cp to head: "." intact, "k" faulty of known identity, "u" unknown.
func (p rechainPlan) String(cp, head uint64) string {
	b := make([]byte, 0, head-cp+1)
	for op := cp; op <= head; op++ {
		b = append(b, ".ku"[p[op]])
	}
	return string(b)
}

// placeable reports whether every run of unknown ops above cp has a known op above it, at
// most head, in the segment of the run's first op (what places it).
func (p rechainPlan) placeable(cp, head uint64) bool {
	per := uint64(storageEpisodeOptions.SegmentEntriesMax)
	for op := cp + 1; op <= head; {
		if p[op] != 2 {
			op++
			continue
		}
		above := op
		for above <= head && p[above] == 2 {
			above++
		}
		if above > head || above/per != op/per {
			return false
		}
		op = above
	}
	return true
}

// damageForRechain damages op's entry, its header and record if unknown (its identity),
// else one of its sectors; it returns the plan's kind of the damage done (1 if no record was
// found to damage).
func (e *storeEpisode) damageForRechain(op uint64, unknown bool) (int, bool) {
	name, p, ok := e.find(op)
	if !ok {
		return 0, false
	}
	sector, kind := p.offset, 1
	if !unknown {
		sector += storage.SectorSize * e.rechain.Int64N(p.size/storage.SectorSize)
	} else if record, ok := faults.RecordSectorOf(e.disk.Pristine(name), p.offset); ok {
		e.disk.CorruptSector(name, record)
		kind = 2
	}
	e.disk.CorruptSector(name, sector)
	e.damaged[op] = true
	return kind, true
}

// openForRechain opens the disk after a crash and checks the recovery; what names the step
// before it for a failure.
func (e *storeEpisode) openForRechain(what string, args ...any) bool {
	s, rec, err := e.open()
	if err != nil {
		e.fail("open after the rechain's %s: %v", fmt.Sprintf(what, args...), err)
		return false
	}
	e.s = s
	e.check(rec)
	if e.failure != "" {
		e.failure += " (after the rechain's " + fmt.Sprintf(what, args...) + ")"
		return false
	}
	return true
}
