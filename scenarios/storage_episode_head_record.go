package scenarios

import (
	"bytes"
	"fmt"
	"slices"

	"vopr/cluster/storage"
	"vopr/sim"
)

// The head entry and its redundant record. Every op's record names the entry its append made
// durable, and recovery holds each entry to it: an intact entry that is not the one its record
// names is an older write left in place (the newer one lost or misdirected), never the op's
// durable prepare. The head is the op where that matters most and where the episode's history
// never reached it: it takes an older entry left intact at the head's place while the newer
// entry's write was lost and its record landed, which only a write in place over the head
// leaves (an append past the head, or one that replaces the op, cuts the file first). And the
// place of the head's entry when the head is an installed checkpoint whose own entry is
// damaged: the append above it must not go past the damaged region, over a dropped append a
// read error hid there. Two moves, each on a fresh disk of the episode's options
// (sideEngine), in a third of the episodes, drawn from a stream of its own so that every
// other draw of a seed stays:
//
//   - head record: ops 1..h appended; at a boot, op h's entry hidden by a read error and its
//     record unreadable (rot, or a read error too), so Open holds the head faulty of unknown
//     identity; the read error heals, and a view change's prepare for op h, another entry
//     than the one on disk, is written at the head (a repair in place: nothing names the
//     slot), its entry write lost (or misdirected elsewhere in the file) while its record
//     lands; ops h+1..top may follow on it. After a crash, Open must give op h back as the
//     new prepare or faulty, never as the older entry its record does not name; every other
//     op comes back intact (or faulty: above h, or wherever a misdirect landed); the new
//     prepare is Rewritable below the head, and its repair (Append), cut short by a crash at
//     a drawn completion, loses no op, and once whole reads back after one more crash
//     (storage.records_not_applied_at_head).
//   - checkpoint head region: ops 1..a (a checkpoint at b), a peer's checkpoint c installed
//     above the head (c and c+1 share a segment; op c has no entry), op c+1 appended (a
//     large entry, its record write lost); at a boot, op c+1's header hidden by a read error
//     and checkpoint c's file rotten: the fallback to b drops op c+1 and holds ops b+1..c
//     faulty, op c's damaged region running over the dropped append. The read error heals,
//     checkpoint c is installed again on the head, and op c+1 is appended anew (a smaller
//     entry of another prepare), then its entry and record rot. After a crash, Open must give
//     op c+1 back faulty, never as the dropped append's body
//     (storage.append_fast_path_ignores_checkpoint_region).

// headRecordMoves are the moves of this file, for scriptedMoves.
func (e *storeEpisode) headRecordMoves() []func() {
	return []func(){e.maybeCheckHeadRecord, e.maybeCheckCheckpointHeadRegion}
}

// maybeCheckHeadRecord runs the head record move (see above).
func (e *storeEpisode) maybeCheckHeadRecord() {
	rng := sim.Stream(e.seed, "storage_episode/head_record")
	if rng.IntN(3) != 0 {
		return
	}
	h := 1 + rng.Uint64N(10)
	above := uint64(0)
	if rng.IntN(2) == 0 {
		above = 1 + rng.Uint64N(3)
	}
	recordRot := rng.IntN(2) == 0
	p := headRecordDraw{h: h, top: h + above, recordRot: recordRot,
		olderSize: 1 + rng.IntN(6), newerSize: 1 + rng.IntN(6), crashAt: rng.IntN(10),
		misdirect: rng.IntN(3) == 0}
	msg, covered := checkHeadRecord(e.seed, p)
	if msg != "" {
		record, after := "unreadable", "nothing appended on it"
		if recordRot {
			record = "rotten"
		}
		if above > 0 {
			after = fmt.Sprintf("ops %d..%d appended on it", h+1, h+above)
		}
		e.fail("ops 1..%d, head %d faulty of unknown identity at a boot (its record %s), rewritten in place with another prepare (%d units, over %d) whose entry write was %s and whose record landed, %s, its repair cut by a crash after %d completions: %s",
			h, h, record, p.newerSize, p.olderSize, map[bool]string{false: "lost", true: "misdirected"}[p.misdirect], after, p.crashAt, msg)
		return
	}
	if covered {
		e.counters["coverage.storage_episode.head_record"]++
	}
}

// headRecordDraw is one head record move: ops 1..h, then top-h ops on the new op h; the
// record of op h rotten or unreadable; the sizes of op h's older and newer entries, in units
// of a short body; the completions after which a crash cuts the repair short.
type headRecordDraw struct {
	h, top               uint64
	recordRot            bool
	olderSize, newerSize int
	crashAt              int
	misdirect            bool
}

func checkHeadRecord(seed uint64, p headRecordDraw) (string, bool) {
	const move = "head_record"
	h, top := p.h, p.top
	x, msg := newSideEngine(seed, move)
	if msg != "" {
		return msg, false
	}
	older, msg := x.appendHistory(move, h, h, p.olderSize)
	if msg != "" {
		return msg, false
	}
	name, offset, ok := x.entryPlace(h)
	if !ok {
		return fmt.Sprintf("op %d's entry not found in %s", h, name), false
	}
	recName, recOffset := recordPlace(h)
	x.disk.Crash()
	x.hideEntryAndRecord(name, offset, recName, recOffset, p.recordRot)
	rec, msg := x.reopen()
	if msg != "" {
		return msg, false
	}
	if x.s.Head() != h || !slices.Contains(rec.Faulty, h) {
		return "", false // not the state the move is after: the head of unknown identity
	}
	x.disk.HealLatent(name, offset)
	x.disk.HealLatent(recName, recOffset)
	// The view change's prepare at op h: another entry than the one the disk holds there.
	log := map[uint64][]byte{}
	for op := uint64(1); op < h; op++ {
		log[op] = older[op]
	}
	log[h] = bytes.Repeat(sideBody(move, h, 1), p.newerSize)
	// The write in place is lost, or misdirected elsewhere in the file (where it may hit
	// another op's entry or record: that op may then be faulty too).
	if p.misdirect {
		x.disk.ArmMisdirect(name, offset, offset+1)
	} else {
		x.disk.ArmLostWrite(name, offset, offset+1)
	}
	err := x.append(h, log[h])
	struck := x.disk.DisarmLostWrite()
	if p.misdirect {
		struck = x.disk.DisarmMisdirect()
	}
	if err != nil || !struck {
		return "", false // refused, failed or not written in place over the older entry: nothing to hold it to
	}
	for op := h + 1; op <= top; op++ {
		log[op] = sideBody(move, op, 1)
		if err := x.append(op, log[op]); err != nil {
			return fmt.Sprintf("append of op %d on the new op %d: %v", op, h, err), false
		}
	}
	rec, msg = x.reopen()
	if msg != "" {
		return msg, false
	}
	for _, entry := range rec.Entries {
		if entry.Op == h && bytes.Equal(entry.Body, older[h]) {
			return fmt.Sprintf("Open returned op %d as the older entry %q, which its record does not name (faulty %v)",
				h, entry.Body, rec.Faulty), false
		}
		if want := log[entry.Op]; !bytes.Equal(entry.Body, want) {
			return fmt.Sprintf("Open returned op %d as %q, acknowledged %q", entry.Op, entry.Body, want), false
		}
	}
	got := map[uint64]bool{}
	for _, entry := range rec.Entries {
		got[entry.Op] = true
	}
	if p.misdirect {
		// The landing may have hit any op: each is back intact (checked above) or faulty,
		// never lost. Their repair is the episode's own (storage_episode_repair_rule.go).
		for op := uint64(1); op <= top; op++ {
			if !got[op] && !slices.Contains(rec.Faulty, op) {
				return fmt.Sprintf("acknowledged op %d lost (entries %v, faulty %v, head %d)", op, opsOf(rec.Entries), rec.Faulty, x.s.Head()), false
			}
		}
		return "", true
	}
	for op := uint64(1); op <= top; op++ {
		if !got[op] && !(op >= h && slices.Contains(rec.Faulty, op)) {
			return fmt.Sprintf("acknowledged op %d lost (entries %v, faulty %v, head %d)", op, opsOf(rec.Entries), rec.Faulty, x.s.Head()), false
		}
	}
	if !got[h] {
		if !x.s.Rewritable(storage.Entry{Op: h, Body: log[h]}) && h != x.s.Head() {
			return fmt.Sprintf("op %d's acknowledged prepare, under its intact record, is not Rewritable (faulty %v)", h, rec.Faulty), false
		}
		// The repair, cut short by a crash after crashAt completions (or not, if it takes
		// fewer): every acknowledged op comes back, intact or faulty.
		done := false
		x.s.Append(storage.Entry{Op: h, Body: log[h]}, func(error) { done = true })
		for i := 0; i < p.crashAt && !done && x.loop.Step(); i++ {
		}
		rec, msg = x.reopen()
		if msg != "" {
			return "after the repair cut short: " + msg, false
		}
		got = map[uint64]bool{}
		for _, entry := range rec.Entries {
			if !bytes.Equal(entry.Body, log[entry.Op]) {
				return fmt.Sprintf("after the repair cut short: Open returned op %d as %q, acknowledged %q",
					entry.Op, entry.Body, log[entry.Op]), false
			}
			got[entry.Op] = true
		}
		for op := uint64(1); op <= top; op++ {
			if !got[op] && !(op >= h && slices.Contains(rec.Faulty, op)) {
				return fmt.Sprintf("after the repair cut short: acknowledged op %d lost (entries %v, faulty %v, head %d)",
					op, opsOf(rec.Entries), rec.Faulty, x.s.Head()), false
			}
		}
		if !got[h] {
			if err := x.append(h, log[h]); err != nil {
				return fmt.Sprintf("the repair Append(%d): %v", h, err), false
			}
		}
		if msg := x.readsBack(log, top); msg != "" {
			return "after the repair: " + msg, false
		}
	}
	if _, msg := x.reopen(); msg != "" {
		return "after the repair: " + msg, false
	}
	if msg := x.readsBack(log, top); msg != "" {
		return "after the repair and a crash: " + msg, false
	}
	return "", true
}

// maybeCheckCheckpointHeadRegion runs the checkpoint head region move (see above).
func (e *storeEpisode) maybeCheckCheckpointHeadRegion() {
	rng := sim.Stream(e.seed, "storage_episode/checkpoint_head_region")
	if rng.IntN(3) != 0 {
		return
	}
	per := uint64(storageEpisodeOptions.SegmentEntriesMax)
	// c and c+1 share a segment: the region of c is cut only where the op above is appended.
	c := per*(1+rng.Uint64N(3)) + rng.Uint64N(per-1)
	a := 1 + rng.Uint64N(c-1)
	b := 1 + rng.Uint64N(a)
	msg, covered := checkCheckpointHeadRegion(e.seed, b, a, c)
	if msg != "" {
		e.fail("ops 1..%d (checkpoint %d), a peer's checkpoint %d installed above the head, op %d's record write lost, its header hidden at the fallback, checkpoint %d installed again on the head and op %d appended anew, its entry and record rotten: %s",
			a, b, c, c+1, c, c+1, msg)
		return
	}
	if covered {
		e.counters["coverage.storage_episode.checkpoint_head_region"]++
	}
}

func checkCheckpointHeadRegion(seed, b, a, c uint64) (string, bool) {
	const move = "checkpoint_head_region"
	x, msg := newSideEngine(seed, move)
	if msg != "" {
		return msg, false
	}
	log := map[uint64][]byte{}
	for op := uint64(1); op <= a; op++ {
		log[op] = sideBody(move, op, 0)
		if err := x.append(op, log[op]); err != nil {
			return fmt.Sprintf("append of op %d: %v", op, err), false
		}
		if op == b {
			if _, err := x.s.Commit(b); err != nil {
				return fmt.Sprintf("Commit(%d): %v", b, err), false
			}
			if err := x.wait(func(done func(error)) { x.s.Checkpoint(b, fmt.Appendf(nil, "state at %d", b), done) }); err != nil {
				return fmt.Sprintf("Checkpoint(%d): %v", b, err), false
			}
		}
	}
	snapshot := fmt.Appendf(nil, "a peer's state at %d", c)
	if err := x.wait(func(done func(error)) { x.s.InstallCheckpoint(c, snapshot, done) }); err != nil {
		return fmt.Sprintf("InstallCheckpoint(%d): %v", c, err), false
	}
	// Op c+1, a large entry whose record write is lost: the boot's read error over its header
	// leaves the append as one that never finished.
	dropped := bytes.Repeat(sideBody(move, c+1, 0), 40)
	recName, recOffset := recordPlace(c + 1)
	x.disk.ArmLostWrite(recName, recOffset, recOffset+1)
	if err := x.append(c+1, dropped); err != nil {
		x.disk.DisarmLostWrite()
		return fmt.Sprintf("append of op %d: %v", c+1, err), false
	}
	if !x.disk.DisarmLostWrite() {
		return "", false
	}
	name, offset, ok := x.entryPlace(c + 1)
	if !ok {
		return fmt.Sprintf("op %d's entry not found in %s", c+1, name), false
	}
	x.disk.Crash()
	x.disk.LatentSectorError(name, offset)
	x.disk.CorruptSector(fmt.Sprintf("checkpoint-%016x", c), 0)
	rec, msg := x.reopen()
	if msg != "" {
		return msg, false
	}
	if rec.CheckpointDamaged != c || rec.CheckpointLost || x.s.Head() != c {
		return "", false // not the fallback the move is after
	}
	x.disk.HealLatent(name, offset) // the dropped append is whole again
	if err := x.wait(func(done func(error)) { x.s.InstallCheckpoint(c, snapshot, done) }); err != nil {
		return fmt.Sprintf("InstallCheckpoint(%d) again: %v", c, err), false
	}
	fresh := sideBody(move, c+1, 1)
	if err := x.append(c+1, fresh); err != nil {
		return fmt.Sprintf("append of op %d again: %v", c+1, err), false
	}
	freshName, freshOffset, ok := x.entryWith(c+1, fresh)
	if !ok {
		return fmt.Sprintf("op %d's new entry not found in %s", c+1, freshName), false
	}
	x.disk.Crash()
	x.disk.CorruptSector(freshName, freshOffset)
	x.disk.CorruptSector(recName, recOffset)
	rec, msg = x.reopen()
	if msg != "" {
		return msg, false
	}
	for _, entry := range rec.Entries {
		if entry.Op == c+1 {
			if bytes.Equal(entry.Body, dropped) {
				return fmt.Sprintf("Open returned op %d as the dropped append's body (faulty %v)", c+1, rec.Faulty), false
			}
			return fmt.Sprintf("Open returned op %d intact as %q, its entry and record rotten (faulty %v)", c+1, entry.Body, rec.Faulty), false
		}
		if want := log[entry.Op]; entry.Op <= a && !bytes.Equal(entry.Body, want) {
			return fmt.Sprintf("Open returned op %d as %q, acknowledged %q", entry.Op, entry.Body, want), false
		}
	}
	if !slices.Contains(rec.Faulty, c+1) {
		return fmt.Sprintf("acknowledged op %d, its entry and record rotten, not faulty (head %d, entries %v, faulty %v)",
			c+1, x.s.Head(), opsOf(rec.Entries), rec.Faulty), false
	}
	return "", true
}

// entryWith finds op's entry holding body in the durable bytes of its segment file (another
// entry of op may lie there too, an older append's); ok false if none.
func (x *sideEngine) entryWith(op uint64, body []byte) (name string, offset int64, ok bool) {
	name = fmt.Sprintf("log-%016x", op/uint64(storageEpisodeOptions.SegmentEntriesMax))
	data := x.disk.Durable(name)
	for at := int64(0); at+storage.SectorSize <= int64(len(data)); at += storage.SectorSize {
		h, err := storage.DecodeHeader(data[at : at+storage.SectorSize])
		from := at + storage.HeaderSize
		if err == nil && h.Op == op && h.Offset == at && from+int64(len(body)) <= int64(len(data)) &&
			bytes.Equal(data[from:from+int64(len(body))], body) {
			return name, at, true
		}
	}
	return name, 0, false
}
