package scenarios

import (
	"bytes"
	"fmt"

	"vopr/sim"
)

// A damaged installed checkpoint over the log's own. Checkpoint files are kept while a
// superblock pair names one; if the newest checkpoint does not verify, Open falls back to the
// previous one, the one the other superblock pair names, with its snapshot, and keeps the
// newest view (doc.go; Recovery.CheckpointDamaged). The
// episode corrupts the newest checkpoint file after drawn histories, where a fallback to op 0
// or a lost checkpoint is often allowed too (the previous file may be gone, or the log
// replays from op 1), so an engine that never took the previous checkpoint from the older
// superblock pair passed: the fallback it owed was never pinned down.
//
// So at the end of a third of the episodes (their own stream, storage_episode/older_pair, so
// that every other draw of a seed stays), on a fresh disk of the episode's options: ops
// 1..head appended, the log's own checkpoint at c1 <= head (its snapshot), in half of them a
// superblock write, then a peer's checkpoint installed at c2 > c1 (a state sync, above the
// head or among the log's ops): the other pair names c1 (a superblock write after the
// install would leave both naming c2, and a lost checkpoint is then the contract's outcome).
// Then c2's file corrupted, a crash, and Open: it must recover checkpoint c1 with c1's
// snapshot, report c2 damaged and not lost, and keep the newest view.

// maybeCheckOlderPair runs the move (see above) in a third of the episodes.
func (e *storeEpisode) maybeCheckOlderPair() {
	rng := sim.Stream(e.seed, "storage_episode/older_pair")
	if rng.IntN(3) != 0 {
		return
	}
	p := olderPairPlan{head: 1 + rng.Uint64N(10)}
	p.c1 = 1 + rng.Uint64N(p.head)
	p.c2 = p.c1 + 1 + rng.Uint64N(10)
	p.saveBefore = rng.IntN(2) == 0
	if msg := checkOlderPair(e.seed, p); msg != "" {
		e.fail("%v: %s", p, msg)
		return
	}
	e.counters["coverage.storage_episode.older_pair"]++
}

// olderPairPlan is one draw of the move.
type olderPairPlan struct {
	head, c1, c2 uint64
	saveBefore   bool
}

func (p olderPairPlan) String() string {
	return fmt.Sprintf("ops 1..%d, checkpoint %d (a superblock write after it: %v), checkpoint %d installed, its file corrupted",
		p.head, p.c1, p.saveBefore, p.c2)
}

func checkOlderPair(seed uint64, p olderPairPlan) string {
	const move = "older_pair"
	x, msg := newSideEngine(seed, move)
	if msg != "" {
		return msg
	}
	for op := uint64(1); op <= p.head; op++ {
		if err := x.append(op, sideBody(move, op, 0)); err != nil {
			return fmt.Sprintf("append of op %d: %v", op, err)
		}
	}
	own := fmt.Appendf(nil, "the log's own state at %d", p.c1)
	if err := x.wait(func(done func(error)) { x.s.Checkpoint(p.c1, own, done) }); err != nil {
		return fmt.Sprintf("checkpoint %d: %v", p.c1, err)
	}
	view := x.s.State().View
	save := func() string {
		st := x.s.State()
		st.View++
		view = st.View
		if err := x.wait(func(done func(error)) { x.s.SaveState(st, done) }); err != nil {
			return fmt.Sprintf("superblock write: %v", err)
		}
		return ""
	}
	if p.saveBefore {
		if msg := save(); msg != "" {
			return msg
		}
	}
	if err := x.wait(func(done func(error)) {
		x.s.InstallCheckpoint(p.c2, fmt.Appendf(nil, "a peer's state at %d", p.c2), done)
	}); err != nil {
		return fmt.Sprintf("checkpoint %d installed: %v", p.c2, err)
	}
	x.disk.CorruptSector(fmt.Sprintf("checkpoint-%016x", p.c2), 0)
	rec, msg := x.reopen()
	if msg != "" {
		return msg
	}
	if got := rec.State.CheckpointOp; got != p.c1 || rec.CheckpointLost || rec.CheckpointDamaged != p.c2 || !bytes.Equal(rec.Snapshot, own) {
		return fmt.Sprintf("Open recovered checkpoint %d (lost %v, damaged %d, snapshot %q); want the previous checkpoint %d, its snapshot, and %d damaged",
			got, rec.CheckpointLost, rec.CheckpointDamaged, rec.Snapshot, p.c1, p.c2)
	}
	if rec.State.View != view {
		return fmt.Sprintf("Open recovered view %d, want the newest, %d", rec.State.View, view)
	}
	return ""
}
