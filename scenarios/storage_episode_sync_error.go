package scenarios

import (
	"errors"

	"vopr/cluster/storage"
	"vopr/internal/storagemodel"
	"vopr/sim"
)

// A failed sync that keeps the write. A failed fsync need not undo what it covered: the
// write may have reached the platter before the error, or its page stays in the cache and is
// written back later (Rebello et al., ATC'20). Aimed at the record sync of a fresh append
// (sim.Disk.ArmSyncError: the sync fails with ErrIO and the record stays, durable), the
// append fails after its entry and its record are both on disk, and the engine's contract is
// a failed append's: the log is as before, and the op, which the replica never acknowledged,
// must not come back, intact or faulty, under the failed append's identity (storage's
// tombstoneFailedRecord: a record left in place was taken by the next Open for proof of a
// durable entry, h59 review). Until the append returns, a crash may find the entry cut and
// the record not yet tombstoned: the op faulty, as for an append in flight whose record
// outlived its entry, which the episode then allows (settleSyncError).
//
// In half the boots that aim no write error (their own stream, storage_episode/sync_error,
// so that every other draw of a seed stays), the nth fresh append (n drawn from 0 to 2) meets
// one. The episode then goes on as appendFailed does: the op was never appended, and half
// the time the history stops there (the crash follows).

// syncErrorAim is a boot's aimed sync error: fresh appends to let pass first (-1: none this
// boot), whether one is armed now, and the op it is armed at.
type syncErrorAim struct {
	nth    int
	armed  bool
	op     uint64
	struck bool // the sync failed (under the syncErrorKeepsRecord knob)
}

// drawSyncErrorAim draws the boot's sync error, after its write errors.
func (e *storeEpisode) drawSyncErrorAim() syncErrorAim {
	if e.errorAim.nth >= 0 || e.truncateAim.nth >= 0 || e.syncErrors.IntN(2) != 0 {
		return syncErrorAim{nth: -1}
	}
	return syncErrorAim{nth: e.syncErrors.IntN(3)}
}

// aimSyncError arms the boot's sync error at step's record sync if step is the fresh append
// it waits for.
func (e *storeEpisode) aimSyncError(step storagemodel.Step) {
	a := &e.syncAim
	if a.nth < 0 || step.Kind != storagemodel.Append {
		return
	}
	if a.nth > 0 {
		a.nth--
		return
	}
	a.nth, a.armed, a.op = -1, true, step.Op
	at := int64(step.Op%uint64(storageEpisodeOptions.SegmentEntriesMax)) * storage.SectorSize
	e.disk.ArmSyncError(segmentFileName4(step.Op), at, at+1)
}

// appendSyncFailed reports whether err is the armed sync error failing step, a fresh append;
// if so it takes the failure as final and goes on, or not, as appendFailed does.
func (e *storeEpisode) appendSyncFailed(step storagemodel.Step, err error) bool {
	a := &e.syncAim
	if !a.armed || step.Kind != storagemodel.Append || step.Op != a.op || !errors.Is(err, storage.ErrIO) ||
		!e.disk.DisarmSyncError() {
		return false
	}
	a.armed, a.struck = false, false
	e.counters["coverage.storage_episode.append_sync_error_kept"]++
	e.errorAim.failedOp = step.Op
	e.m.Pending = nil
	if e.syncErrors.IntN(2) == 0 {
		e.issue()
	}
	return true
}

// settleSyncError withdraws the armed sync error at a crash. If it struck the append still in
// flight, the engine may have been cutting its entry with the record still in place: a
// recovery may hold the op faulty, named by that record (syncKept), which for a fresh append
// in flight is otherwise a record that outlived an entry never durable, and the append did
// not finish though its record was written.
func (e *storeEpisode) settleSyncError() {
	a := &e.syncAim
	if e.disk.DisarmSyncError() && a.armed && e.m.PendingIs(storagemodel.Append) && e.m.Pending.Op == a.op {
		e.syncKept[a.op] = true
		e.counters["storage_episode.append_sync_error_crash"]++
	}
	*a = syncErrorAim{nth: -1}
}

// keepRecordFS is the engine's file system under the syncErrorKeepsRecord knob: once the
// aimed sync error struck, a write over the failed append's record sector is dropped (it
// reports success and changes nothing), so the record stays, as an engine that did not write
// a tombstone over it left it (storage.failed_append_keeps_record).
type keepRecordFS struct {
	*sim.Disk
	e *storeEpisode
}

func (f keepRecordFS) Sync(name string, done func(error)) {
	f.Disk.Sync(name, func(err error) {
		if a := &f.e.syncAim; a.armed && errors.Is(err, storage.ErrIO) {
			a.struck = true
		}
		done(err)
	})
}

func (f keepRecordFS) WriteAt(name string, data []byte, offset int64, done func(error)) {
	a := f.e.syncAim
	at := int64(a.op%uint64(storageEpisodeOptions.SegmentEntriesMax)) * storage.SectorSize
	if a.struck && name == segmentFileName4(a.op) && offset == at {
		f.Disk.List(func([]string, error) { done(nil) }) // later, never inline
		return
	}
	f.Disk.WriteAt(name, data, offset, done)
}
