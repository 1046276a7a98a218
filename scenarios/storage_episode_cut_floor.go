package scenarios

import (
	"fmt"

	"vopr/internal/storagemodel"
)

// A checkpoint past a failed truncation's cut. A truncation that failed leaves the ops it
// gave up on the disk, a debt the next superblock write pays first (payCut: the truncation
// again, after the op it named). The failed cuts' follow-ups (storage_episode_truncate_fail.go)
// install a peer's checkpoint only above everything the disk holds, which drops the ops left
// with the log, debt and all; a state sync to an op among the ops the failed cut left (the
// replica took its log as ending at the cut, and a peer's checkpoint a few ops above it is
// what it fetches) leaves the debt standing above the new checkpoint, where the cut that pays
// it must now stop: the ops at or below the checkpoint are no longer the log's, and a cut
// there truncates what the checkpoint covers (an assertion) or leaves the superblock naming
// a checkpoint whose anchor entry is gone.
//
// So in a third of the failed truncations that are the first of their boot (their own
// stream, storage_episode/cut_floor, so that every other draw of a seed stays as it was where
// the move is off), when the engine's head lies at least two ops above the cut, the history
// ends with a peer's checkpoint installed strictly between the cut and that head, then a
// superblock write (which pays the debt above the checkpoint), instead of the follow-up the
// truncation draw chose. What the failed cut left above the checkpoint must be gone once the
// superblock write is acknowledged (cutFailAcknowledged), as after every other follow-up.

// installUnderLeft returns the steps that end the history after failed truncation step
// (save is the superblock write), and whether the move is on (see above).
func (e *storeEpisode) installUnderLeft(step storagemodel.Step, save storagemodel.Step) ([]storagemodel.Step, bool) {
	head := e.s.Head()
	if e.cutAim.failures != 1 || head < step.Op+2 || e.cutFloor.IntN(3) != 0 {
		return nil, false
	}
	cp := step.Op + 1 + e.cutFloor.Uint64N(head-step.Op-1) // in (step.Op, head)
	e.counters["coverage.storage_episode.install_under_cut_left"]++
	return []storagemodel.Step{{Kind: storagemodel.Install, Op: cp,
		Snapshot: fmt.Appendf(nil, "a peer's snapshot at %d under a failed truncation's ops", cp)}, save}, true
}
