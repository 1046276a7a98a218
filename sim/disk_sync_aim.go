package sim

import (
	"strconv"

	"vopr/cluster/storage"
)

// An aimed sync error: the next Sync of a file that is to make durable a write into a byte
// range fails with ErrIO and keeps every write it covered, whole. It is the outcome of a
// failed fsync that an engine gets wrong by taking the failure for proof that the write is
// gone: the write reached the platter before the error, or its page stayed in the cache and
// was written back later (syncLoss draws it a quarter of the time). A scenario aims it at one
// step of the engine's work (the record write of an append, say), as ArmWriteError, without
// a draw from the disk's stream.

// armedSyncError is a sync error aimed at the next Sync of name covering a write that
// starts in bytes [lo, hi) (ArmSyncError); fired records that a sync took it.
type armedSyncError struct {
	on, fired bool
	name      string
	lo, hi    int64
}

// ArmSyncError aims a sync error at the next Sync of name whose writes to make durable
// include one that starts in bytes [lo, hi): it fails with ErrIO, and every write it covered
// stays, durable (a later Sync succeeds). Like a drawn one (SyncErrorProbability), it strikes
// only a Sync behind which no later write to the file completed.
func (d *Disk) ArmSyncError(name string, lo, hi int64) {
	d.armedSync = armedSyncError{on: true, name: name, lo: lo, hi: hi}
}

// DisarmSyncError withdraws the armed sync error; it reports whether a Sync took it.
func (d *Disk) DisarmSyncError() (fired bool) {
	fired = d.armedSync.fired
	d.armedSync = armedSyncError{}
	return fired
}

// syncRefused is the fault decision of a Sync of f at its completion: the aimed sync error
// (ArmSyncError), else syncFails.
func (d *Disk) syncRefused(name string, f *diskFile, upTo uint64) bool {
	a := &d.armedSync
	if !a.on || !d.faultsEnabled || a.name != name || len(f.volatile) == 0 {
		return d.syncFails(name, f, upTo)
	}
	aimed := false
	for _, w := range f.volatile {
		if w.seq > upTo {
			return d.syncFails(name, f, upTo) // a later write completed behind it
		}
		at := w.first * storage.SectorSize
		aimed = aimed || (at >= a.lo && at < a.hi)
	}
	if !aimed {
		return d.syncFails(name, f, upTo)
	}
	a.on, a.fired = false, true
	d.stats.SyncErrors++
	d.trace.Emit(LevelShort, d.node, "disk", "fault sync_error "+name+": "+
		strconv.Itoa(len(f.volatile))+" unsynced writes kept (aimed)")
	oldLen := int64(len(f.data))
	d.crashFile(name, f, func(name string, id uint64, first int64, count int) []bool {
		survive := make([]bool, count)
		for i := range survive {
			survive[i] = true
		}
		d.decided(diskDecision{kind: "sync_error", write: id, name: name, sector: first, survive: survive})
		return survive
	})
	d.used += roundUp(int64(len(f.data))) - roundUp(oldLen)
	f.durableLen = int64(len(f.data))
	d.touch(f)
	f.fitFaults()
	return true
}
