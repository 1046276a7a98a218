package scenarios

import (
	"bytes"
	"fmt"

	"vopr/cluster/storage"
)

// A later lost checkpoint replays too. checkReplayableLost's first rule demands a replay from
// op 0 only for a first checkpoint (no previous one to fall back to); the engine's contract
// (Options.ReplayOpsMax) goes further: a checkpoint this log audited itself, lost with the
// one before it, falls back to op 0 whenever the log still holds every op from 1 through it
// and its head is within ReplayOpsMax, so that a replica whose two checkpoint files rotted
// keeps the committed ops its peers may lack (storage.replay_audit_stops_below_checkpoint,
// which recomputed the replay's audit chain one op short, survived every storage_crash seed).
//
// The history says whether the lost checkpoint may be replayed (storagemodel's
// ReplaysFromFormat: the log's own, its audit head the chain of the acknowledged bodies of
// ops 1..cp from the zero head); the disk, read by content as the episode placed no fault
// there, says whether each of those ops is still there whole: one copy of its entry in its
// segment, the acknowledged body, readable at the Open (no sector hidden), its record sector
// unhit, and no fault of the episode on it. Then reporting the checkpoint lost is a
// violation.

// checkReplayableLater judges a report that checkpoint cp, not a first one, is lost: the
// violation, or "".
func (e *storeEpisode) checkReplayableLater(cp uint64) string {
	if cp == 0 || !e.replayableFromOne(cp) || !e.m.ReplaysFromFormat(cp, storageEpisodeOptions.ReplayOpsMax) {
		return ""
	}
	for op := uint64(1); op <= cp; op++ {
		if !e.wholeForReplay(op) {
			return ""
		}
	}
	e.counters["coverage.storage_episode.later_checkpoint_replayable"]++
	return fmt.Sprintf("checkpoint %d reported lost, but this log audited it itself, its segments were all on disk and ops 1-%d "+
		"lie there whole with the bodies whose audit chain is its head (log within ReplayOpsMax %d): Open must fall back to op 0 and replay them",
		cp, cp, storageEpisodeOptions.ReplayOpsMax)
}

// wholeForReplay reports whether op's acknowledged entry lies whole and readable in its
// segment, the only copy there, with no fault of the episode on the op or its record.
func (e *storeEpisode) wholeForReplay(op uint64) bool {
	if e.damaged[op] || e.recordHit[op] || e.entryHit[op] || e.bothCopies[op] || e.staleCopies(op) {
		return false
	}
	name := segmentFileName4(op)
	copies := 0
	var found placedEntry
	for _, p := range placedEntries(e.disk.Durable(name)) {
		if p.op == op {
			copies, found = copies+1, p
		}
	}
	if copies != 1 {
		return false
	}
	b, err := e.disk.Visible(name, found.offset, found.size)
	if err != nil {
		return false
	}
	_, body, err := storage.DecodeEntry(b)
	return err == nil && bytes.Equal(body, e.m.Log[op])
}
