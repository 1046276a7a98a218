package sim

// Transient faults: a read error the drive later gets past (HealLatent), a write the device
// reports failed (writeFails), and a sync that fails and loses what it was to make durable
// (syncFails).

import (
	"math/rand/v2"
	"slices"
	"strconv"

	"vopr/cluster/storage"
)

// HealLatent cures the latent error of the sector holding offset, if it has one of its own
// (not one a misdirected write left over its old bytes): a read error that the drive's
// retries later get past, its bytes readable again as they were written. It reports whether
// there was one. A transient read error is what lets an engine meet the same bytes twice:
// hidden at one boot, whole at the next.
func (d *Disk) HealLatent(name string, offset int64) bool {
	f := d.files[name]
	if f == nil || offset < 0 {
		return false
	}
	s := offset / storage.SectorSize
	fault, ok := f.faults[s]
	if !ok || fault.kind != FaultLatentSectorError || fault.owner != 0 {
		return false
	}
	delete(f.faults, s)
	d.trace.Emit(LevelShort, d.node, "disk", "fault healed latent_sector_error "+name+" sector "+strconv.FormatInt(s, 10))
	d.decided(diskDecision{kind: "heal", name: name, sector: s})
	return true
}

// writeFails draws whether a write to name at offset fails with ErrIO (WriteErrorProbability).
// The draw is made only when the probability is set, so that a disk without write errors
// draws as it did before they existed. The fault filter is not asked: a failed write damages
// nothing.
func (d *Disk) writeFails(name string, offset int64) error {
	a := &d.armedError
	aimed := a.on && (d.faultsEnabled || a.healed) && a.name == name && offset >= a.lo && offset < a.hi
	if aimed && a.noSpace {
		a.fired = true // it stays armed: the space is still not there (ArmNoSpace)
		d.stats.NoSpace++
		d.trace.Emit(LevelShort, d.node, "disk", "fault no_space "+name+" at "+strconv.FormatInt(offset, 10))
		return storage.ErrNoSpace
	}
	if aimed {
		a.on, a.fired = false, true
	} else if !d.faultsEnabled || d.opts.WriteErrorProbability <= 0 || !Chance(d.rng, d.opts.WriteErrorProbability) {
		return nil
	}
	d.stats.WriteErrors++
	d.trace.Emit(LevelShort, d.node, "disk", "fault write_error "+name+" at "+strconv.FormatInt(offset, 10))
	return storage.ErrIO
}

// armedWriteError is a write error aimed at the next write starting in bytes [lo, hi) of
// name (ArmWriteError); fired records that a write took it.
type armedWriteError struct {
	on, fired, noSpace bool
	healed             bool // it strikes with random faults off too (ArmWriteErrorHealed)
	name               string
	lo, hi             int64
}

// ArmWriteError aims a write error at the next write that starts in bytes [lo, hi) of name:
// it fails with ErrIO and changes nothing, as a drawn one (WriteErrorProbability) does, but
// without a draw from the disk's stream, so that the rest of the run draws as it would have.
// A nemesis aims it at one step of the engine's work (the record write of an append, say).
func (d *Disk) ArmWriteError(name string, lo, hi int64) {
	d.armedError = armedWriteError{on: true, name: name, lo: lo, hi: hi}
}

// ArmNoSpace aims ErrNoSpace at every write that starts in bytes [lo, hi) of name until
// DisarmWriteError: it changes nothing, as a write the capacity refuses. It stands for a
// block a full file system cannot allocate under a write that grows nothing: a sector of a
// sparse file's hole (a segment's record area, written after the entries past it), which
// the capacity the disk counts by file size never refuses. Like ArmWriteError, it draws
// nothing from the disk's stream.
func (d *Disk) ArmNoSpace(name string, lo, hi int64) {
	d.armedError = armedWriteError{on: true, noSpace: true, name: name, lo: lo, hi: hi}
}

// DisarmWriteError withdraws the armed write error; it reports whether a write took it.
func (d *Disk) DisarmWriteError() (fired bool) {
	fired = d.armedError.fired
	d.armedError = armedWriteError{}
	return fired
}

// syncFails draws whether a Sync of f, which is to make durable the writes completed up to
// upTo, fails with ErrIO (SyncErrorProbability). If so, the file loses those writes at once,
// each whole or torn at sector boundaries as a crash would, or keeps some whole (syncLoss),
// and what is left is durable: the write-back failed and only what reached the platter is
// there, in the cache as on the disk. A failed sync need not undo a write: the page may have
// reached the platter before the error, or stay in the cache and be written back later, so
// an engine that takes the failure for proof that the write is gone is wrong too.
// A later Sync then succeeds without them, as fsync does on Linux after a failure, so an
// engine that retries only the sync, or takes the failure for success, holds data it
// believes durable and is not.
//
// It strikes only when the Sync has writes to make durable and no write completed after it
// was issued (every volatile write is one the Sync covers), so that a failure never undoes
// bytes a later write's images were taken over, and only where the fault filter allows a
// fault on each write's first sector.
// The draw is made only then, and only when the probability is set, so that a disk without
// sync errors draws as it did before they existed.
func (d *Disk) syncFails(name string, f *diskFile, upTo uint64) bool {
	if d.armedSync.strikes(name, f, upTo) {
		d.armedSync.on, d.armedSync.fired = false, true
		if d.armedSync.keep {
			return d.failSync(name, f, d.keptWhole)
		}
		return d.failSync(name, f, d.lostWhole)
	}
	if !d.faultsEnabled || d.opts.SyncErrorProbability <= 0 || len(f.volatile) == 0 {
		return false // nothing to lose: a write-back cannot fail
	}
	for _, w := range f.volatile {
		if w.seq > upTo || !d.allowed(name, w.first) {
			return false
		}
	}
	if !Chance(d.rng, d.opts.SyncErrorProbability) {
		return false
	}
	return d.failSync(name, f, d.syncLoss)
}

// failSync fails a Sync of f: its volatile writes are lost, torn or kept as loss decides,
// and what is left is durable. The sectors of each write kept whole are marked kept
// (SyncKept), after crashFile has marked the writes in order (a write kept whole that a
// later one of the same sync covers and loses shows the kept bytes: marked too).
func (d *Disk) failSync(name string, f *diskFile, loss func(name string, id uint64, first int64, count int) []bool) bool {
	d.stats.SyncErrors++
	covered := len(f.volatile)
	oldLen := int64(len(f.data))
	type span struct{ first, count int64 }
	var kept []span
	d.crashFile(name, f, func(name string, id uint64, first int64, count int) []bool {
		survive := loss(name, id, first, count)
		if count > 0 && !slices.Contains(survive, false) {
			kept = append(kept, span{first, int64(count)})
			d.stats.SyncKept++
		}
		return survive
	})
	d.trace.Emit(LevelShort, d.node, "disk", "fault sync_error "+name+": "+strconv.Itoa(covered)+
		" unsynced writes failed, "+strconv.Itoa(len(kept))+" of them kept whole")
	for _, k := range kept {
		for s := k.first; s < k.first+k.count && s*storage.SectorSize < int64(len(f.data)); s++ {
			if f.kept == nil {
				f.kept = map[int64]bool{}
			}
			f.kept[s] = true
			f.damagedEver = true
			f.keptStage = keptUnhandled
		}
	}
	d.used += roundUp(int64(len(f.data))) - roundUp(oldLen)
	f.durableLen = int64(len(f.data))
	d.touch(f)
	f.fitFaults()
	return true
}

// syncLoss decides what of one write a failed sync keeps: nothing, or (half the time, for a
// write of two sectors or more) a torn part; or, a quarter of the time, by a draw from the
// disk's keep stream (SetSyncKeepStream), the whole write: it had reached the platter, or its
// page stayed in the cache and was written back after the error (Rebello et al., ATC'20).
// So with a keep stream a write of one sector is lost 3/4 of the time and kept 1/4, a
// longer one lost 3/8, torn 3/8 and kept 1/4. The disk's own stream draws as it did before
// kept writes existed (the tear's draws are made, and then overridden, for a kept write),
// so that only the outcome of a kept write differs from a run without the keep stream.
func (d *Disk) syncLoss(name string, id uint64, first int64, count int) []bool {
	survive := make([]bool, count)
	if count >= 2 && d.rng.IntN(2) == 0 {
		d.tear(survive)
	}
	if d.syncKeep != nil && d.syncKeep.IntN(syncKeepOneIn) == 0 {
		for i := range survive {
			survive[i] = true
		}
	}
	d.decided(diskDecision{kind: "sync_error", write: id, name: name, sector: first, survive: survive})
	return survive
}

// syncKeepOneIn: a failed sync keeps one write in this many whole (syncLoss).
const syncKeepOneIn = 4

// SetSyncKeepStream gives the disk the stream that decides which writes a failed sync keeps
// whole (syncLoss): sim.Stream(seed, "disk/<node>/sync_kept"), its own, so that the disk's
// stream draws as before. Without one (nil), a failed sync keeps no write whole.
func (d *Disk) SetSyncKeepStream(r *rand.Rand) { d.syncKeep = r }

// keptStage is how far an engine got, on one file, in handling the last failed sync that
// kept writes whole: the failure (keptUnhandled), then the file's next successful sync
// (keptSynced, until its callback returns: a failed append's cut, made durable), then the
// write the engine issued in that callback (keptWriting: the tombstone over the append's
// record), until it completes (keptHandled). An engine that issues no write there has moved
// on (keptHandled): a kept write it leaves is its own doing. A file with no kept write stays
// keptHandled (the zero value).
type keptStage uint8

const (
	keptHandled keptStage = iota
	keptUnhandled
	keptSynced
	keptWriting
)

// keptAnswered ends keptSynced once the sync's callback has returned without a write to
// the file.
func (d *Disk) keptAnswered(f *diskFile) {
	if f.keptStage == keptSynced {
		d.keptSettled(f)
	}
}

// keptWritten ends keptWriting at the completion of the engine's answer (write id): landed,
// it wrote over what it meant to; refused (ErrIO, ErrNoSpace), the engine did what it could,
// and the kept sectors are excused.
func (d *Disk) keptWritten(f *diskFile, id uint64, landed bool) {
	if f.keptStage != keptWriting || f.keptWrite != id {
		return
	}
	if !landed {
		f.excuseKept()
		return
	}
	d.keptSettled(f)
}

// keptSettled ends the stage of f, the engine through: what it left of the kept writes is
// its own doing (SyncKeptSettled counts the times it left some).
func (d *Disk) keptSettled(f *diskFile) {
	f.keptStage = keptHandled
	if len(f.kept) > len(f.excused) {
		d.stats.SyncKeptSettled++
	}
}

// excuseKept, at a crash, excuses the kept sectors of f if the engine was not yet through
// with the failed sync that kept them (SyncKept), and ends the stage: the engine that
// boots next knows nothing of the failure.
func (f *diskFile) excuseKept() {
	if f.keptStage != keptHandled && len(f.kept) > 0 {
		if f.excused == nil {
			f.excused = map[int64]bool{}
		}
		for s := range f.kept {
			f.excused[s] = true
		}
	}
	f.keptStage = keptHandled
}
