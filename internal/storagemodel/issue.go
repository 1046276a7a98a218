package storagemodel

import (
	"fmt"

	"vopr/cluster/storage"
)

// Issue starts step on the engine, as a replica would, and calls done with its completion.
// It drives the engine through its public operations only; the model judges the outcome.
// A checkpoint whose op the engine refuses to commit fails at once (done runs inline).
func Issue(s *storage.Storage, step Step, done func(error)) {
	switch step.Kind {
	case Append, Replace:
		s.Append(storage.Entry{Op: step.Op, Body: step.Body}, done)
	case Repair:
		if step.Op == s.Head() {
			// The head is never Rewritable: a replica repairs it with an Append (vsr's
			// writeLog), which the engine must write in place, keeping the op durable
			// throughout (a truncation first lost it to a crash in between).
			s.Append(storage.Entry{Op: step.Op, Body: step.Body}, done)
			return
		}
		s.Rewrite(storage.Entry{Op: step.Op, Body: step.Body}, done)
	case SaveState:
		st := s.State()
		st.View, st.LogView = step.View, step.View
		if f := step.Fields; f != nil {
			st.Commit, st.Epoch, st.LogEpoch, st.Release, st.Boots = f.Commit, f.Epoch, f.LogEpoch, f.Release, f.Boots
			st.Outside, st.StandbyCount, st.JoinedEmpty = f.Outside, f.StandbyCount, f.JoinedEmpty
		}
		s.SaveState(st, done)
	case Checkpoint:
		if _, err := s.Commit(step.Op); err != nil {
			done(fmt.Errorf("Commit(%d): %w", step.Op, err))
			return
		}
		s.Checkpoint(step.Op, step.Snapshot, done)
	case Install:
		s.InstallCheckpoint(step.Op, step.Snapshot, done)
	case Compact:
		s.Compact(func(_ int64, err error) { done(err) })
	case Truncate:
		s.TruncateAfter(step.Op, done)
	}
}
