package sim

import (
	"strconv"

	"vopr/cluster/storage"
)

// Faults a nemesis aims at the healed cluster of the swarm's liveness rounds, whose disks draw
// no random fault (SetFaultsEnabled false): they strike whatever the switch says, and draw
// nothing from the disk's stream.

// ArmWriteErrorHealed is ArmWriteError, or ArmNoSpace if noSpace, that strikes with random
// faults off too: a write error (or a full file system) aimed at one step of an engine's
// work on a disk that otherwise behaves.
func (d *Disk) ArmWriteErrorHealed(name string, lo, hi int64, noSpace bool) {
	d.armedError = armedWriteError{on: true, healed: true, noSpace: noSpace, name: name, lo: lo, hi: hi}
}

// ArmSyncError aims a failed sync at the next Sync of name that has writes to make durable,
// all of them completed before it was issued (as a drawn one, SyncErrorProbability: it
// never undoes bytes a later write's images were taken over): it fails with ErrIO and loses
// every one of them whole, with random faults on or off. DisarmSyncError withdraws it.
func (d *Disk) ArmSyncError(name string) { d.armedSync = armedSyncError{on: true, name: name} }

// DisarmSyncError withdraws the armed sync error; it reports whether a sync took it.
func (d *Disk) DisarmSyncError() (fired bool) {
	fired = d.armedSync.fired
	d.armedSync = armedSyncError{}
	return fired
}

// armedSyncError is a failed sync aimed at the next sync of name (ArmSyncError).
type armedSyncError struct {
	on, fired bool
	keep      bool // it keeps the writes whole (ArmSyncErrorKept)
	name      string
}

// strikes reports whether the armed sync error takes this Sync of f, which is to make durable
// the writes completed up to upTo.
func (a *armedSyncError) strikes(name string, f *diskFile, upTo uint64) bool {
	if !a.on || a.name != name || len(f.volatile) == 0 {
		return false
	}
	for _, w := range f.volatile {
		if w.seq > upTo {
			return false
		}
	}
	return true
}

// lostWhole is the armed sync error's outcome for each write it loses: nothing survives.
func (d *Disk) lostWhole(name string, id uint64, first int64, count int) []bool {
	survive := make([]bool, count)
	d.decided(diskDecision{kind: "sync_error", write: id, name: name, sector: first, survive: survive})
	return survive
}

// A standing ErrNoSpace aim: a write the caller's match picks fails with ErrNoSpace and
// changes nothing. The capacity the disk counts by file size never refuses a write that
// grows no file, but a real file system can: a sector of a sparse file's hole needs a block,
// and a copy-on-write file system (btrfs, ZFS) needs a new block for every overwrite, so on a
// full disk an overwrite in place (a storage engine's tombstone over a record) fails with
// ENOSPC. The match decides which writes, and when (it may draw from its own stream: it is
// asked only of the writes it could strike, at their completion, and the disk's own stream
// is never drawn from for it, so that a run draws as it did without the aim).

// noSpaceMatch picks, at its completion, a write to refuse for lack of space: its file, its
// offset and its data (read-only).
type noSpaceMatch func(name string, offset int64, data []byte) bool

// AimNoSpace makes every write that match picks, at its completion, fail with ErrNoSpace and
// change nothing, while faults are enabled, until AimNoSpace(nil). It stands behind the
// armed and drawn write errors (ArmWriteError, ArmNoSpace, WriteErrorProbability), which a
// write meets first.
func (d *Disk) AimNoSpace(match func(name string, offset int64, data []byte) bool) {
	d.noSpaceAim = match
}

// writeRefused is the fault decision of a write at its completion: writeFails, else a write
// the standing ErrNoSpace aim picks (AimNoSpace).
func (d *Disk) writeRefused(name string, offset int64, data []byte) error {
	if err := d.writeFails(name, offset); err != nil || d.noSpaceAim == nil || !d.faultsEnabled ||
		!d.noSpaceAim(name, offset, data) {
		return err
	}
	d.stats.NoSpace++
	d.trace.Emit(LevelShort, d.node, "disk", "fault no_space "+name+" at "+strconv.FormatInt(offset, 10)+" (aimed)")
	return storage.ErrNoSpace
}
