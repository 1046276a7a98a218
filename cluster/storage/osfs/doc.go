// Package osfs implements storage.FS over real files in one directory, so that the storage
// engine (and later a replica) can run on a real disk, and so that the FS conformance
// checker (package fstest) has a real file system to hold the simulated disk to.
//
// It is excused from the determinism rule of cluster/ (it does real I/O through package os),
// but not from the FS contract: no completion is ever delivered inside the call that issued
// it. Every operation is queued; the owner's event loop calls Poll, which performs the oldest
// queued operation and then invokes its callback, single-threaded. Operations therefore
// complete in issue order, which the engine must not rely on (the simulated disk reorders).
//
// Space: by default the capacity is CapacityUnlimited and usage is the sum of the logical
// sizes of the files. Options.CapacityBytes sets a soft capacity: a write or truncate that
// would grow the files past it fails with storage.ErrNoSpace and applies nothing, which is
// how tests exercise a full disk without filling a real one. A real ENOSPC is reported the
// same way after the partial write is cut back.
//
// Invariants:
//   - used == the sum of sizes[name] over every file, and used <= capacity after every
//     completed operation this package refused to grow past it;
//   - len(queue) <= PendingMax.
//
// Imports allowed: the standard library (including os and syscall), vopr/cluster/storage and
// vopr/internal/assert. Nothing in cluster/ except tests and commands may import osfs.
package osfs
