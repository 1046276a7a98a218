package sim

// Transient faults: a read error the drive later gets past (HealLatent), and a write the
// device reports failed (writeFails).

import (
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
func (d *Disk) writeFails(name string, offset int64) bool {
	a := &d.armedError
	aimed := a.on && d.faultsEnabled && a.name == name && offset >= a.lo && offset < a.hi
	if aimed {
		a.on, a.fired = false, true
	} else if !d.faultsEnabled || d.opts.WriteErrorProbability <= 0 || !Chance(d.rng, d.opts.WriteErrorProbability) {
		return false
	}
	d.stats.WriteErrors++
	d.trace.Emit(LevelShort, d.node, "disk", "fault write_error "+name+" at "+strconv.FormatInt(offset, 10))
	return true
}

// armedWriteError is a write error aimed at the next write starting in bytes [lo, hi) of
// name (ArmWriteError); fired records that a write took it.
type armedWriteError struct {
	on, fired bool
	name      string
	lo, hi    int64
}

// ArmWriteError aims a write error at the next write that starts in bytes [lo, hi) of name:
// it fails with ErrIO and changes nothing, as a drawn one (WriteErrorProbability) does, but
// without a draw from the disk's stream, so that the rest of the run draws as it would have.
// A nemesis aims it at one step of the engine's work (the record write of an append, say).
func (d *Disk) ArmWriteError(name string, lo, hi int64) {
	d.armedError = armedWriteError{on: true, name: name, lo: lo, hi: hi}
}

// DisarmWriteError withdraws the armed write error; it reports whether a write took it.
func (d *Disk) DisarmWriteError() (fired bool) {
	fired = d.armedError.fired
	d.armedError = armedWriteError{}
	return fired
}
