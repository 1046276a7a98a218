package scenarios

import (
	"bytes"
	"fmt"
	"slices"

	"vopr/cluster/storage"
	"vopr/sim"
)

// A record newer than the intact entry under it, at a segment's last op or inside a segment.
// Recovery takes an op's intact record as stale (staleRecord) when the op's entry is intact
// and the next op's entry chains onto it: appending the op again cuts the file at its entry,
// the next op's entry with it. Across a segment boundary that proves nothing: the next op's
// entry lies in another file, which no cut of this one touches. And a repair in place of an
// op of unknown identity whose next op is unknown too writes without cutting anything
// (rewritableUnknown): the next op's entry, unreadable then, may be whole again at the next
// boot. One move, on a
// fresh disk of the episode's options (sideEngine), in a third of the episodes, drawn from a
// stream of its own so that every other draw of a seed stays:
//
//   - segment record: ops 1..top appended, f the last op of its segment (or, in half the
//     draws, any op of the first three segments) and top above f;
//     at a boot, the entries and records of f and f+1 unreadable (read errors; f's record
//     rotten instead in half the draws), so Open holds both faulty of unknown identity. The
//     read errors heal; a view change's prepare for op f, another entry than the one on
//     disk, is written in place (nothing names the slot), its entry write lost while its
//     record lands. After a crash, Open must give op f back as the new prepare or faulty,
//     never as the older entry its record does not name; every other op comes back as it was
//     acknowledged, or faulty, none lost; the new prepare is written in place again (the
//     repair) and reads back, after one more crash too
//     (storage.stale_record_across_segments). Inside a segment the engine gave the older
//     entry back until such a rewrite marked op f+1 faulty first (markNextFaulty;
//     storage.unnamed_rewrite_unmarked, storage.stale_record_under_mark).

// segmentMoves are the moves of this file, for scriptedMoves.
func (e *storeEpisode) segmentMoves() []func() {
	return []func(){e.maybeCheckSegmentRecord}
}

// maybeCheckSegmentRecord runs the segment record move (see above).
func (e *storeEpisode) maybeCheckSegmentRecord() {
	rng := sim.Stream(e.seed, "storage_episode/segment_record")
	if rng.IntN(3) != 0 {
		return
	}
	per := uint64(storageEpisodeOptions.SegmentEntriesMax)
	f := per*(1+rng.Uint64N(2)) - 1
	if rng.IntN(2) == 0 {
		f = 1 + rng.Uint64N(3*per-1) // any op of the first three segments (h112)
	}
	p := segmentRecordDraw{f: f, top: f + 1 + rng.Uint64N(per+1), recordRot: rng.IntN(2) == 0,
		olderSize: 1 + rng.IntN(4), newerSize: 1 + rng.IntN(4)}
	msg, covered := checkSegmentRecord(e.seed, p)
	if msg != "" {
		record := "unreadable"
		if p.recordRot {
			record = "rotten"
		}
		e.fail("ops 1..%d, op %d and op %d of unknown identity at a boot (op %d's record %s), op %d rewritten in place with another prepare (%d units, over %d) whose entry write was lost and whose record landed: %s",
			p.top, f, f+1, f, record, f, p.newerSize, p.olderSize, msg)
		return
	}
	if covered {
		e.counters["coverage.storage_episode.segment_record"]++
	}
}

// segmentRecordDraw is one segment record move: ops 1..top, f below top; the
// record of op f rotten or unreadable; the sizes of op f's older and newer entries, in units
// of a short body.
type segmentRecordDraw struct {
	f, top               uint64
	recordRot            bool
	olderSize, newerSize int
}

func checkSegmentRecord(seed uint64, p segmentRecordDraw) (string, bool) {
	const move = "segment_record"
	f, top := p.f, p.top
	x, msg := newSideEngine(seed, move)
	if msg != "" {
		return msg, false
	}
	log, msg := x.appendHistory(move, top, f, p.olderSize)
	if msg != "" {
		return msg, false
	}
	older := log[f]
	name, offset, ok := x.entryPlace(f)
	if !ok {
		return fmt.Sprintf("op %d's entry not found in %s", f, name), false
	}
	nextName, nextOffset, ok := x.entryPlace(f + 1)
	if !ok {
		return fmt.Sprintf("op %d's entry not found in %s", f+1, nextName), false
	}
	recName, recOffset := recordPlace(f)
	nextRecName, nextRecOffset := recordPlace(f + 1)
	x.disk.Crash()
	x.hideEntryAndRecord(name, offset, recName, recOffset, p.recordRot)
	x.disk.LatentSectorError(nextName, nextOffset)
	x.disk.LatentSectorError(nextRecName, nextRecOffset)
	rec, msg := x.reopen()
	if msg != "" {
		return msg, false
	}
	if x.s.Head() != top || !slices.Contains(rec.Faulty, f) || !slices.Contains(rec.Faulty, f+1) {
		return "", false // not the state the move is after: f and f+1 of unknown identity
	}
	x.disk.HealLatent(name, offset)
	x.disk.HealLatent(recName, recOffset)
	x.disk.HealLatent(nextName, nextOffset)
	x.disk.HealLatent(nextRecName, nextRecOffset)
	// The view change's prepare at op f, written in place, its entry write lost.
	newer := bytes.Repeat(sideBody(move, f, 1), p.newerSize)
	x.disk.ArmLostWrite(name, offset, offset+1)
	err := x.append(f, newer)
	if !x.disk.DisarmLostWrite() || err != nil {
		return "", false // refused, failed or not written in place over the older entry
	}
	log[f] = newer
	rec, msg = x.reopen()
	if msg != "" {
		return msg, false
	}
	got := map[uint64]bool{}
	for _, entry := range rec.Entries {
		if entry.Op == f && bytes.Equal(entry.Body, older) {
			return fmt.Sprintf("Open returned op %d as the older entry %q, which its record does not name (faulty %v)",
				f, entry.Body, rec.Faulty), false
		}
		if want := log[entry.Op]; !bytes.Equal(entry.Body, want) {
			return fmt.Sprintf("Open returned op %d as %q, acknowledged %q", entry.Op, entry.Body, want), false
		}
		got[entry.Op] = true
	}
	for op := uint64(1); op <= top; op++ {
		if !got[op] && !(op >= f && slices.Contains(rec.Faulty, op)) {
			return fmt.Sprintf("acknowledged op %d lost (entries %v, faulty %v, head %d)", op, opsOf(rec.Entries), rec.Faulty, x.s.Head()), false
		}
	}
	if !got[f] {
		// The repair: the new prepare, under its intact record, goes back in place.
		if !x.s.Rewritable(storage.Entry{Op: f, Body: newer}) {
			return fmt.Sprintf("op %d's acknowledged prepare, under its intact record, is not Rewritable (faulty %v)", f, rec.Faulty), false
		}
		if err := x.append(f, newer); err != nil {
			return fmt.Sprintf("the repair Append(%d): %v", f, err), false
		}
	}
	below := map[uint64][]byte{}
	for op := uint64(1); op <= f; op++ {
		below[op] = log[op]
	}
	if msg := x.readsBack(below, x.s.Head()); msg != "" {
		return "after the repair: " + msg, false
	}
	if _, msg := x.reopen(); msg != "" {
		return "after the repair: " + msg, false
	}
	if msg := x.readsBack(below, x.s.Head()); msg != "" {
		return "after the repair and a crash: " + msg, false
	}
	return "", true
}
