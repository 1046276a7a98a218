package storage_test

import (
	"bytes"
	"slices"
	"testing"

	"vopr/cluster/storage"
)

// TestDroppedAppendIsCutBelowTheNextAppend builds storage crash seed 2045073453 in small. A
// peer's checkpoint 6 is installed over a log that ends at op 4 (segment 1 holds ops 4-7), so
// the checkpoint op's region in segment 1 runs from op 4's end to the end of the file, and
// the Open after it (a crash kept the segment the install was removing) writes a distrust
// mark over op 7's record. An append of op 7 then loses its record write in a crash: the
// next Open finds the entry whole under the mark and drops it as unfinished. It must cut the
// file at that entry or below (the checkpoint op's region given up: checkpoint_region.go):
// left there, op 7 was appended again past it, and once the new entry and its record were
// both damaged, recovery took the stale one for op 7.
func TestDroppedAppendIsCutBelowTheNextAppend(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		opts := storage.Options{SegmentEntriesMax: 4, EntryBodyMax: 4096, RecordPrefix: 16, ReplayOpsMax: 64}
		s := fill(t, d, opts, 4)
		const file = "log-0000000000000001"
		kept := d.raw(file)
		d.must(t, "InstallCheckpoint", func(done func(error)) { s.InstallCheckpoint(6, []byte("a peer's state at 6"), done) })
		d.setRaw(file, kept) // a crash before the install removed the segment
		d.restart()
		s, _ = d.mustOpen(t, opts) // the distrust mark over op 7's record
		rec := int64(7%uint64(opts.SegmentEntriesMax)) * storage.SectorSize
		mark := slices.Clone(d.raw(file)[rec : rec+storage.SectorSize])
		stale := bytes.Repeat([]byte("old7"), 100)
		if err := d.append(t, s, 7, stale); err != nil {
			t.Fatalf("Append(7): %v", err)
		}
		old := places(t, d)[7]
		raw := d.raw(file)
		copy(raw[rec:], mark) // the crash lost the record write
		d.setRaw(file, raw)
		d.restart()
		s, r := d.mustOpen(t, opts)
		if s.Head() != 6 || len(r.Faulty) != 0 {
			t.Fatalf("head %d, faulty %v: want op 7 dropped as unfinished", s.Head(), r.Faulty)
		}
		if size := int64(len(d.raw(file))); size > old.offset {
			t.Fatalf("%s ends at %d: want it cut at %d, where the dropped op 7 starts", file, size, old.offset)
		}
		if err := d.append(t, s, 7, bytes.Repeat([]byte("new7"), 200)); err != nil {
			t.Fatalf("Append(7) again: %v", err)
		}
		now := places(t, d)[7]
		raw = d.raw(file)
		clear(raw[now.offset : now.offset+storage.SectorSize]) // the new entry's header
		clear(raw[rec : rec+storage.SectorSize])               // and its record
		d.setRaw(file, raw)
		d.restart()
		s, r = d.mustOpen(t, opts)
		for _, e := range r.Entries {
			if e.Op == 7 && bytes.Equal(e.Body, stale) {
				t.Fatalf("op 7 recovered intact with the dropped append's body (faulty %v)", r.Faulty)
			}
		}
		if got, err := d.read(t, s, 7); err == nil && bytes.Equal(got, stale) {
			t.Fatal("op 7 reads as the dropped append's body")
		}
	})
}

// TestTruncationAfterADamagedCheckpointOpCutsBelowIt (from the review of an earlier fix that
// ended a region at a dropped op's entry): op 3, faulty of unknown identity above damaged
// checkpoint op 2, hides an older entry of op 4 behind a read error. Truncated after op 2 and
// appended again, op 3 went past op 4's stale entry, which the cut at the end of op 2's
// damaged region left in the file; at the next Open op 4 read whole under its distrust mark
// and was dropped, and a cut at its entry took op 3's acknowledged entry with it. A
// truncation after a damaged checkpoint op now gives up its entry and cuts below op 4's
// stale one; op 3 must survive either way.
func TestTruncationAfterADamagedCheckpointOpCutsBelowIt(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		opts := storage.Options{SegmentEntriesMax: 8, EntryBodyMax: 4096}
		s := fill(t, d, opts, 4)
		d.checkpoint(t, s, 2, []byte("state at 2"))
		const file = "log-0000000000000000"
		at := places(t, d)
		whole := d.raw(file)
		d.must(t, "TruncateAfter(3)", func(done func(error)) { s.TruncateAfter(3, done) })
		raw := d.raw(file)
		kept := slices.Clone(whole)
		copy(kept[4*storage.SectorSize:5*storage.SectorSize], raw[4*storage.SectorSize:5*storage.SectorSize]) // op 4's tombstone, not the cut
		bodyBit := func(off int64) int64 { return (off + storage.HeaderSize + 8) * 8 }
		stale4 := bodyBit(at[4].offset)
		for _, bit := range []int64{
			bodyBit(at[2].offset),        // checkpoint op 2's entry damaged
			(at[3].offset + 20) * 8,      // op 3's header
			3*storage.SectorSize*8 + 300, // and its record
			stale4,                       // op 4's entry hidden by a read error
		} {
			kept[bit/8] ^= 1 << (bit % 8)
		}
		d.setRaw(file, kept)
		d.restart()
		s, r := d.mustOpen(t, opts) // Open A
		if s.Head() != 3 || !slices.Equal(r.Faulty, []uint64{3}) {
			t.Fatalf("Open A: head %d, faulty %v: want head 3 faulty", s.Head(), r.Faulty)
		}
		flipBit(d, file, stale4) // the read error heals
		d.must(t, "TruncateAfter(2)", func(done func(error)) { s.TruncateAfter(2, done) })
		new3 := bytes.Repeat([]byte("new3"), 100)
		if err := d.append(t, s, 3, new3); err != nil {
			t.Fatalf("Append(3): %v", err)
		}
		if p, ok := places(t, d)[4]; ok {
			t.Fatalf("op 4's stale entry at %d outlived the truncation after checkpoint op 2", p.offset)
		}
		y := places(t, d)[3]
		hidden := bodyBit(y.offset)
		flipBit(d, file, hidden)                     // a read error on op 3's entry
		flipBit(d, file, 3*storage.SectorSize*8+300) // and op 3's record rots
		d.restart()
		s, r = d.mustOpen(t, opts) // Open B
		if size := int64(len(d.raw(file))); size < y.offset+y.size {
			t.Errorf("Open B cut %s at %d, into acknowledged op 3's entry at [%d,%d)", file, size, y.offset, y.offset+y.size)
		}
		if raw := d.raw(file); int64(len(raw)) > hidden/8 {
			flipBit(d, file, hidden) // the read error heals
		}
		d.restart()
		s, r = d.mustOpen(t, opts) // Open C
		if got, err := d.read(t, s, 3); err != nil || !bytes.Equal(got, new3) {
			t.Errorf("Open C: Read(3): %v (faulty %v): want op 3's own entry back", err, r.Faulty)
		}
	})
}
