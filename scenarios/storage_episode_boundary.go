package scenarios

import (
	"bytes"
	"fmt"
	"slices"

	"vopr/cluster/storage"
	"vopr/sim"
)

// The repair of a segment's last op. The episode repairs the lowest faulty op it can rewrite
// in place, and only when the engine says it can (Rewritable): an engine that wrongly refused
// a repair was never held to anything. A segment's last op whose entry and record are both
// damaged (its identity lost) is named only by the next op's parent, and the next op's entry
// lies in another segment file, at the start of its entries: where the damaged entry goes is
// the end of its predecessor's entry in its own file (entries are laid out in op order, one
// segment per file, doc.go). Append's contract: an entry for an op the log already names
// there (a repair of a damaged entry) is rewritten in place and the later ops stay.
//
// So at the end of a third of the episodes (their own stream, storage_episode/boundary_repair,
// so that every other draw of a seed stays), on a fresh disk of the episode's options, a
// drawn log of ops 1..head is appended, where op f, the last of segment 1 or 2, lies below
// the head; op f's entry and record sectors are corrupted; after a crash and Open, op f must
// be faulty and the ops above it intact; the engine must take op f's acknowledged body as
// the entry the log names there (Rewritable), and an Append of it (the replica's repair)
// must keep every op above it: after it, and after one more crash and Open, ops 1..head read
// back as appended.

// sideEngine is an engine alone on a fresh disk of its own loop, for the episode's scripted
// moves (each names its disk's stream after itself).
type sideEngine struct {
	loop *sim.Loop
	disk *sim.Disk
	s    *storage.Storage
}

// newSideEngine formats a fresh disk for move and opens it; a non-empty string is a failure.
func newSideEngine(seed uint64, move string) (*sideEngine, string) {
	loop := sim.NewLoop()
	opts := sim.DiskOptions{ReadLatencyMin: 10 * sim.Microsecond, ReadLatencyMean: 50 * sim.Microsecond,
		WriteLatencyMin: 20 * sim.Microsecond, WriteLatencyMean: 200 * sim.Microsecond, Capacity: 16 << 20}
	disk := sim.NewDisk(loop, sim.Stream(seed, "storage_episode/"+move+"/disk"), sim.NewTrace(loop.Now), 0, opts)
	if err := sideWait(loop, func(done func(error)) {
		storage.Format(disk, storageEpisodeOptions, storeEpisodeState, done)
	}); err != nil {
		return nil, fmt.Sprintf("format: %v", err)
	}
	x := &sideEngine{loop: loop, disk: disk}
	if _, msg := x.reopen(); msg != "" {
		return nil, msg
	}
	return x, ""
}

// reopen crashes the disk (every acknowledged write is synced) and opens it again.
func (x *sideEngine) reopen() (*storage.Recovery, string) {
	x.disk.Crash()
	s, rec, err := sideOpen(x.loop, x.disk)
	if err != nil {
		return nil, fmt.Sprintf("open: %v", err)
	}
	x.s = s
	return rec, ""
}

func (x *sideEngine) wait(issue func(done func(error))) error { return sideWait(x.loop, issue) }

func (x *sideEngine) append(op uint64, body []byte) error {
	return x.wait(func(done func(error)) { x.s.Append(storage.Entry{Op: op, Body: body}, done) })
}

func (x *sideEngine) read(op uint64) ([]byte, error) {
	var got []byte
	err := x.wait(func(done func(error)) {
		x.s.Read(op, func(b []byte, err error) { got = b; done(err) })
	})
	return got, err
}

// readsBack returns "" if ops 1..head read back as log holds them (and the head is head).
func (x *sideEngine) readsBack(log map[uint64][]byte, head uint64) string {
	if got := x.s.Head(); got != head {
		return fmt.Sprintf("head %d, want %d", got, head)
	}
	for op := uint64(1); op <= head; op++ {
		if want, ok := log[op]; ok {
			if got, err := x.read(op); err != nil || !bytes.Equal(got, want) {
				return fmt.Sprintf("op %d reads %q, %v; want %q", op, got, err, want)
			}
		}
	}
	return ""
}

// entryPlace finds op's entry in the durable bytes of its segment file (the sector whose
// header names op and that offset); ok false if none.
func (x *sideEngine) entryPlace(op uint64) (name string, offset int64, ok bool) {
	name = fmt.Sprintf("log-%016x", op/uint64(storageEpisodeOptions.SegmentEntriesMax))
	data := x.disk.Durable(name)
	for at := int64(0); at+storage.SectorSize <= int64(len(data)); at += storage.SectorSize {
		if h, err := storage.DecodeHeader(data[at : at+storage.SectorSize]); err == nil && h.Op == op && h.Offset == at {
			return name, at, true
		}
	}
	return name, 0, false
}

// recordPlace is op's record sector: segment k's record area holds one sector per op.
func recordPlace(op uint64) (string, int64) {
	per := uint64(storageEpisodeOptions.SegmentEntriesMax)
	return fmt.Sprintf("log-%016x", op/per), int64(op%per) * storage.SectorSize
}

// sideBody is a small body (one sector with its header) for op of move's generation gen.
// appendHistory appends ops 1..top of move's bodies, op big's repeated size times (an entry
// of its own size), and returns them by op, or what failed.
func (x *sideEngine) appendHistory(move string, top, big uint64, size int) (map[uint64][]byte, string) {
	log := map[uint64][]byte{}
	for op := uint64(1); op <= top; op++ {
		log[op] = sideBody(move, op, 0)
		if op == big {
			log[op] = bytes.Repeat(log[op], size)
		}
		if err := x.append(op, log[op]); err != nil {
			return nil, fmt.Sprintf("append of op %d: %v", op, err)
		}
	}
	return log, ""
}

// hideEntryAndRecord makes an op's entry unreadable and its record unreadable, or rotten
// (rot), so the next Open holds the op faulty of unknown identity.
func (x *sideEngine) hideEntryAndRecord(name string, offset int64, recName string, recOffset int64, rot bool) {
	x.disk.LatentSectorError(name, offset)
	if rot {
		x.disk.CorruptSector(recName, recOffset)
	} else {
		x.disk.LatentSectorError(recName, recOffset)
	}
}

func sideBody(move string, op uint64, gen int) []byte {
	return fmt.Appendf(nil, "%s op %d gen %d", move, op, gen)
}

// maybeCheckBoundaryRepair runs the move (see above) in a third of the episodes.
func (e *storeEpisode) maybeCheckBoundaryRepair() {
	rng := sim.Stream(e.seed, "storage_episode/boundary_repair")
	if rng.IntN(3) != 0 {
		return
	}
	per := uint64(storageEpisodeOptions.SegmentEntriesMax)
	f := per*(1+rng.Uint64N(2)) - 1
	head := f + 1 + rng.Uint64N(per+2)
	if msg := checkBoundaryRepair(e.seed, f, head); msg != "" {
		e.fail("repair of op %d, the last of its segment, under head %d: %s", f, head, msg)
		return
	}
	e.counters["coverage.storage_episode.boundary_repair"]++
}

func checkBoundaryRepair(seed, f, head uint64) string {
	const move = "boundary_repair"
	x, msg := newSideEngine(seed, move)
	if msg != "" {
		return msg
	}
	log := map[uint64][]byte{}
	for op := uint64(1); op <= head; op++ {
		log[op] = sideBody(move, op, 0)
		if err := x.append(op, log[op]); err != nil {
			return fmt.Sprintf("append of op %d: %v", op, err)
		}
	}
	name, offset, ok := x.entryPlace(f)
	if !ok {
		return fmt.Sprintf("op %d's entry not found in %s", f, name)
	}
	x.disk.CorruptSector(name, offset)
	x.disk.CorruptSector(recordPlace(f))
	rec, msg := x.reopen()
	if msg != "" {
		return msg
	}
	if !slices.Contains(rec.Faulty, f) {
		return fmt.Sprintf("entry and record damaged, not faulty after Open (faulty %v)", rec.Faulty)
	}
	for _, entry := range rec.Entries {
		if want, ok := log[entry.Op]; !ok || !bytes.Equal(entry.Body, want) {
			return fmt.Sprintf("Open returned op %d as %q, appended %q", entry.Op, entry.Body, want)
		}
	}
	if got := x.s.Head(); got != head {
		return fmt.Sprintf("head %d after Open, want %d (faulty %v)", got, head, rec.Faulty)
	}
	if !x.s.Rewritable(storage.Entry{Op: f, Body: log[f]}) {
		return "its acknowledged body, named by the next op's parent, is not Rewritable"
	}
	if err := x.append(f, log[f]); err != nil {
		return fmt.Sprintf("the repair's Append: %v", err)
	}
	if msg := x.readsBack(log, head); msg != "" {
		return "after the repair: " + msg
	}
	if _, msg := x.reopen(); msg != "" {
		return "after the repair: " + msg
	}
	if msg := x.readsBack(log, head); msg != "" {
		return "after the repair and a crash: " + msg
	}
	return ""
}

// scriptedMoves runs the episode's moves on fresh disks of their own (each gated by its own
// stream), after the last boot's recovery passed its check.
func (e *storeEpisode) scriptedMoves() {
	moves := append([]func(){e.maybeCheckBoundaryRepair, e.maybeCheckOwedCut, e.maybeCheckOlderPair, e.maybeCheckSyncedKnown},
		e.silentMoves()...)
	moves = append(moves, e.headRecordMoves()...)  // storage_episode_head_record.go
	moves = append(moves, e.segmentMoves()...)     // storage_episode_segment.go
	moves = append(moves, e.maybeCheckRewriteRoom) // storage_episode_rewrite_room.go
	for _, move := range moves {
		if e.failure != "" {
			return
		}
		move()
	}
}
