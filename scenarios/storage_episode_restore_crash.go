package scenarios

import (
	"bytes"
	"fmt"
	"slices"

	"vopr/cluster/storage"
	"vopr/sim"
)

// A restore cut short by a crash. The runbook's `storage restore` (replica_crash option B,
// assertion_failure) replaces a stopped replica's disk, whatever it holds, with the backup's
// state: old segments and checkpoints removed, new ones written, a new superblock. A crash
// part-way through is a disk that holds some of each, and the engine's promise
// (storage.Restore) is that the superblock is removed first and written last, so that such a
// disk opens as unformatted (the operator runs the restore again), never as a replica whose
// superblock names a checkpoint or a log that is partly gone: a replica that restarts on that
// has lost its checkpoint, or acknowledged ops, and says nothing. The restore check restored
// onto a fresh disk and never crashed, and the runbooks' restores ran to the end (option C of
// quorum_lost crashes one, but on a disk already lost, with nothing to remove).
//
// So after the restore check passes, the backup is restored onto a disk that holds another
// state: a new disk (its own stream, storage_episode/restore_crash, with the episode's crash
// model) on which the backup was restored and then moved on, as the replica would have (a
// view change and one to three appends). The restore crashes at an I/O completion drawn over
// its count (the restore onto the empty disk counted it, plus one removal per file on the
// disk; a draw past the end crashes nothing), and the disk, opened again, must be one of:
//
//   - unformatted: no superblock, or no copy of it intact (Open: ErrNotFormatted, or
//     ErrCorrupt saying so; quorum_lost's unformatted);
//   - exactly the old state: the state the episode saved, the backup's checkpoint, and the
//     backup's entries with the appends above them, nothing faulty;
//   - exactly the restored state: what the restore onto the fresh disk gave back.

// restoreCrashDiskOptions is the crash-restore's disk: the episode's latencies; the crash
// model is drawn.
func restoreCrashDiskOptions(lost, torn float64) sim.DiskOptions {
	return sim.DiskOptions{ReadLatencyMin: 10 * sim.Microsecond, ReadLatencyMean: 50 * sim.Microsecond,
		WriteLatencyMin: 20 * sim.Microsecond, WriteLatencyMean: 200 * sim.Microsecond, Capacity: 16 << 20,
		CrashLostProbability: lost, CrashTornProbability: torn}
}

// judgeRestoreCrash runs the crashed restore of backup (see above) on loop; restored is the
// recovery of the backup restored onto a fresh disk. The violation, or "".
func (e *storeEpisode) judgeRestoreCrash(loop *sim.Loop, trace *sim.Trace, backup []byte, restored *storage.Recovery) string {
	r := e.restoreCrash
	opts := restoreCrashDiskOptions([]float64{0, 0.5, 1}[r.IntN(3)], []float64{0, 0.5, 1}[r.IntN(3)])
	disk := sim.NewDisk(loop, sim.Stream(e.seed, "storage_episode/restore_crash/disk"), trace, 0, opts)
	counter := &restoreCrashFS{disk: disk}
	if err := sideWait(loop, func(done func(error)) { storage.Restore(counter, storageEpisodeOptions, backup, done) }); err != nil {
		return fmt.Sprintf("restore onto an empty disk: %v", err)
	}
	// The old state: the restored one, moved on as the replica would.
	s, _, err := sideOpen(loop, disk)
	if err != nil {
		return fmt.Sprintf("the restored disk did not open: %v", err)
	}
	old := s.State()
	old.View++
	old.LogView = old.View
	if err := sideWait(loop, func(done func(error)) { s.SaveState(old, done) }); err != nil {
		return fmt.Sprintf("view change on the restored disk: %v", err)
	}
	entries := restoredEntries(restored)
	for range 1 + r.IntN(3) {
		entry := storage.Entry{Op: s.Head() + 1, Body: fmt.Appendf(nil, "op %d after the restore", s.Head()+1)}
		if err := sideWait(loop, func(done func(error)) { s.Append(entry, done) }); err != nil {
			return fmt.Sprintf("append of op %d on the restored disk: %v", entry.Op, err)
		}
		entries[entry.Op] = entry.Body
	}
	// The crash: at a completion drawn over the restore's count on this disk.
	of := counter.count + len(disk.Names())
	k := 1 + r.IntN(of)
	var kept []byte // the old superblock, for the knob
	if e.restoreCrashKeepsSuperblock {
		kept = bytes.Clone(disk.Durable("superblock"))
	}
	at := ""
	fs := &restoreCrashFS{disk: disk, k: k, onCrash: func(what string) { at = what }}
	var restoreErr error
	finished := false
	storage.Restore(fs, storageEpisodeOptions, backup, func(err error) { restoreErr, finished = err, true })
	for steps := 0; !finished && at == "" && loop.Step(); steps++ {
		if steps > restoreStepsMax {
			return "the crashed restore did not stop"
		}
	}
	switch {
	case finished && restoreErr != nil:
		return fmt.Sprintf("restore onto a disk holding another state: %v", restoreErr)
	case !finished && at == "":
		return "the restore onto a disk holding another state neither finished nor crashed"
	}
	what := "the restore run to the end"
	if at != "" {
		what = fmt.Sprintf("a crash at I/O completion %d of about %d of the restore (%s)", k, of, at)
		if kept != nil && !slices.Contains(disk.Names(), "superblock") {
			// The knob: the old superblock left in place, as a restore that removed it last
			// would have left it.
			if msg := e.putBack(loop, disk, kept); msg != "" {
				return msg
			}
		}
	}
	e.counters["coverage.storage_episode.restore_crashes"]++
	_, got, err := sideOpen(loop, disk)
	switch {
	case err != nil && unformatted(err):
		e.counters["coverage.storage_episode.restore_crash.unformatted"]++
		return ""
	case err != nil:
		return fmt.Sprintf("after %s, the disk opens neither as unformatted (to restore again) nor as a state: %v", what, err)
	case sameRecovery(got, old, restored.Snapshot, entries) == "":
		e.counters["coverage.storage_episode.restore_crash.old"]++
		return ""
	}
	why := sameRecovery(got, restored.State, restored.Snapshot, restoredEntries(restored))
	if why == "" {
		e.counters["coverage.storage_episode.restore_crash.restored"]++
		return ""
	}
	return fmt.Sprintf("after %s, the disk opens as a state that is neither the old one (view %d, head %d: it has %s) nor the restored one (view %d, head %d: it has %s)",
		what, old.View, maxOp(entries), sameRecovery(got, old, restored.Snapshot, entries),
		restored.State.View, maxOp(restoredEntries(restored)), why)
}

// sameRest reports whether a and b agree beside the view, commit and checkpoint op.
func sameRest(a, b storage.State) bool {
	a.View, a.LogView, a.Commit, a.CheckpointOp = b.View, b.LogView, b.Commit, b.CheckpointOp
	return a == b
}

// restoredEntries is rec's entries by op.
func restoredEntries(rec *storage.Recovery) map[uint64][]byte {
	entries := map[uint64][]byte{}
	for _, entry := range rec.Entries {
		entries[entry.Op] = entry.Body
	}
	return entries
}

func maxOp(entries map[uint64][]byte) uint64 {
	top := uint64(0)
	for op := range entries {
		top = max(top, op)
	}
	return top
}

// sameRecovery reports how rec differs from a whole state: st, the checkpoint's snapshot and
// entries, nothing faulty, lost or damaged ("" if it does not).
func sameRecovery(rec *storage.Recovery, st storage.State, snapshot []byte, entries map[uint64][]byte) string {
	switch {
	case rec.State != st:
		return fmt.Sprintf("view %d, commit %d, checkpoint %d (and the rest of the state: %t), not view %d, commit %d, checkpoint %d",
			rec.State.View, rec.State.Commit, rec.State.CheckpointOp, sameRest(rec.State, st), st.View, st.Commit, st.CheckpointOp)
	case rec.CheckpointLost || rec.CheckpointDamaged != 0 || len(rec.Faulty) > 0:
		return fmt.Sprintf("checkpoint %d lost %t, damaged checkpoint %d, faulty ops %v", rec.State.CheckpointOp,
			rec.CheckpointLost, rec.CheckpointDamaged, rec.Faulty)
	case !bytes.Equal(rec.Snapshot, snapshot):
		return fmt.Sprintf("another snapshot at checkpoint %d", rec.State.CheckpointOp)
	case len(rec.Entries) != len(entries):
		return fmt.Sprintf("%d entries up to op %d, not %d", len(rec.Entries), maxOp(restoredEntries(rec)), len(entries))
	}
	for _, entry := range rec.Entries {
		if body, ok := entries[entry.Op]; !ok || !bytes.Equal(body, entry.Body) {
			return fmt.Sprintf("op %d with another body, or none expected", entry.Op)
		}
	}
	return ""
}

// putBack writes the superblock file back as kept (the knob restoreCrashKeepsSuperblock).
func (e *storeEpisode) putBack(loop *sim.Loop, disk *sim.Disk, kept []byte) string {
	for _, step := range []func(done func(error)){
		func(done func(error)) { disk.Create("superblock", done) },
		func(done func(error)) { disk.WriteAt("superblock", kept, 0, done) },
		func(done func(error)) { disk.Sync("superblock", done) },
	} {
		if err := sideWait(loop, step); err != nil {
			return fmt.Sprintf("the knob's superblock: %v", err)
		}
	}
	return ""
}
