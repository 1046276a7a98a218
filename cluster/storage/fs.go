package storage

import (
	"errors"

	"vopr/cluster/checksum"
)

// SectorSize is the unit of atomicity of the disks this engine runs on. A crash may tear an
// unsynced write at any sector boundary; a sector is never half written. File offsets and
// lengths need not be aligned, but the engine lays out its records so that the loss of any
// one sector is detected by a checksum.
const SectorSize = 512

// FS is the file system a replica stores its state on: a flat namespace of files addressed by
// name. It is the only way the storage engine touches a disk. The simulator implements it
// (sim.Disk) with latency and faults; osfs implements it over real files.
//
// Every operation is asynchronous: it returns at once and its completion callback is invoked
// later by the caller's event loop, never inline inside the call. Operations on one file
// complete in the order they were issued only if the implementation says so; the engine does
// not rely on it and waits for a completion before issuing a dependent operation.
//
// Durability: data written by WriteAt is volatile until a Sync of that file completes. At a
// crash, volatile writes may be lost whole, lost in part (torn at sector boundaries) or kept.
// Create, Remove and Truncate are durable once their completion is delivered.
//
// Errors are operating errors, never panics: ErrNotExist, ErrExist, ErrNoSpace (the disk is
// full; nothing of that write was applied) and ErrIO (a latent sector error on read). A read
// may also succeed and return corrupt bytes: only checksums catch that.
type FS interface {
	// Create makes an empty file; ErrExist if it exists.
	Create(name string, done func(err error))
	// ReadAt fills buf from offset. Reading past the end returns the bytes that exist and
	// n < len(buf) with a nil error.
	ReadAt(name string, buf []byte, offset int64, done func(n int, err error))
	// WriteAt writes data at offset, extending the file (with zeros) as needed. data is
	// read-only once WriteAt is called, for the caller and the FS alike, until a Sync of the
	// file issued after the write completed has completed: the FS may keep it until then
	// (the simulated disk keeps its sectors as the write's images until they are durable)
	// rather than copy it, and never past it. The engine writes only buffers it encoded for
	// that write, and encodes the next append's entry and record into them once durable.
	WriteAt(name string, data []byte, offset int64, done func(err error))
	// Sync makes every completed write to the file durable.
	Sync(name string, done func(err error))
	// Truncate sets the file's size, dropping bytes past it or extending with zeros.
	Truncate(name string, size int64, done func(err error))
	// Remove deletes the file and frees its space.
	Remove(name string, done func(err error))
	// List returns the names of all files, sorted.
	List(done func(names []string, err error))
	// Size returns a file's current size (including volatile writes); ErrNotExist if absent.
	Size(name string) (int64, error)
	// Usage returns the bytes in use and the capacity of the disk, synchronously: it is the
	// equivalent of statfs, answered from metadata.
	Usage() Usage
}

// Summer is an FS that offers the engines on it memos of SHA-256 sums, shared with the other
// engines that sum the same inputs (the simulator's disks share one pair per cluster). bodies
// memoises their entries' body sums: each replica appends every prepare, and every scan of a
// log sums its bodies again. audits memoises their audit chains' steps (auditNext: the
// previous head, the op and its body's sum): each replica audits every committed op with the
// same input. Either may be nil. The sums are the same either way; on an FS without memos
// each engine sums its own.
type Summer interface {
	SumMemos() (bodies, audits *checksum.SHA256Memo)
}

// sumMemosOf returns fs's memos, nil for those it does not offer.
func sumMemosOf(fs FS) (bodies, audits *checksum.SHA256Memo) {
	if m, ok := fs.(Summer); ok {
		return m.SumMemos()
	}
	return nil, nil
}

// Usage is the space accounting of a disk.
type Usage struct {
	Used     int64
	Capacity int64
}

// Percent returns used/capacity in whole percent, rounded down.
func (u Usage) Percent() int {
	if u.Capacity <= 0 {
		return 0
	}
	return int(u.Used * 100 / u.Capacity)
}

// Errors returned by FS implementations.
var (
	ErrNotExist = errors.New("file does not exist")
	ErrExist    = errors.New("file exists")
	ErrNoSpace  = errors.New("no space left on device")
	ErrIO       = errors.New("input/output error")
)
