package sim

import "vopr/cluster/storage"

// Failed truncations and removals. A real file system can fail ftruncate or unlink with EIO
// (a metadata write the device refused, a copy-on-write file system with no block for the
// new extent map), and the file is then as it was. An engine that cuts a file to take back
// bytes it gave up (a failed append's entry, a truncation's dropped ops) must not take a
// failed cut for a done one. The disk's own truncations never fail but for ErrNoSpace while
// growing, so these are aimed, as ArmSyncError is: one-shot, with random faults on or off, and
// without a draw from the disk's stream, so that the rest of a run draws as it would have.

// armedMetaError is an I/O error aimed at the next Truncate (or Remove) of name; with
// afterWrite, only at one completing after the armed write error fired (ArmWriteError): the
// cut that follows the failed write, not one before it.
type armedMetaError struct {
	on, fired, afterWrite bool
	name                  string
}

// armedMetaErrors are the aimed Truncate and Remove errors.
type armedMetaErrors struct{ truncate, remove armedMetaError }

// ArmTruncateError aims ErrIO at the next Truncate of name: it fails and leaves the file as
// it was, its size and bytes, durable or not. With afterWrite, only a Truncate that completes
// once the armed write error fired takes it (the cut of an append whose write failed).
func (d *Disk) ArmTruncateError(name string, afterWrite bool) {
	d.armedMeta.truncate = armedMetaError{on: true, name: name, afterWrite: afterWrite}
}

// DisarmTruncateError withdraws the armed truncate error; it reports whether a Truncate took it.
func (d *Disk) DisarmTruncateError() (fired bool) {
	fired = d.armedMeta.truncate.fired
	d.armedMeta.truncate = armedMetaError{}
	return fired
}

// ArmRemoveError aims ErrIO at the next Remove of name: it fails and the file stays, whole.
func (d *Disk) ArmRemoveError(name string) {
	d.armedMeta.remove = armedMetaError{on: true, name: name}
}

// DisarmRemoveError withdraws the armed remove error; it reports whether a Remove took it.
func (d *Disk) DisarmRemoveError() (fired bool) {
	fired = d.armedMeta.remove.fired
	d.armedMeta.remove = armedMetaError{}
	return fired
}

// truncateFails reports ErrIO if the armed truncate error takes this Truncate of name (at its
// completion), nil otherwise.
func (d *Disk) truncateFails(name string) error {
	return d.metaFails(&d.armedMeta.truncate, "truncate_error ", name)
}

// removeFails is truncateFails for a Remove of name.
func (d *Disk) removeFails(name string) error {
	return d.metaFails(&d.armedMeta.remove, "remove_error ", name)
}

func (d *Disk) metaFails(a *armedMetaError, what, name string) error {
	if !a.on || a.name != name || (a.afterWrite && !d.armedError.fired) || d.files[name] == nil {
		return nil
	}
	a.on, a.fired = false, true
	d.trace.Emit(LevelShort, d.node, "disk", "fault "+what+name)
	return storage.ErrIO
}
