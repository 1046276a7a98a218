package scenarios

import (
	"bytes"

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
// no sector of the superblock is damaged already. That includes a newest state left by a
// write that an earlier crash tore, which may have landed in one copy of its pair only: the
// Open that adopted it must have stored it twice before it returned it (storage's
// storeTwice), so a sector over either copy rolls nothing back. The draws after such a
// write count apart (superblockTorn, coverage.storage_episode.damage.superblock_after_torn).
// The damage used to skip them: with the skip lifted, and an engine that left such a state in
// one copy, storage crash seeds 1607, 1863, 7587, 8318 and seven more of the first 20,000
// failed (an older view, commit or checkpoint than acknowledged). Beside the damage, the Open
// that stores such a state twice is crashed (crashInSuperblockRepair).

// damageSuperblock draws the superblock damage of a boot (see above), after its crash.
func (e *storeEpisode) damageSuperblock() {
	r := e.superblock
	torn := e.superblockTorn
	m := e.m
	// The operation in flight at this crash writes the superblock: what it left becomes
	// the newest state of the boots after, until a superblock write completes (acknowledged).
	e.superblockTorn = e.superblockTorn || m.PendingIs(storagemodel.SaveState) || m.PendingCheckpoint()
	if r.IntN(3) != 0 || len(e.disk.Altered("superblock", 0, superblockFileSize)) > 0 {
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
	if torn {
		e.counters["coverage.storage_episode.damage.superblock_after_torn"]++
	}
}

// crashInSuperblockRepair, when the durable superblock file holds its newest state in one
// copy only (a torn write's, as this package's decoder reads the file), in half the boots
// crashes inside an Open after a drawn number (1 to 4) of its completions, before the boot's
// own Open: the first writes of Open store that state twice (storage's storeTwice), and
// whatever the crash leaves of them (a twin written, lost, or not yet issued) must open as
// the same state, held to the same check as every boot's Open, and as stored twice for the
// damage of the boots after.
func (e *storeEpisode) crashInSuperblockRepair() {
	file := e.disk.Durable("superblock")
	newest := readSuperblock(file)
	if !newest.ok {
		return
	}
	held := 0
	for _, c := range superblockCopies(file) {
		if bytes.Equal(c.bytes, newest.bytes) {
			held++
		}
	}
	if held != 1 || e.superblockRepair.IntN(2) != 0 {
		return
	}
	limit := 1 + e.superblockRepair.IntN(4)
	storage.Open(e.disk, storageEpisodeOptions, func(*storage.Storage, *storage.Recovery, error) {})
	for i := 0; i < limit && e.loop.Step(); i++ {
	}
	e.disk.Crash()
	e.counters["coverage.storage_episode.crash_in_superblock_repair"]++
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
// that rejoin takes for acknowledged (its Open found it): that one may be torn, and only the
// Open stored it twice.
func (e *storeEpisode) superblockWritten(step storagemodel.Step) {
	switch step.Kind {
	case storagemodel.SaveState, storagemodel.Checkpoint, storagemodel.Install:
		e.superblockTorn = false
		e.noteSuperblockStates() // storage_episode_superblock_lost.go
	}
}
