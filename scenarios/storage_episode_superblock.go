package scenarios

import (
	"vopr/cluster/storage"
	"vopr/internal/storagemodel"
)

// The superblock's redundancy. The superblock keeps the replica's view, log view, commit,
// epochs and checkpoint in four one-sector copies, two pairs written alternately
// (storage/doc.go): a write goes, in both copies, to the pair that does not hold the current
// state, so that a torn or lost write leaves the previous state, and one corrupt or
// unreadable sector leaves the state it hit in the other copy. The episode's damage never
// touched the superblock, so a write that put the new state in one copy only (the pair's
// other sector keeping the state of two writes before) passed every check: one sector fault
// over that copy makes Open fall back to an older superblock, and the replica restarts in an
// older view, log view or checkpoint than it voted and acknowledged in (PAR, FAST'18: a
// single-sector fault must not roll protocol state back).
//
// So in a third of the boots (their own stream, storage_episode/superblock, so that every
// other draw of a seed stays as it was), after the crash and before Open, one sector of the
// superblock file is damaged, corrupt or unreadable: in half of them a copy of the newest
// intact state of the durable file (read with this package's own decoder), else any copy.
// The check after Open holds the view, the caller's fields and the checkpoint to what the
// episode saw acknowledged, or to the operation in flight, as after every crash.
//
// The fault model is one copy of a durably written state, so the damage is drawn only while
// no sector of the superblock is damaged already, and only when the newest state on disk
// was written by a write that completed: a write torn by an earlier crash may have left its
// state, which that boot's Open adopted, in one copy (superblockTorn), and a sector over it
// is a second fault.

// damageSuperblock draws the superblock damage of a boot (see above), after its crash.
func (e *storeEpisode) damageSuperblock() {
	r := e.superblock
	torn := e.superblockTorn
	m := e.m
	// The operation in flight at this crash writes the superblock: what it left becomes
	// the newest state of the boots after, until a superblock write completes (acknowledged).
	e.superblockTorn = e.superblockTorn || m.PendingIs(storagemodel.SaveState) || m.PendingCheckpoint()
	if r.IntN(3) != 0 || torn || len(e.disk.Altered("superblock", 0, superblockFileSize)) > 0 {
		return
	}
	copies := superblockCopies(e.disk.Durable("superblock"))
	if len(copies) == 0 {
		return
	}

	at := r.IntN(4)
	if r.IntN(2) == 0 || e.superblockBothCopies {
		newest := readSuperblock(e.disk.Durable("superblock"))
		var ofNewest []int
		for _, c := range copies {
			if c.sequence == newest.sequence {
				ofNewest = append(ofNewest, c.index)
			}
		}
		at = ofNewest[r.IntN(len(ofNewest))]
	}
	hit := []int{at}
	if e.superblockBothCopies { // the test's knob: both copies of the newest state
		hit = superblockPairOf(copies, at)
	}
	corrupt := r.IntN(2) == 0
	for _, i := range hit {
		if corrupt {
			e.disk.CorruptSector("superblock", int64(i)*storage.SectorSize)
		} else {
			e.disk.LatentSectorError("superblock", int64(i)*storage.SectorSize)
		}
	}
	e.counters["coverage.storage_episode.damage.superblock"]++
}

// superblockPairOf is the copies (by index) holding the state of copy at: what the knob
// damages, as one fault would leave a write that kept a single copy.
func superblockPairOf(copies []durableSuperblock, at int) []int {
	var same []int
	for _, c := range copies {
		if c.index == at {
			for _, d := range copies {
				if d.sequence == c.sequence {
					same = append(same, d.index)
				}
			}
		}
	}
	if len(same) == 0 {
		return []int{at}
	}
	return same
}

// superblockWritten notes a completed step that wrote the superblock: its state is in both
// copies of a pair, whatever an earlier torn write left. Not a write in flight at a crash
// that rejoin takes for acknowledged (its Open found it): that one may be torn.
func (e *storeEpisode) superblockWritten(step storagemodel.Step) {
	switch step.Kind {
	case storagemodel.SaveState, storagemodel.Checkpoint, storagemodel.Install:
		e.superblockTorn = false
	}
}
