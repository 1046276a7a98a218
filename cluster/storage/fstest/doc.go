// Package fstest checks that an implementation of storage.FS keeps the contract the storage
// engine relies on, in the style of Go's testing/fstest: TestFS returns an error, so the same
// checker runs against the real file system (osfs) and the simulated disk (sim.Disk).
//
// What it checks: Create (and ErrExist), WriteAt (extension with zeros, overwrite, the FS
// copies data), ReadAt (short reads at the end are not errors), Sync, Truncate (shrink and
// extend with zeros), Remove, List (sorted), Size, Usage (grows with data, returns to its
// baseline after Remove, stays within capacity), ErrNotExist on every operation on a missing
// file, ErrNoSpace when the disk has little free space (a refused write applies nothing),
// operations in flight together, and that every completion is delivered exactly once and
// never inline inside the call that issued it.
//
// What it cannot check: crash semantics (torn and lost unsynced writes) need the
// implementation's own crash hook; the simulator's tests cover them.
//
// Imports allowed: the standard library and vopr/cluster/storage. fstest is test support:
// it runs on a single-threaded event loop supplied by the caller and starts nothing itself.
//
// Imports allowed: the standard library, vopr/cluster/storage.
package fstest
