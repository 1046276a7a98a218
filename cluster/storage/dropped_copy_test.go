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
// mark over op 7's record. An append of op 7 then loses
// its record write in a crash: the next Open finds the entry whole under the mark and drops
// it as unfinished. It must cut the file at that entry: left there, op 7 was appended again
// past it, and once the new entry and its record were both damaged, recovery took the stale
// one for op 7.
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
