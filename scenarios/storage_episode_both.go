package scenarios

import (
	"fmt"
	"slices"
	"strings"

	"vopr/cluster/storage"
)

// Both checkpoints rotten. The episode damaged only the newest checkpoint's file, so a
// fallback to the previous one always found it whole, and recovery's path for a fallback that
// fails too (the state lost, the superblock naming the newest checkpoint again) ran only in
// the cluster scenarios, whose checks excused what it reported (a lost checkpoint named the
// older op under storage.fallback_failure_keeps_previous and every storage_crash seed passed).
// In a third of the boots whose damage corrupts the newest checkpoint's file (their own
// stream, storage_episode/both_checkpoints, so that every other draw of a seed stays as it
// was), the newest older checkpoint file on disk is corrupted too: recovery must then report
// the newest checkpoint lost, or replay from op 0 (checkLost, checkCheckpoint).

// damagePrevious corrupts a sector of the newest checkpoint file below the newest
// acknowledged checkpoint, if any is on disk (see above).
func (e *storeEpisode) damagePrevious() {
	if e.bothCheckpoints.IntN(3) != 0 {
		return
	}
	prev, name := uint64(0), ""
	for _, n := range e.disk.Names() {
		var op uint64
		if _, err := fmt.Sscanf(n, "checkpoint-%016x", &op); err != nil || !strings.HasPrefix(n, "checkpoint-") {
			continue
		}
		if op < e.m.CP && op > prev && len(e.disk.Durable(n)) > 0 {
			prev, name = op, n
		}
	}
	if name == "" {
		return
	}
	size := int64(len(e.disk.Durable(name)))
	sectors := (size + storage.SectorSize - 1) / storage.SectorSize
	e.disk.CorruptSector(name, storage.SectorSize*e.bothCheckpoints.Int64N(sectors))
	e.rottenCheckpoints = append(e.rottenCheckpoints, prev)
	e.counters["coverage.storage_episode.damage.both_checkpoints"]++
}

// rottenBelow reports whether the episode corrupted a checkpoint file below op: a recovery
// that loses op then tried that file as its previous checkpoint, and a replay from op 0 takes
// the log's own audit of every op through op (intact, in the audited history), which
// checkReplayableLost's rule for a first checkpoint with no previous one does not ask.
func (e *storeEpisode) rottenBelow(op uint64) bool {
	return slices.ContainsFunc(e.rottenCheckpoints, func(r uint64) bool { return r < op })
}
