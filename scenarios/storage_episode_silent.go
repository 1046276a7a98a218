package scenarios

import (
	"bytes"
	"fmt"
	"slices"

	"vopr/cluster/storage"
	"vopr/sim"
)

// Silent faults: the device says one thing and does another (sim/disk_silent.go). The
// episode's history meets failed syncs that lose their writes, and crashes that lose unsynced
// ones, but never a failed sync whose write landed, nor an acknowledged write that never
// landed, nor a checkpoint a state sync installed over an empty log that rots under the ops
// appended after it. Each is a state the engine must recover from within its contract
// (acknowledged ops back intact or reported faulty, no operation failing at every retry),
// and each once hid an engine bug (h89's review test):
//
//   - kept superblock sync: ops 1..head, then a state sync's InstallCheckpoint(c) above the
//     head whose superblock sync fails though its write reached the disk (fsyncgate). The
//     install failed, so the replica goes on with its log: ops head+1..top appended (c below
//     top), a crash, Open. The engine must not have left the failed state to be adopted: the
//     checkpoint is the log's own (op 0), and ops 1..top come back intact
//     (storage.failed_superblock_write_not_restored).
//   - lost tail entry: ops 1..top where op f, the last of its segment, had its entry's write
//     lost (reported done, never applied: the file never grew to hold it) while its record
//     landed; a crash, Open: op f faulty, the ops above intact, and op f's own prepare
//     Rewritable; its repair (Append) is cut short by a crash at a drawn completion; after
//     Open every acknowledged op f..top is back, intact or faulty, never absent
//     (storage.known_region_clipped_at_file_end).
//   - fallback under a peer's checkpoint: a state sync installs checkpoint 1 over the empty
//     log, ops 2..top are appended, a crash, and the checkpoint file rots: Open falls back to
//     op 0 with op 1 faulty (or reports the checkpoint lost). The replica cuts after op 1,
//     repairs op 1 (Append, retried), appends again above it, and a view change saves the
//     state; after a crash, Open gives back ops 1..top as appended
//     (storage.truncation_removes_segment_of_faulty_op).
//
// Each runs on a fresh disk of the episode's options (sideEngine) in a third of the episodes,
// drawn from a stream of its own, so that every other draw of a seed stays.

// silentMoves are the moves of this file, for scriptedMoves.
func (e *storeEpisode) silentMoves() []func() {
	return []func(){e.maybeCheckKeptSuperblockSync, e.maybeCheckLostTailEntry, e.maybeCheckPeerCheckpointFallback}
}

// maybeCheckKeptSuperblockSync runs the kept superblock sync (see above).
func (e *storeEpisode) maybeCheckKeptSuperblockSync() {
	rng := sim.Stream(e.seed, "storage_episode/kept_superblock_sync")
	if rng.IntN(3) != 0 {
		return
	}
	head := 1 + rng.Uint64N(4)
	top := head + 2 + rng.Uint64N(4)
	c := head + 1 + rng.Uint64N(top-head-1) // below top: some acknowledged op lies above it
	msg, covered := checkKeptSuperblockSync(e.seed, head, c, top)
	if msg != "" {
		e.fail("ops 1..%d, checkpoint %d installed with its superblock sync failed but kept, ops %d..%d appended: %s",
			head, c, head+1, top, msg)
		return
	}
	if covered {
		e.counters["coverage.storage_episode.kept_superblock_sync"]++
	}
}

func checkKeptSuperblockSync(seed, head, c, top uint64) (string, bool) {
	const move = "kept_superblock_sync"
	x, msg := newSideEngine(seed, move)
	if msg != "" {
		return msg, false
	}
	log := map[uint64][]byte{}
	for op := uint64(1); op <= head; op++ {
		log[op] = sideBody(move, op, 0)
		if err := x.append(op, log[op]); err != nil {
			return fmt.Sprintf("append of op %d: %v", op, err), false
		}
	}
	x.disk.ArmSyncErrorKept("superblock")
	err := x.wait(func(done func(error)) { x.s.InstallCheckpoint(c, fmt.Appendf(nil, "a peer's state at %d", c), done) })
	if fired := x.disk.DisarmSyncError(); !fired || err == nil {
		return "", false // the sync error missed, or the engine got through it: nothing to hold it to
	}
	for op := head + 1; op <= top; op++ {
		log[op] = sideBody(move, op, 0)
		if err := x.append(op, log[op]); err != nil {
			return fmt.Sprintf("append of op %d after the failed install: %v", op, err), false
		}
	}
	rec, msg := x.reopen()
	if msg != "" {
		return msg, false
	}
	if rec.State.CheckpointOp != 0 {
		return fmt.Sprintf("Open adopted checkpoint %d, whose install was reported failed (faulty %v)",
			rec.State.CheckpointOp, rec.Faulty), false
	}
	got := map[uint64][]byte{}
	for _, entry := range rec.Entries {
		got[entry.Op] = entry.Body
	}
	for op := uint64(1); op <= top; op++ {
		if !bytes.Equal(got[op], log[op]) {
			return fmt.Sprintf("acknowledged op %d not intact after Open (faulty %v)", op, rec.Faulty), false
		}
	}
	return "", true
}

// maybeCheckLostTailEntry runs the lost tail entry (see above).
func (e *storeEpisode) maybeCheckLostTailEntry() {
	rng := sim.Stream(e.seed, "storage_episode/lost_tail_entry")
	if rng.IntN(3) != 0 {
		return
	}
	per := uint64(storageEpisodeOptions.SegmentEntriesMax)
	f := per*(1+rng.Uint64N(2)) - 1
	top := f + 1 + rng.Uint64N(per+2)
	crashAt := rng.IntN(8)
	msg, covered := checkLostTailEntry(e.seed, f, top, crashAt)
	if msg != "" {
		e.fail("ops 1..%d, op %d's entry write lost at its file's end, its repair crashed after %d completions: %s",
			top, f, crashAt, msg)
		return
	}
	if covered {
		e.counters["coverage.storage_episode.lost_tail_entry"]++
	}
}

func checkLostTailEntry(seed, f, top uint64, crashAt int) (string, bool) {
	const move = "lost_tail_entry"
	x, msg := newSideEngine(seed, move)
	if msg != "" {
		return msg, false
	}
	log := map[uint64][]byte{}
	for op := uint64(1); op <= top; op++ {
		log[op] = sideBody(move, op, 0)
		if op == f {
			name, _ := recordPlace(f)
			size, err := x.disk.Size(name)
			if err != nil {
				return fmt.Sprintf("op %d's segment file: %v", f, err), false
			}
			x.disk.ArmLostWrite(name, size, 1<<62)
		}
		if err := x.append(op, log[op]); err != nil {
			return fmt.Sprintf("append of op %d: %v", op, err), false
		}
		if op == f && !x.disk.DisarmLostWrite() {
			return "", false // the entry was not written at the file's end
		}
	}
	rec, msg := x.reopen()
	if msg != "" {
		return msg, false
	}
	if !slices.Contains(rec.Faulty, f) {
		return fmt.Sprintf("its entry lost, op %d is not faulty after Open (faulty %v)", f, rec.Faulty), false
	}
	for _, entry := range rec.Entries {
		if !bytes.Equal(entry.Body, log[entry.Op]) {
			return fmt.Sprintf("Open returned op %d as %q, appended %q", entry.Op, entry.Body, log[entry.Op]), false
		}
	}
	if got := x.s.Head(); got != top {
		return fmt.Sprintf("head %d after Open, want %d (faulty %v)", got, top, rec.Faulty), false
	}
	rewritable := x.s.Rewritable(storage.Entry{Op: f, Body: log[f]})
	// The repair, cut short by a crash after crashAt completions (or not, if it takes fewer).
	done := false
	x.s.Append(storage.Entry{Op: f, Body: log[f]}, func(error) { done = true })
	for i := 0; i < crashAt && !done && x.loop.Step(); i++ {
	}
	rec, msg = x.reopen()
	if msg != "" {
		return "after the repair: " + msg, false
	}
	got := map[uint64][]byte{}
	for _, entry := range rec.Entries {
		got[entry.Op] = entry.Body
	}
	for op := uint64(1); op <= top; op++ {
		if bytes.Equal(got[op], log[op]) || (op >= f && slices.Contains(rec.Faulty, op)) {
			continue
		}
		return fmt.Sprintf("acknowledged op %d lost after the repair of op %d (entries %v, faulty %v, head %d)",
			op, f, opsOf(rec.Entries), rec.Faulty, x.s.Head()), false
	}
	if !rewritable {
		return fmt.Sprintf("op %d's own prepare, under its intact record, is not Rewritable", f), false
	}
	return "", true
}

// opsOf lists the ops of entries.
func opsOf(entries []storage.Entry) []uint64 {
	ops := make([]uint64, len(entries))
	for i, entry := range entries {
		ops[i] = entry.Op
	}
	return ops
}

// maybeCheckPeerCheckpointFallback runs the fallback under a peer's checkpoint (see above).
func (e *storeEpisode) maybeCheckPeerCheckpointFallback() {
	rng := sim.Stream(e.seed, "storage_episode/peer_checkpoint_fallback")
	if rng.IntN(3) != 0 {
		return
	}
	top := 2 + rng.Uint64N(5)
	again := 2 + rng.Uint64N(5)
	tries := 1 + rng.IntN(2)
	msg, covered := checkPeerCheckpointFallback(e.seed, top, again, tries)
	if msg != "" {
		e.fail("checkpoint 1 installed over an empty log, ops 2..%d, its file rotten, ops 2..%d appended again after the repair: %s",
			top, again, msg)
		return
	}
	if covered {
		e.counters["coverage.storage_episode.peer_checkpoint_fallback"]++
	}
}

func checkPeerCheckpointFallback(seed, top, again uint64, tries int) (string, bool) {
	const move = "peer_checkpoint_fallback"
	x, msg := newSideEngine(seed, move)
	if msg != "" {
		return msg, false
	}
	if err := x.wait(func(done func(error)) { x.s.InstallCheckpoint(1, []byte("a peer's state at 1"), done) }); err != nil {
		return fmt.Sprintf("checkpoint 1 installed: %v", err), false
	}
	log := map[uint64][]byte{}
	for op := uint64(2); op <= top; op++ {
		log[op] = sideBody(move, op, 0)
		if err := x.append(op, log[op]); err != nil {
			return fmt.Sprintf("append of op %d: %v", op, err), false
		}
	}
	x.disk.Crash()
	x.disk.CorruptSector(fmt.Sprintf("checkpoint-%016x", 1), 0)
	rec, msg := x.reopen()
	if msg != "" {
		return msg, false
	}
	if rec.CheckpointLost || rec.State.CheckpointOp != 0 {
		return "", false // the contract's other outcome: nothing to repair under
	}
	if !slices.Contains(rec.Faulty, 1) {
		return fmt.Sprintf("Open fell back to op 0 without op 1 faulty (entries %v, faulty %v)", opsOf(rec.Entries), rec.Faulty), false
	}
	if err := x.wait(func(done func(error)) { x.s.TruncateAfter(1, done) }); err != nil {
		return fmt.Sprintf("TruncateAfter(1): %v", err), false
	}
	log = map[uint64][]byte{1: sideBody(move, 1, 1)}
	for try := 0; try < tries; try++ {
		if err := x.append(1, log[1]); err != nil {
			return fmt.Sprintf("the repair Append(1), try %d: %v", try+1, err), false
		}
	}
	for op := uint64(2); op <= again; op++ {
		log[op] = sideBody(move, op, 1)
		if err := x.append(op, log[op]); err != nil {
			return fmt.Sprintf("append of op %d after the repair: %v", op, err), false
		}
	}
	st := x.s.State()
	st.View, st.LogView = st.View+1, st.View+1 // a view change persists the fallen-back state
	if err := x.wait(func(done func(error)) { x.s.SaveState(st, done) }); err != nil {
		return fmt.Sprintf("SaveState: %v", err), false
	}
	if _, msg := x.reopen(); msg != "" {
		return "after the repair and a crash: " + msg, false
	}
	if msg := x.readsBack(log, again); msg != "" {
		return "after the repair and a crash: " + msg, false
	}
	return "", true
}
