package scenarios

import (
	"errors"

	"vopr/cluster/storage"
	"vopr/internal/storagemodel"
)

// ErrNoSpace aimed at a truncation's marks. A mark is an overwrite in place of a record
// sector, which a full copy-on-write file system, or a record sector still a hole of the
// sparse segment file, needs a new block for: unlike a write error (ErrIO), which the engine
// writes again after (storage_episode_truncate_error.go), it fails the truncation, which
// then cuts nothing. A replica takes a truncation as done, failed or not, and its next
// superblock write names a log without the ops it gave up; so the engine's contract is that
// a SaveState after a failed truncation first finishes the cut, or fails: no state is
// persisted over the ops it still holds (storage's payCut: a superblock queued behind a
// failed truncation once persisted a new log view over the old view's ops, h59 review).
//
// In half the boots whose truncation write error is armed (drawn from its own stream,
// storage_episode/cut_no_space, only then), the error is ErrNoSpace (sim.Disk.ArmNoSpace)
// instead of ErrIO. When it fails the truncation, the episode goes on as a replica does: a
// SaveState of the current state, which must succeed, and then the truncation counts as
// acknowledged: what the next Open recovers is held to the history with the ops dropped.
// Until then a crash finds the truncation in flight (done or not).

// truncateNoSpace draws whether the boot's armed truncation error is ErrNoSpace.
func (e *storeEpisode) truncateNoSpace() bool { return e.cutNoSpace.IntN(2) == 0 }

// truncationFailed reports whether err is the aimed ErrNoSpace failing step, a truncation;
// if so it issues the SaveState that must finish the cut, and then acknowledges the
// truncation and goes on with the history.
func (e *storeEpisode) truncationFailed(step storagemodel.Step, err error) bool {
	if !e.truncateAim.noSpace || step.Kind != storagemodel.Truncate || !errors.Is(err, storage.ErrNoSpace) {
		return false
	}
	e.truncateAim.noSpace = false
	e.counters["storage_episode.truncate_no_space"]++
	if e.cutNoSpaceSkipsSave {
		// The knob: taken as done with the ops still on disk, as an engine whose superblock
		// write did not finish the cut left it; the history stops (the crash follows).
		e.acknowledged(step)
		return true
	}
	save := storagemodel.Step{Kind: storagemodel.SaveState, View: e.m.View}
	storagemodel.Issue(e.s, save, func(err error) {
		if err != nil {
			e.fail("the save_state after %v failed on ErrNoSpace: %v", step, err)
			return
		}
		e.acknowledged(step)
		e.superblockWritten(save)
		e.issue()
	})
	return true
}
