package scenarios

import (
	"bytes"
	"fmt"
	"slices"

	"vopr/cluster/storage"
	"vopr/sim"
)

// A larger prepare over damaged entries of unknown identity. Append's contract for a damaged
// entry that nothing names (its record damaged too, and the next op's as well): it is written
// in place if it fits the damaged region, which runs to the next intact entry of its segment
// (the next op's bytes, of unknown identity too, included: rewritableUnknown, regionEnds), and
// the later ops stay; else the log is replaced from the op (a truncation first). Never over
// an intact entry above the region, which the engine still holds as the log's. The repairs
// the episode makes write the same prepare again, of the same size, so an engine that let a
// larger entry spill past the region (storage.rewrite_unknown_ignores_room: room checked
// from the offset only) was never caught.
//
// So at the end of a quarter of the episodes (their own stream, storage_episode/rewrite_room,
// so that every other draw of a seed stays), on a fresh disk of the episode's options: ops
// 1..head appended, ops k, k+1 and k+2 in one segment (k the first after the segment's
// record area), op k's entry (its first sector) unreadable or corrupt and its record
// corrupt, op k+1's entry and record unreadable (a read error that later clears); after a
// crash and Open, ops k and k+1 must be faulty; then a prepare for op k (a view change's
// other prepare: nothing names the entry there, so the engine cannot tell it from a repair)
// is appended, larger than the damaged region in two draws of three, within it in the
// third. If the engine wrote it in place (the head kept: the later ops the log's still), then
// once the read errors clear, op k+2's entry must still lie whole where it was, with the body
// it was appended with; if it replaced the log from op k, the ops above are given up.

// maybeCheckRewriteRoom runs the move (see above) in a quarter of the episodes.
func (e *storeEpisode) maybeCheckRewriteRoom() {
	rng := sim.Stream(e.seed, "storage_episode/rewrite_room")
	if rng.IntN(4) != 0 {
		return
	}
	per := uint64(storageEpisodeOptions.SegmentEntriesMax)
	k := per*rng.Uint64N(2) + 1 // k, k+1, k+2 in one segment
	p := rewriteRoomPlan{k: k, head: k + 2 + rng.Uint64N(3), above: 1 + rng.IntN(3), grow: rng.IntN(3),
		fits: rng.IntN(3) == 0, rot: rng.IntN(2) == 0}
	written, msg := checkRewriteRoom(e.seed, p)
	if msg != "" {
		e.fail("%v: %s", p, msg)
		return
	}
	e.counters["coverage.storage_episode.rewrite_room"]++
	if written {
		e.counters["storage_episode.rewrite_room_written"]++
	}
}

// rewriteRoomPlan is one draw of the move.
type rewriteRoomPlan struct {
	k, head uint64
	above   int  // op k+1's body: 20 times this many copies of a small one (two sectors or more)
	grow    int  // the larger prepare's entry: this many sectors more than one past the region
	fits    bool // the prepare fits the region instead
	rot     bool // op k's entry corrupt rather than unreadable
	// spill is a test's knob: once the prepare is written, op k+2's first sector is
	// overwritten, as an engine that wrote the prepare past op k's region left it.
	spill bool
}

func (p rewriteRoomPlan) String() string {
	return fmt.Sprintf("ops 1..%d, ops %d and %d of unknown identity (%d's entry rotten %v, %d's hidden), a prepare for %d (fits the region %v, grow %d)",
		p.head, p.k, p.k+1, p.k, p.rot, p.k+1, p.k, p.fits, p.grow)
}

// checkRewriteRoom runs the move; written tells whether the engine took the prepare in place.
func checkRewriteRoom(seed uint64, p rewriteRoomPlan) (bool, string) {
	const move = "rewrite_room"
	x, msg := newSideEngine(seed, move)
	if msg != "" {
		return false, msg
	}
	log := map[uint64][]byte{}
	for op := uint64(1); op <= p.head; op++ {
		log[op] = sideBody(move, op, 0)
		if op == p.k+1 {
			log[op] = bytes.Repeat(log[op], 20*p.above)
		}
		if err := x.append(op, log[op]); err != nil {
			return false, fmt.Sprintf("append of op %d: %v", op, err)
		}
	}
	name, at, ok := x.entryPlace(p.k)
	nameAbove, atAbove, okAbove := x.entryPlace(p.k + 1)
	nameTop, atTop, okTop := x.entryPlace(p.k + 2)
	if !ok || !okAbove || !okTop || name != nameAbove || name != nameTop {
		return false, fmt.Sprintf("ops %d to %d not placed in one segment file", p.k, p.k+2)
	}
	if p.rot {
		x.disk.CorruptSector(name, at)
	} else {
		x.disk.LatentSectorError(name, at)
	}
	recName, recAt := recordPlace(p.k)
	x.disk.CorruptSector(recName, recAt)
	recNameAbove, recAtAbove := recordPlace(p.k + 1)
	x.hideEntryAndRecord(name, atAbove, recNameAbove, recAtAbove, false)
	rec, msg := x.reopen()
	if msg != "" {
		return false, msg
	}
	if !slices.Contains(rec.Faulty, p.k) || !slices.Contains(rec.Faulty, p.k+1) {
		return false, fmt.Sprintf("ops %d and %d not both faulty after the Open (faulty %v)", p.k, p.k+1, rec.Faulty)
	}
	// The region runs from op k's entry to op k+2's; the prepare's entry is a header, the
	// body and padding to a whole sector.
	region := atTop - at
	size := region - storage.HeaderSize + 1 + int64(p.grow)*storage.SectorSize
	if p.fits {
		size = region - storage.HeaderSize - int64(p.grow)*storage.SectorSize
	}
	larger := bytes.Repeat([]byte{byte(p.k) | 1}, int(size))
	copy(larger, sideBody(move, p.k, 1))
	if err := x.append(p.k, larger); err != nil {
		return false, fmt.Sprintf("the prepare for op %d: %v", p.k, err)
	}
	// Written in place, the later ops kept; or the log replaced from op k (a truncation first):
	// the ops above are given up, and nothing is owed of them.
	if x.s.Head() <= p.k {
		if !p.fits {
			return false, ""
		}
		return false, fmt.Sprintf("the prepare for op %d fits its damaged region, yet the log was replaced from it (head %d)", p.k, x.s.Head())
	}
	if p.spill {
		if err := x.wait(func(done func(error)) {
			x.disk.WriteAt(name, make([]byte, storage.SectorSize), atTop, done)
		}); err != nil {
			return true, fmt.Sprintf("the test's spill: %v", err)
		}
	}
	if !p.rot {
		x.disk.HealLatent(name, at)
	}
	x.disk.HealLatent(name, atAbove)
	x.disk.HealLatent(recNameAbove, recAtAbove)
	found := false
	if b, err := x.disk.Visible(name, atTop, storage.SectorSize); err == nil {
		if h, err := storage.DecodeHeader(b); err == nil && h.Op == p.k+2 && h.Offset == atTop {
			whole, err := x.disk.Visible(name, atTop, h.Size())
			_, body, derr := storage.DecodeEntry(whole)
			found = err == nil && derr == nil && bytes.Equal(body, log[p.k+2])
		}
	}
	if !found {
		return true, fmt.Sprintf("op %d's intact entry no longer lies whole at %s offset %d, though the prepare for op %d "+
			"(a %d-byte body over a damaged region of %d bytes) was written in place (head %d kept): the rewrite went past the region",
			p.k+2, name, atTop, p.k, len(larger), region, x.s.Head())
	}
	return true, ""
}
