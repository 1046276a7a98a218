package scenarios

import (
	"fmt"
	"slices"

	"vopr/cluster/storage"
	"vopr/sim"
)

// A state sync's checkpoint over a damaged entry the disk still knows. A peer's checkpoint
// installed at op c ahead of what the log audited re-seeds the audit chain, and the hash
// chain's anchor is taken from the entry after c (its parent), or c's own entry, or else the
// checkpoint file's checksum (Checkpoint's doc). c's own entry counts when the disk knows it:
// intact, or damaged with its record intact (a known slot, whose chain sum the record keeps:
// Rewritable's doc names the slot's chain sum "if the slot is intact or its record known").
// The episode's installs land over drawn histories, where c's entry damaged and known with
// the entry after it unknown (entry and record both damaged) or absent (c the head) is rare,
// so an engine that anchored on the file's checksum there was never held to anything: the
// ops above, acknowledged, then no longer chain to the anchor, and their repair (an Append
// of the entry the log names there, Append's contract: rewritten in place, later ops kept)
// truncated them.
//
// So at the end of a third of the episodes (their own stream, storage_episode/synced_known,
// so that every other draw of a seed stays), on a fresh disk of the episode's options: ops
// 1..head appended; c's entry corrupted (its record kept), in half of them op c-1's too; the
// entries and records of ops c+1..c+k corrupted (k 0 when c is the head); a crash and Open,
// where ops c..c+k must be faulty; a peer's checkpoint installed at c; ops c+1..c+k repaired
// in order with their acknowledged bodies (the lowest whose next op is known must be
// Rewritable); in half of them an intact op above, below the head, rewritten with its own
// body (Rewritable, in place); fresh ops head+1..top appended. Ops c+1..top must read back
// as appended, head top, then and after a crash and Open.

// maybeCheckSyncedKnown runs the move (see above) in a third of the episodes.
func (e *storeEpisode) maybeCheckSyncedKnown() {
	rng := sim.Stream(e.seed, "storage_episode/synced_known")
	if rng.IntN(3) != 0 {
		return
	}
	p := syncedKnownPlan{head: 1 + rng.Uint64N(12)} // 1..12
	p.c = 1 + rng.Uint64N(p.head)                   // 1..head
	p.k = rng.Uint64N(min(3, p.head-p.c) + 1)       // 0..min(3, head-c)
	p.below = rng.IntN(2) == 0
	p.rewrite = rng.IntN(2) == 0
	p.top = p.head + rng.Uint64N(4)
	if msg := checkSyncedKnown(e.seed, p, nil); msg != "" {
		e.fail("%v: %s", p, msg)
		return
	}
	e.counters["coverage.storage_episode.synced_known"]++
	if p.k > 0 {
		e.counters["coverage.storage_episode.synced_known_unknown_next"]++
	}
}

// syncedKnownPlan is one draw of the move.
type syncedKnownPlan struct {
	head, c, k, top uint64
	below, rewrite  bool
}

func (p syncedKnownPlan) String() string {
	return fmt.Sprintf("ops 1..%d, op %d's entry damaged (its record kept; op %d's too: %v), ops %d..%d unknown, a checkpoint installed at %d, the repairs (an intact op rewritten: %v), fresh ops to %d",
		p.head, p.c, p.c-1, p.below && p.c > 1, p.c+1, p.c+p.k, p.c, p.rewrite, p.top)
}

// checkSyncedKnown runs the move; broken, if not nil, runs right after the install (a test's
// stand-in for an engine that breaks its contract there).
func checkSyncedKnown(seed uint64, p syncedKnownPlan, broken func(x *sideEngine)) string {
	const move = "synced_known"
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
	damage := func(op uint64, record bool) string {
		name, offset, ok := x.entryPlace(op)
		if !ok {
			return fmt.Sprintf("op %d's entry not found in %s", op, name)
		}
		x.disk.CorruptSector(name, offset)
		if record {
			x.disk.CorruptSector(recordPlace(op))
		}
		return ""
	}
	if msg := damage(p.c, false); msg != "" {
		return msg
	}
	if p.below && p.c > 1 {
		if msg := damage(p.c-1, false); msg != "" {
			return msg
		}
	}
	for op := p.c + 1; op <= p.c+p.k; op++ {
		if msg := damage(op, true); msg != "" {
			return msg
		}
	}
	rec, msg := x.reopen()
	if msg != "" {
		return msg
	}
	for op := p.c; op <= p.c+p.k; op++ {
		if !slices.Contains(rec.Faulty, op) {
			return fmt.Sprintf("op %d damaged, not faulty after Open (faulty %v)", op, rec.Faulty)
		}
	}
	if got := x.s.Head(); got != p.head {
		return fmt.Sprintf("head %d after Open, want %d (faulty %v)", got, p.head, rec.Faulty)
	}
	if err := x.wait(func(done func(error)) {
		x.s.InstallCheckpoint(p.c, fmt.Appendf(nil, "a peer's state at %d", p.c), done)
	}); err != nil {
		return fmt.Sprintf("checkpoint %d installed: %v", p.c, err)
	}
	if broken != nil {
		broken(x)
	}
	for op := range log {
		if op <= p.c {
			delete(log, op) // the checkpoint's
		}
	}
	for op := p.c + 1; op <= p.c+p.k; op++ {
		if head := x.s.Head(); head < op {
			return fmt.Sprintf("after the install or the repairs below op %d: head %d, want %d", op, head, p.head)
		}
		named := op < p.head && (op == p.c+p.k) // the next op intact: its parent names this one
		if named && !x.s.Rewritable(storage.Entry{Op: op, Body: log[op]}) {
			return fmt.Sprintf("op %d's acknowledged body, named by op %d's parent, is not Rewritable", op, op+1)
		}
		if err := x.append(op, log[op]); err != nil {
			return fmt.Sprintf("the repair of op %d: %v", op, err)
		}
	}
	if p.rewrite && p.c+p.k+1 < p.head {
		op := p.c + p.k + 1
		if !x.s.Rewritable(storage.Entry{Op: op, Body: log[op]}) {
			return fmt.Sprintf("intact op %d, with its own body, is not Rewritable", op)
		}
		if err := x.wait(func(done func(error)) { x.s.Rewrite(storage.Entry{Op: op, Body: log[op]}, done) }); err != nil {
			return fmt.Sprintf("the rewrite of intact op %d: %v", op, err)
		}
	}
	if head := x.s.Head(); head != p.head {
		return fmt.Sprintf("after the repairs: head %d, want %d", head, p.head)
	}
	for op := p.head + 1; op <= p.top; op++ {
		log[op] = sideBody(move, op, 1)
		if err := x.append(op, log[op]); err != nil {
			return fmt.Sprintf("append of op %d: %v", op, err)
		}
	}
	if msg := x.readsBack(log, p.top); msg != "" {
		return "after the repairs: " + msg
	}
	if _, msg := x.reopen(); msg != "" {
		return "after the repairs: " + msg
	}
	if msg := x.readsBack(log, p.top); msg != "" {
		return "after the repairs and a crash: " + msg
	}
	return ""
}
