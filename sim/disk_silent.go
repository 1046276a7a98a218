package sim

import "strconv"

// Silent faults aimed at one step of an engine's work: the device says one thing and does
// another, and nothing the engine reads at once tells it so. Like ArmSyncError they strike
// with random faults on or off and draw nothing from the disk's stream.
//
//   - A failed sync that kept its writes (ArmSyncErrorKept): fsync returns EIO, and the
//     pages it was writing back reached the platter all the same (Linux "fsyncgate": an
//     error from fsync says nothing about whether the data landed; Rebello et al., ATC'20).
//     The engine was told the sync failed; the next boot finds what it wrote.
//   - A lost write (ArmLostWrite): the write reports success and nothing of it reaches the
//     file, neither its bytes nor its size (PAR's lost write: a firmware bug, a write the
//     device acknowledged from its cache and dropped). An append at the end of a file leaves
//     the file as long as it was, so the file ends before the extent the engine wrote.

// ArmSyncErrorKept aims a failed sync at the next Sync of name that has writes to make
// durable, as ArmSyncError does, but every one of them is kept whole and made durable: the
// Sync fails with ErrIO after the data landed. The kept sectors are marked as a drawn failed
// sync's kept writes are (SyncKept). DisarmSyncError withdraws it.
func (d *Disk) ArmSyncErrorKept(name string) {
	d.armedSync = armedSyncError{on: true, name: name, keep: true}
}

// keptWhole is the outcome of ArmSyncErrorKept for each write the sync covered: it all
// survives.
func (d *Disk) keptWhole(name string, id uint64, first int64, count int) []bool {
	survive := make([]bool, count)
	for i := range survive {
		survive[i] = true
	}
	d.decided(diskDecision{kind: "sync_error", write: id, name: name, sector: first, survive: survive})
	return survive
}

// ArmLostWrite aims a lost write at the next write that starts in bytes [lo, hi) of name: it
// completes without error and changes nothing, neither the file's bytes nor its size (a
// write past the end does not grow the file). Reads, the durable image and a crash all see
// the file as it was. DisarmLostWrite withdraws it.
func (d *Disk) ArmLostWrite(name string, lo, hi int64) {
	d.armedLost = armedLostWrite{on: true, name: name, lo: lo, hi: hi}
}

// DisarmLostWrite withdraws the armed lost write; it reports whether a write took it.
func (d *Disk) DisarmLostWrite() (fired bool) {
	fired = d.armedLost.fired
	d.armedLost = armedLostWrite{}
	return fired
}

// armedLostWrite is a lost write aimed at the next write starting in bytes [lo, hi) of name
// (ArmLostWrite); fired records that a write took it.
type armedLostWrite struct {
	on, fired bool
	name      string
	lo, hi    int64
}

// loseWrite reports whether the armed lost write takes write id of len(data) bytes at offset
// of name, at its completion; if so it counts it as a completed write that changed nothing.
// A write to a file that does not exist is not taken: it fails as it would.
func (d *Disk) loseWrite(id uint64, name string, offset int64, n int) bool {
	a := &d.armedLost
	if !a.on || a.name != name || offset < a.lo || offset >= a.hi || n == 0 {
		return false
	}
	f := d.file(name)
	if f == nil {
		return false
	}
	a.on, a.fired = false, true
	d.stats.Writes++
	d.stats.LostWrites++
	d.keptWritten(f, id, true)
	d.trace.Emit(LevelShort, d.node, "disk", "fault lost_write "+name+" at "+strconv.FormatInt(offset, 10)+
		" ("+strconv.Itoa(n)+" bytes, file of "+strconv.FormatInt(int64(len(f.data)), 10)+")")
	return true
}
