package scenarios

import (
	"bytes"
	"fmt"
	"slices"

	"vopr/cluster/storage"
)

// A lost tail, and the full scan of a running engine. A file system that did not make a
// file's size durable, or an fsck that cut a damaged file short, leaves a segment whose bytes
// past some offset are gone, and the segment files created after it gone with them. The
// engine's acknowledged entries there are lost: Verify's contract is to name every op whose
// entry is missing in its faulty list (VerifyReport.Faulty), which is what an operator repairs
// or restores by. A scan that reports only what the disk still shows (the ops its own scan
// can place) names none of the ops past the last file left, and calls their loss a shorter
// log.
//
// So at the end of half the episodes, after the lost-write check, the episode cuts the
// segment of a drawn op above the checkpoint at a sector of that op's entry, removes every
// later segment file, and runs Verify on the running engine: every op whose newest entry was
// cut away (and has no identical copy left below the cut) must be named faulty. The draws
// come from the episode's own stream ("storage_episode/tail_lost"), after every other check
// of the seed.

// maybeCheckTailLost runs the lost-tail check at the end of half the episodes.
func (e *storeEpisode) maybeCheckTailLost() {
	r := e.tailLost
	if r.IntN(2) != 0 {
		return
	}
	s := e.s
	cp, head := s.State().CheckpointOp, s.Head()
	if head <= cp {
		return
	}
	cutOp := cp + 1 + r.Uint64N(head-cp)
	cutName, entry, ok := e.find(cutOp)
	if !ok {
		return
	}
	cut := entry.offset + storage.SectorSize*r.Int64N(entry.size/storage.SectorSize)
	var removed []string
	for _, name := range e.segments() {
		if name > cutName {
			removed = append(removed, name)
		}
	}
	// The ops whose acknowledged entry goes: found by content before the cut.
	var lost []uint64
	lostFiles := 0 // lost ops whose segment file went whole
	for op := cp + 1; op <= head; op++ {
		name, p, ok := e.find(op)
		if !ok {
			continue // already missing or damaged: not this check's loss
		}
		if slices.Contains(removed, name) {
			lost = append(lost, op)
			lostFiles++
			continue
		}
		if name != cutName || p.offset+p.size <= cut {
			continue
		}
		image := e.disk.Durable(name)
		// A copy below the cut with the newest entry's body (its header names its own
		// offset, so the bytes differ) keeps the op: a head appended anew past a region of
		// unknown extent leaves its older copy of the same prepare (storage crash seed
		// 2212101403: op 2 at 3584 and at 5120, the cut at 4608).
		_, newest, _ := storage.DecodeEntry(image[p.offset : p.offset+p.size])
		if !slices.ContainsFunc(placedEntries(image[:cut]), func(q placedEntry) bool {
			_, body, err := storage.DecodeEntry(image[q.offset : q.offset+q.size])
			return q.op == op && err == nil && bytes.Equal(body, newest)
		}) {
			lost = append(lost, op)
		}
	}
	if len(lost) == 0 {
		return
	}
	if err := e.wait(func(done func(error)) { e.disk.Truncate(cutName, cut, done) }); err != nil {
		e.fail("lost-tail check: truncate %s: %v", cutName, err)
		return
	}
	for _, name := range removed {
		if err := e.wait(func(done func(error)) { e.disk.Remove(name, done) }); err != nil {
			e.fail("lost-tail check: remove %s: %v", name, err)
			return
		}
	}
	e.counters["coverage.storage_episode.tails_lost"]++
	if lostFiles > 0 {
		e.counters["coverage.storage_episode.tail_segments_lost"]++
	}
	report, err := e.verifyRunning(s, e.tailLostReopens)
	if err != nil {
		e.fail("lost-tail check: verify: %v", err)
		return
	}
	if msg := judgeTailLost(report, lost, fmt.Sprintf("%s cut at %d, %d later segment files removed", cutName, cut, len(removed))); msg != "" {
		e.fail("%s", msg)
	}
}

// judgeTailLost holds a running engine's full scan to the ops whose entries a lost tail took:
// the violation, or "".
func judgeTailLost(report storage.VerifyReport, lost []uint64, how string) string {
	var unnamed []uint64
	for _, op := range lost {
		if !slices.Contains(report.Faulty, op) {
			unnamed = append(unnamed, op)
		}
	}
	if len(unnamed) == 0 && !report.OK {
		return ""
	}
	return fmt.Sprintf("lost tail (%s) took the entries of ops %v: Verify on the running engine does not name ops %v faulty (ok %t, faulty %v, problems %v)",
		how, lost, unnamed, report.OK, report.Faulty, report.Problems)
}
