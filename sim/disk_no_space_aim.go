package sim

import (
	"strconv"

	"vopr/cluster/storage"
)

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
// change nothing, while faults are enabled, until AimNoSpace(nil). It stands beside the
// armed write errors (ArmWriteError, ArmNoSpace), which a write meets first.
func (d *Disk) AimNoSpace(match func(name string, offset int64, data []byte) bool) {
	d.noSpaceAim = match
}

// writeRefused is the fault decision of a write at its completion: a write the standing
// ErrNoSpace aim picks (AimNoSpace), else writeFails.
func (d *Disk) writeRefused(name string, offset int64, data []byte) error {
	if err := d.writeFails(name, offset); err != nil || d.noSpaceAim == nil || !d.faultsEnabled ||
		!d.noSpaceAim(name, offset, data) {
		return err
	}
	d.stats.NoSpace++
	d.trace.Emit(LevelShort, d.node, "disk", "fault no_space "+name+" at "+strconv.FormatInt(offset, 10)+" (aimed)")
	return storage.ErrNoSpace
}
