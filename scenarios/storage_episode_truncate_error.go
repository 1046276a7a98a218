package scenarios

import (
	"errors"

	"vopr/cluster/storage"
	"vopr/internal/storagemodel"
	"vopr/sim"
)

// A write error aimed at a truncation's tombstones. A truncation first writes marks over the
// records of the ops it drops that share a segment with ops it keeps, then cuts their
// entries; a replica does not wait on it, and goes on to persist a log view without those
// ops. So a write of the marks that fails is no failure of the truncation: the engine reads
// them back and writes them again, and the truncation returns once the ops are durably gone
// (journal.go's unlessIO: a tombstone write error once failed the truncation, swarm seed 247
// with write errors). The episode's check holds both: an operation that returns an error
// fails the episode, and what the next Open recovers is held to the history with the ops
// dropped.
//
// In half the boots that aim no other write error (their own stream,
// storage_episode/truncate_error, so that every other draw of a seed stays), the nth
// truncation of the boot (n drawn from 0 to 2) meets one: a write error armed at the record
// area of the segment it cuts (sim.Disk.ArmWriteError), withdrawn when it returns, so that it
// meets a mark write or nothing.

// truncateErrorAim is a boot's aimed truncation write error: truncations to let pass first
// (-1: none this boot), and whether one is armed now.
type truncateErrorAim struct {
	nth   int
	armed bool
}

// drawTruncateErrorAim draws the boot's truncation write error, after its other write error
// (drawWriteErrorAim).
func (e *storeEpisode) drawTruncateErrorAim() truncateErrorAim {
	if e.errorAim.nth >= 0 || e.truncateErrors.IntN(2) != 0 {
		return truncateErrorAim{nth: -1}
	}
	return truncateErrorAim{nth: e.truncateErrors.IntN(3)}
}

// aimTruncateError arms the boot's truncation write error if step is the truncation it waits
// for.
func (e *storeEpisode) aimTruncateError(step storagemodel.Step) {
	a := &e.truncateAim
	if a.nth < 0 || step.Kind != storagemodel.Truncate || e.errorAim.armed {
		return
	}
	if a.nth > 0 {
		a.nth--
		return
	}
	a.nth, a.armed = -1, true
	e.disk.ArmWriteError(segmentFileName4(step.Op+1), 0, storage.RecordAreaSize(storageEpisodeOptions.SegmentEntriesMax))
}

// settleTruncateError withdraws the armed truncation write error when its truncation returns
// (or the crash comes first).
func (e *storeEpisode) settleTruncateError() {
	if !e.truncateAim.armed {
		return
	}
	e.truncateAim.armed = false
	if e.disk.DisarmWriteError() {
		e.counters["coverage.storage_episode.truncate_write_error"]++
	}
}

// errTombstoneWrite is the aimed write error under the truncateErrorEscapes knob.
var errTombstoneWrite = errors.New("tombstone write failed (test knob)")

// escapeFS is the engine's file system under the truncateErrorEscapes knob: the aimed write
// error reaches the engine as an error it does not take for a write that did not happen, so
// the truncation fails on it, as an engine that did not write its marks again failed it
// (storage.truncate_fails_on_tombstone_write_error).
type escapeFS struct {
	*sim.Disk
	e *storeEpisode
}

func (f escapeFS) WriteAt(name string, data []byte, offset int64, done func(error)) {
	f.Disk.WriteAt(name, data, offset, func(err error) {
		if errors.Is(err, storage.ErrIO) && f.e.truncateAim.armed {
			err = errTombstoneWrite
		}
		done(err)
	})
}
