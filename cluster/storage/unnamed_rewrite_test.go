package storage_test

import (
	"bytes"
	"slices"
	"testing"

	"vopr/cluster/storage"
)

// TestUnnamedRewriteInPlaceKeepsItsRecordNewer: ops 3 and 4 (one segment) lost their identity
// at a boot (entries and records unreadable), so a view change's other prepare for op 3 is
// written in place, cutting nothing, its entry write lost while its record lands. Once the
// read errors clear, op 3's older entry is intact under the newer record and op 4's entry
// chains onto it: recovery took the record for stale (staleRecord, as if op 3 had been
// appended again and op 4 after it) and gave op 3 back as the older prepare, though the
// newer one was acknowledged (h109's storage episode, segment record move inside a segment).
// The rewrite first marks op 4 faulty (markNextFaulty): op 3 is faulty, named by its newer
// record, op 4 faulty until written again, and nothing is lost.
func TestUnnamedRewriteInPlaceKeepsItsRecordNewer(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		s := fill(t, d, recordOptions, 6)
		where := places(t, d)
		name := where[3].file
		if where[4].file != name {
			t.Fatalf("ops 3 and 4 in %s and %s: want one segment", name, where[4].file)
		}
		orig := bytes.Clone(d.raw(name))
		rec3, off3 := recordSector(3)
		rec4, off4 := recordSector(4)
		scribble(d, name, where[3].offset, storage.SectorSize)
		scribble(d, name, where[4].offset, storage.SectorSize)
		scribble(d, rec3, off3, storage.SectorSize)
		scribble(d, rec4, off4, storage.SectorSize)
		scribbled := bytes.Clone(d.raw(rec4)[off4 : off4+storage.SectorSize])
		d.restart()
		s, rec := d.mustOpen(t, recordOptions)
		if s.Head() != 6 || !slices.Equal(rec.Faulty, []uint64{3, 4}) {
			t.Fatalf("head %d, faulty %v: want ops 3 and 4 faulty of unknown identity", s.Head(), rec.Faulty)
		}
		newer := []byte("view 5's prepare of op 3, not view 3's")
		if err := d.append(t, s, 3, newer); err != nil {
			t.Fatalf("Append(3): %v", err)
		}
		d.restart()
		// The entry write of op 3 was lost (its old bytes stay), its record landed; the read
		// errors over op 3's and op 4's entries and op 4's record clear (a sector the engine
		// wrote since holds what it wrote).
		b := d.raw(name)
		if p := places(t, d)[3]; p.offset != where[3].offset {
			t.Fatalf("op 3 rewritten at %d, want in place at %d", p.offset, where[3].offset)
		}
		copy(b[where[3].offset:where[3].offset+where[3].size], orig[where[3].offset:])
		copy(b[where[4].offset:where[4].offset+where[4].size], orig[where[4].offset:])
		if bytes.Equal(b[off4:off4+storage.SectorSize], scribbled) {
			copy(b[off4:off4+storage.SectorSize], orig[off4:])
		}
		d.setRaw(name, b)
		d.restart()
		s, rec = d.mustOpen(t, recordOptions)
		got := map[uint64][]byte{}
		for _, e := range rec.Entries {
			got[e.Op] = e.Body
		}
		if b, ok := got[3]; ok && !bytes.Equal(b, newer) {
			t.Fatalf("op 3 recovered as %.24q (faulty %v), acknowledged %q: the newer record taken for stale", b, rec.Faulty, newer)
		}
		for op := uint64(1); op <= 6; op++ {
			b, ok := got[op]
			switch {
			case !ok && !slices.Contains(rec.Faulty, op):
				t.Fatalf("op %d lost (entries %v, faulty %v, head %d)", op, entriesOf(rec), rec.Faulty, s.Head())
			case ok && op != 3 && !bytes.Equal(b, body(op)):
				t.Fatalf("op %d recovered as another body", op)
			}
		}
		if _, ok := got[3]; !ok && !bytes.Equal(rec.FaultyPrefix[3], newer[:16]) {
			t.Fatalf("op 3 faulty with prefix %q, want the newer record's %q", rec.FaultyPrefix[3], newer[:16])
		}
		// The repair: op 3's acknowledged prepare in place, under its record. (Ops 4 to 6
		// chain onto the older op 3: the replica writes them again, truncating.)
		if !s.Rewritable(storage.Entry{Op: 3, Body: newer}) {
			t.Fatalf("op 3's acknowledged prepare is not Rewritable (faulty %v)", rec.Faulty)
		}
		if err := d.append(t, s, 3, newer); err != nil {
			t.Fatalf("repair of op 3: %v", err)
		}
		d.restart()
		s, rec = d.mustOpen(t, recordOptions)
		if s.Head() != 6 || len(rec.Entries) < 3 || !slices.Equal(entriesOf(rec)[:3], opsRange(1, 3)) ||
			!bytes.Equal(rec.Entries[2].Body, newer) {
			t.Fatalf("after the repair: head %d, faulty %v, entries %v", s.Head(), rec.Faulty, entriesOf(rec))
		}
	})
}
