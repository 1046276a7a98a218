package scenarios

import (
	"bytes"
	"fmt"
	"slices"

	"vopr/cluster/storage"
	"vopr/faults"
	"vopr/internal/storagemodel"
)

// A lost write, and the full scan of a running engine. The engine's Verify reads the whole
// disk back and holds it to the log the engine holds, entry by entry (its contract: "that
// each entry is the one the index holds"). A write the disk acknowledged but did not put
// where it was meant to go (misdirected away, or lost in the drive's cache) leaves the old
// bytes in place: where the op's older entry was, that entry, whole, with its own record
// beside it, self-consistent and chained onto the op below. Nothing on the disk tells it
// from the op's current entry; only the engine's index, which holds the entry the engine
// acknowledged, does. A scan that compares the two by anything weaker than the entry's
// identity (its place, its parent) calls that disk clean, and the next restart serves the
// older prepare as the op's, silently.
//
// The disk model's own misdirect cannot leave that here: a replacement first cuts the
// segment at the op's entry, and a write misdirected away then leaves zeros, which the scan
// reports by itself. The episode puts the older bytes back directly, as a drive that lost
// the cut and the write would leave them (the engine's Rewrite, which writes in place
// without a cut, reaches the same state through a misdirect only under three aimed faults).
//
// So at the end of half the episodes, on the engine as the episode leaves it (nothing
// faulty), the episode replaces an op above the committed ones with a new body of the same
// size, as a view change does, then makes the disk lose that write: the op's older entry
// and its record put back as they were (in half of these; in the others a bit of the new
// entry flipped, the plain rot). Verify on the running engine must report the op faulty.
// The draws come from the episode's own stream ("storage_episode/lost_write"), after every
// other check of the seed.

// maybeCheckLostWrite runs the lost-write check at the end of half the episodes.
func (e *storeEpisode) maybeCheckLostWrite() {
	r := e.lostWrite
	if r.IntN(2) != 0 || len(e.s.Faulty()) > 0 {
		return
	}
	s := e.s
	audited, _ := s.AuditHead()
	floor, head := max(s.State().CheckpointOp, audited), s.Head()
	if head <= floor {
		return
	}
	op := floor + 1 + r.Uint64N(head-floor)
	name := segmentFileName4(op)
	old, ok := e.lastEntryOf(name, op)
	if !ok {
		return
	}
	image := e.disk.Durable(name)
	recordAt, recorded := faults.RecordSectorOf(image, old.offset)
	oldEntry := bytes.Clone(image[old.offset : old.offset+old.size])
	oldRecord := []byte(nil)
	if recorded {
		oldRecord = bytes.Clone(image[recordAt : recordAt+storage.SectorSize])
	}
	h, _, err := storage.DecodeEntry(oldEntry)
	if err != nil {
		return
	}
	body := fmt.Appendf(nil, "lost write of op %d ", op)
	for len(body) < int(h.BodySize) {
		body = append(body, byte(len(body)))
	}
	body = body[:h.BodySize] // the same extent as the older entry: a view change's replacement in place
	step := storagemodel.Step{Kind: storagemodel.Replace, Op: op, Body: body}
	if err := e.wait(func(done func(error)) { storagemodel.Issue(s, step, done) }); err != nil {
		e.fail("lost-write check: the replacement of op %d failed: %v", op, err)
		return
	}
	fresh, ok := e.lastEntryOf(name, op)
	if !ok {
		e.fail("lost-write check: op %d, replaced and acknowledged, has no entry in %s", op, name)
		return
	}
	how := "a bit of its new entry flipped"
	if recorded && fresh.offset == old.offset && fresh.size == old.size && r.IntN(2) == 0 {
		how = "its older entry and record put back (the replacement's writes lost)"
		for _, w := range []struct {
			at   int64
			data []byte
		}{{old.offset, oldEntry}, {recordAt, oldRecord}} {
			if err := e.wait(func(done func(error)) { e.disk.WriteAt(name, w.data, w.at, done) }); err != nil {
				e.fail("lost-write check: write: %v", err)
				return
			}
		}
		if err := e.wait(func(done func(error)) { e.disk.Sync(name, done) }); err != nil {
			e.fail("lost-write check: sync: %v", err)
			return
		}
		e.counters["coverage.storage_episode.lost_writes"]++
	} else {
		e.disk.CorruptSector(name, fresh.offset+storage.SectorSize*r.Int64N(fresh.size/storage.SectorSize))
		e.counters["coverage.storage_episode.lost_write_rots"]++
	}
	report, err := e.verifyRunning(s, e.lostWriteReopens)
	if err != nil {
		e.fail("lost-write check: verify: %v", err)
		return
	}
	if msg := judgeLostWrite(report, op, how); msg != "" {
		e.fail("%s", msg)
	}
}

// judgeLostWrite holds a running engine's full scan to the op whose acknowledged entry the
// disk no longer holds: the violation, or "".
func judgeLostWrite(report storage.VerifyReport, op uint64, how string) string {
	if slices.Contains(report.Faulty, op) {
		return ""
	}
	return fmt.Sprintf("op %d replaced on the running engine, then %s: Verify reports it intact (ok %t, faulty %v, problems %v)",
		op, how, report.OK, report.Faulty, report.Problems)
}

// lastEntryOf returns the last whole entry of op in the segment file name, as a read sees it
// (found by content, not by the engine's layout).
// verifyRunning runs Verify on the running engine s, whose index knows what the disk lost
// since it opened; with reopen (a test's knob) it verifies a freshly opened engine instead,
// whose index agrees with the disk and misses the loss.
func (e *storeEpisode) verifyRunning(s *storage.Storage, reopen bool) (storage.VerifyReport, error) {
	var report storage.VerifyReport
	err := e.wait(func(done func(error)) {
		if reopen {
			storage.Open(e.disk, storageEpisodeOptions, func(fresh *storage.Storage, rec *storage.Recovery, err error) {
				if err != nil {
					done(err)
					return
				}
				fresh.VerifyOpened(rec, func(got storage.VerifyReport) { report = got; done(nil) })
			})
			return
		}
		s.Verify(func(got storage.VerifyReport) { report = got; done(nil) })
	})
	return report, err
}

func (e *storeEpisode) lastEntryOf(name string, op uint64) (placedEntry, bool) {
	image := e.disk.Durable(name)
	var last placedEntry
	found := false
	for _, p := range placedEntries(image) {
		if p.op != op {
			continue
		}
		if seen, err := e.disk.Visible(name, p.offset, p.size); err != nil || !bytes.Equal(seen, image[p.offset:p.offset+p.size]) {
			continue
		}
		last, found = p, true
	}
	return last, found
}
