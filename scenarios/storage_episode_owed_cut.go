package scenarios

import (
	"fmt"

	"vopr/sim"
)

// A truncation that succeeds while a failed one is owed. A replica takes a truncation as
// done, failed or not (payCut's contract): the ops a failed one gave up stay on the disk, a
// debt that the next superblock write pays first, unless an append at or below them comes
// first (CutOwed). The failed cuts of the episode (storage_episode_truncate_fail.go) are
// followed by a second failed one, a state sync, or the superblock write; never by a
// truncation that succeeds above the failed one's op (a view change's truncation after an
// op the replica's log, shorter since the failure, does not reach: a no-op to the replica,
// which does not know what the engine kept above it), then by the replica's appends: the ops
// the failed cut gave up written again with the bodies they had (the same prepares again,
// rewritten in place: Append's contract), then fresh ops above them. TruncateAfter drops
// every entry above its op, durably: what it cut is owed no more, and the ops appended since
// are the log's, acknowledged; the next superblock write must keep them all.
//
// A state sync may come in between: a peer's checkpoint installed at op c among the ops the
// failed truncation left (as storage_episode_cut_floor.go installs one), or above the
// successful truncation's op; the log then goes on above c, with the same prepares where the
// disk holds them, and fresh ones above.
//
// So at the end of a third of the episodes (their own stream, storage_episode/owed_cut, so
// that every other draw of a seed stays), on a fresh disk of the episode's options: ops
// 1..head appended; a truncation after op a that fails (drawn: its first removal of a
// segment file refused, or its cut of op a+1's segment, after it removed those above); a truncation after op b, a < b < head, that succeeds; then
// (drawn) ops a+1..b appended with the bodies they had, or a peer's checkpoint installed at
// c in [b, head) or in (a, b) and ops c+1..b appended with the bodies they had; then ops
// b+1..top (c+1..top) with fresh ones (in half the moves, the log committed through an op k
// above a and c and at most b first, and the appends from k+1: see owedCutPlan.commit); a
// superblock write. Every write, the superblock's
// included, must succeed, and the ops from the first above the checkpoint through top read
// back as appended, head top, after the write and after a crash and Open.

// maybeCheckOwedCut runs the move (see above) in a third of the episodes.
func (e *storeEpisode) maybeCheckOwedCut() {
	rng := sim.Stream(e.seed, "storage_episode/owed_cut")
	if rng.IntN(3) != 0 {
		return
	}
	p := owedCutPlan{head: 4 + rng.Uint64N(9)} // 4..12
	p.a = 1 + rng.Uint64N(p.head-2)            // 1..head-2
	p.b = p.a + 1 + rng.Uint64N(p.head-p.a-1)  // a+1..head-1
	p.cutFails = rng.IntN(2) == 0
	switch rng.IntN(3) {
	case 1:
		p.c = p.b + rng.Uint64N(p.head-p.b) // [b, head)
	case 2:
		if p.b > p.a+1 {
			p.c = p.a + 1 + rng.Uint64N(p.b-p.a-1) // (a, b)
		}
	}
	p.top = max(p.b, p.c) + 1 + rng.Uint64N(p.head+3-p.b)
	// In half the moves (their own stream, so that the other draws stay), ops up to k in
	// (max(a, c), b] are committed before the appends (see commit).
	if commits := sim.Stream(e.seed, "storage_episode/owed_cut_commit"); commits.IntN(2) == 0 {
		if lo := max(p.a, p.c); lo < p.b {
			p.commit = lo + 1 + commits.Uint64N(p.b-lo)
		}
	}
	if msg := checkOwedCut(e.seed, p); msg != "" {
		e.fail("%v: %s", p, msg)
		return
	}
	e.counters["coverage.storage_episode.owed_cut"]++
}

// owedCutPlan is one draw of the move: c 0 installs no checkpoint.
type owedCutPlan struct {
	head, a, b, c, top uint64
	// cutFails aims the error at the cut of op a+1's segment (after the removals of the
	// segments above it) rather than at the truncation's first change of a file.
	cutFails bool
	// commit, if not 0, is the op through which the log is committed (Commit) once the
	// truncations and the install are done, before the appends, which then start above it: the
	// engine holds the ops a failed truncation gave up as owed only above the checkpoint and
	// the audit (CutOwed), so the ops committed stay the log's, and so do the appends above
	// them; a debt that ignored the audit cut them at the superblock write, or tried to cut
	// committed ops (storage.cut_owed_ignores_audit).
	commit uint64
	// cutCommitted is a test's knob: the log is cut after the op committed right before the
	// superblock write, as storage.cut_owed_ignores_audit's payment of the debt did.
	cutCommitted bool
}

func (p owedCutPlan) String() string {
	how := "its first change of a file refused"
	if p.cutFails {
		how = "its cut refused"
	}
	s := fmt.Sprintf("ops 1..%d, a failed truncation after %d (%s), one after %d that succeeded", p.head, p.a, how, p.b)
	if p.c != 0 {
		s += fmt.Sprintf(", a checkpoint installed at %d", p.c)
	}
	if p.commit != 0 {
		s += fmt.Sprintf(", ops committed through %d", p.commit)
	}
	return s + fmt.Sprintf(", the ops again to %d and fresh to %d, a superblock write", p.b, p.top)
}

func checkOwedCut(seed uint64, p owedCutPlan) string {
	const move = "owed_cut"
	x, msg := newSideEngine(seed, move)
	if msg != "" {
		return msg
	}
	log := map[uint64][]byte{}
	for op := uint64(1); op <= p.head; op++ {
		log[op] = sideBody(move, op, 0)
		if err := x.append(op, log[op]); err != nil {
			return fmt.Sprintf("append of op %d: %v", op, err)
		}
	}
	// The error is aimed at the truncation's first change of a file (the removal of the
	// highest segment, or the cut or removal of op a+1's), or at the cut or removal of op
	// a+1's segment, whatever it removed before.
	per := uint64(storageEpisodeOptions.SegmentEntriesMax)
	name, _ := recordPlace(p.a + 1)
	top, _ := recordPlace(p.head)
	switch {
	case (p.a+1)%per == 0 && p.cutFails:
		x.disk.ArmRemoveError(name)
	case top != name && !p.cutFails || (p.a+1)%per == 0:
		x.disk.ArmRemoveError(top)
	default:
		x.disk.ArmTruncateError(name, false)
	}
	err := x.wait(func(done func(error)) { x.s.TruncateAfter(p.a, done) })
	fired := x.disk.DisarmTruncateError()
	fired = x.disk.DisarmRemoveError() || fired
	if !fired || err == nil {
		return fmt.Sprintf("the aimed error (fired %v) did not fail the truncation after %d: %v", fired, p.a, err)
	}
	if err := x.wait(func(done func(error)) { x.s.TruncateAfter(p.b, done) }); err != nil {
		return fmt.Sprintf("truncation after %d: %v", p.b, err)
	}
	from := p.a + 1
	if p.c != 0 {
		if err := x.wait(func(done func(error)) {
			x.s.InstallCheckpoint(p.c, fmt.Appendf(nil, "a peer's state at %d", p.c), done)
		}); err != nil {
			return fmt.Sprintf("checkpoint install at %d: %v", p.c, err)
		}
		from = p.c + 1
	}
	// Through the engine's head at most: a failed truncation that removed the segments above
	// op a+1's before its cut failed left no ops there.
	committed := uint64(0)
	if k := min(p.commit, x.s.Head()); k > max(p.a, p.c) {
		if _, err := x.s.Commit(k); err != nil {
			return fmt.Sprintf("commit through %d: %v", k, err)
		}
		from, committed = k+1, k
	}
	for op := from; op <= p.top; op++ {
		if op > p.b {
			log[op] = sideBody(move, op, 1)
		}
		if err := x.append(op, log[op]); err != nil {
			return fmt.Sprintf("append of op %d: %v", op, err)
		}
	}
	for op := range log {
		if op <= p.c || op > p.top {
			delete(log, op) // the checkpoint's, or cut
		}
	}
	if p.cutCommitted && committed != 0 {
		if err := x.wait(func(done func(error)) { x.s.TruncateAfter(committed, done) }); err != nil {
			return fmt.Sprintf("the test's cut after %d: %v", committed, err)
		}
	}
	st := x.s.State()
	st.View++
	if err := x.wait(func(done func(error)) { x.s.SaveState(st, done) }); err != nil {
		return fmt.Sprintf("superblock write: %v", err)
	}
	if msg := x.readsBack(log, p.top); msg != "" {
		return "after the superblock write: " + msg
	}
	if _, msg := x.reopen(); msg != "" {
		return msg
	}
	if msg := x.readsBack(log, p.top); msg != "" {
		return "after a crash and Open: " + msg
	}
	return ""
}
