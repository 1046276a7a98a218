package scenarios

import (
	"errors"
	"math"

	"vopr/cluster/storage"
	"vopr/internal/storagemodel"
	"vopr/sim"
)

// Write errors in the storage episode. A write the device reports failed changes nothing
// (sim.Disk.ArmWriteError), and the engine's contract for a fresh append that fails is that
// the log is as before: the caller (a replica) has not acknowledged the op and may move on
// without it, persisting a log view that does not name it. So the error is aimed where it
// is hardest to honour: at the record write of a fresh append, after its entry was written
// and synced. In a third of the boots, the nth fresh append (n drawn from 0 to 3) of the boot
// meets one. The episode then takes the failure as final, like a replica whose view moved on:
// the op was never appended; in half the cases the append is issued again (the replica's
// retry), in the other half the history stops there and the crash follows. Either way what
// Open recovers is held to the history without the failed append: its entry coming back is
// an op that was never acknowledged.
//
// A repair (the last boot's rewrite of a faulty op) meets the boot's error at its entry
// write instead. The engine's contract there is that the op keeps its identity and place:
// still Rewritable, so that a replica's retry writes it in place again rather than replace
// it, which truncates every durable op above it (swarm seed 2027100302 with write errors).

// A full disk fails the same record write with ErrNoSpace: on a real file system a segment's
// record area is a hole until written (its first entry lies past it), and filling a sector
// of it needs a block a full disk lacks, though the entry was written and synced. In a third
// of the boots that aim no write error (their own stream, storage_episode/no_space, so that
// every other draw of a seed stays), the nth fresh append meets it (sim.Disk.ArmNoSpace,
// which refuses every write there until the episode withdraws it: space does not come back
// for a retry after compaction). The contract is the write error's: the append failed, and
// its entry must not come back.

// writeErrorAim is a boot's aimed write error: fresh appends to let pass first (-1: none
// this boot), and whether one is armed now.
type writeErrorAim struct {
	nth   int
	armed bool
	// noSpace: the error is ErrNoSpace (ArmNoSpace), aimed at fresh appends only.
	noSpace bool
	// failedOp is the op of the append the error failed this boot (0: none): a misdirect
	// that hit its writes hit an op above the model's head (settleMisdirect).
	failedOp uint64
}

// drawWriteErrorAim draws the boot's write error from the episode's own stream.
func (e *storeEpisode) drawWriteErrorAim() writeErrorAim {
	if e.writeErrors.IntN(3) != 0 {
		if e.noSpace.IntN(3) == 0 {
			return writeErrorAim{nth: e.noSpace.IntN(4), noSpace: true}
		}
		return writeErrorAim{nth: -1}
	}
	return writeErrorAim{nth: e.writeErrors.IntN(4)}
}

// aimWriteError arms the boot's write error at step's record write if step is the fresh
// append it waits for.
func (e *storeEpisode) aimWriteError(step storagemodel.Step) {
	a := &e.errorAim
	if a.nth >= 0 && step.Kind == storagemodel.Repair && !a.noSpace {
		a.nth, a.armed = -1, true
		entries := storage.RecordAreaSize(storageEpisodeOptions.SegmentEntriesMax)
		e.disk.ArmWriteError(segmentFileName4(step.Op), entries, math.MaxInt64) // its entry's write
		return
	}
	if a.nth < 0 || step.Kind != storagemodel.Append {
		return
	}
	if a.nth > 0 {
		a.nth--
		return
	}
	a.nth, a.armed = -1, true
	at := int64(step.Op%uint64(storageEpisodeOptions.SegmentEntriesMax)) * storage.SectorSize
	if a.noSpace {
		e.disk.ArmNoSpace(segmentFileName4(step.Op), at, at+1)
		return
	}
	e.disk.ArmWriteError(segmentFileName4(step.Op), at, at+1)
}

// appendFailed reports whether err is the armed write error failing step, a fresh append;
// if so it takes the failure as final (the model's operation in flight is gone) and reports
// whether the history goes on (the append issued again).
func (e *storeEpisode) appendFailed(step storagemodel.Step, err error) (failed, goOn bool) {
	want := storage.ErrIO
	if e.errorAim.noSpace {
		want = storage.ErrNoSpace
	}
	if !e.errorAim.armed || step.Kind != storagemodel.Append || !errors.Is(err, want) ||
		!e.disk.DisarmWriteError() {
		return false, false
	}
	e.errorAim.armed, e.errorAim.failedOp = false, step.Op
	if e.errorAim.noSpace {
		e.counters["storage_episode.append_no_space"]++
	} else {
		e.counters["storage_episode.append_write_errors"]++
	}
	e.m.Pending = nil
	return true, e.writeErrors.IntN(2) == 0
}

// repairFailed reports whether err is the armed write error failing step, a repair; if so the
// history ends there (the crash follows), and the op must still be Rewritable unless it is
// the head (a replica repairs the head with an Append).
func (e *storeEpisode) repairFailed(step storagemodel.Step, err error) bool {
	if !e.errorAim.armed || step.Kind != storagemodel.Repair || !errors.Is(err, storage.ErrIO) ||
		!e.disk.DisarmWriteError() {
		return false
	}
	e.errorAim.armed = false
	e.counters["storage_episode.repair_write_errors"]++
	e.m.Pending = nil
	if entry := (storage.Entry{Op: step.Op, Body: step.Body}); step.Op != e.s.Head() && !e.s.Rewritable(entry) {
		e.fail("the repair of op %d failed on a write error and left it no longer Rewritable: a replica's "+
			"retry would replace it, truncating the durable ops above it", step.Op)
	}
	return true
}

// keepCutFS is the engine's file system under the noSpaceKeepsEntry knob: while the aimed
// ErrNoSpace waits, a truncation (the cut of the failed append's entry) does nothing, so the
// disk is left as an engine that skipped the cut left it.
type keepCutFS struct {
	*sim.Disk
	e *storeEpisode
}

func (f keepCutFS) Truncate(name string, size int64, done func(error)) {
	if a := f.e.errorAim; a.armed && a.noSpace {
		done(nil)
		return
	}
	f.Disk.Truncate(name, size, done)
}

// settleWriteError withdraws an armed write error no write took before the crash (Open
// writes records too, and must not meet it).
func (e *storeEpisode) settleWriteError() {
	e.settleTruncateError()
	e.disk.DisarmWriteError()
	e.errorAim.nth, e.errorAim.armed = -1, false
}
