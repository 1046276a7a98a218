package storage_test

import (
	"bytes"
	"slices"
	"testing"

	"vopr/cluster/storage"
)

// TestCheckpointHeadCutsBelowDamagedOpsUnderIt builds storage crash seed 2047164003 in small:
// checkpoint 2 over ops 1-3 of segment 0, then a truncation after op 2 cut short by a crash
// (op 3's tombstone written, its entry not yet cut), with ops 1 and 2 damaged and op 3's
// entry hidden by a read error. Open drops op 3 (damaged, no record), and its head is the
// checkpoint op, damaged like the op below it: it must cut the segment where the damaged
// entries under the checkpoint begin. It cut at the end of their damaged region instead,
// past op 3's hidden entry, which no later truncation reached: once the read error healed,
// op 3 came back intact with its old body after being appended again and truncated.
func TestCheckpointHeadCutsBelowDamagedOpsUnderIt(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		opts := smallSegments
		s := fill(t, d, opts, 3)
		d.checkpoint(t, s, 2, []byte("state at 2"))
		const file = "log-0000000000000000"
		at := places(t, d)
		whole := d.raw(file)
		stale, err := d.read(t, s, 3)
		if err != nil {
			t.Fatalf("Read(3): %v", err)
		}
		d.must(t, "TruncateAfter(2)", func(done func(error)) { s.TruncateAfter(2, done) })
		raw := d.raw(file)
		rec := int64(3) * storage.SectorSize
		kept := slices.Clone(whole)
		copy(kept[rec:rec+storage.SectorSize], raw[rec:rec+storage.SectorSize]) // the tombstone, not the cut
		hidden := (at[3].offset + storage.HeaderSize + 8) * 8                   // a bit of op 3's body
		for _, bit := range []int64{(at[1].offset + storage.HeaderSize + 8) * 8, (at[2].offset + storage.HeaderSize + 8) * 8, hidden} {
			kept[bit/8] ^= 1 << (bit % 8)
		}
		d.setRaw(file, kept)
		d.restart()
		s, r := d.mustOpen(t, opts)
		if s.Head() != 2 || len(r.Faulty) != 0 {
			t.Fatalf("head %d, faulty %v: want op 3 dropped, the log ending at checkpoint 2", s.Head(), r.Faulty)
		}
		if size := int64(len(d.raw(file))); size > at[1].offset {
			t.Fatalf("%s ends at %d: want it cut at %d, where op 1's damaged entry began", file, size, at[1].offset)
		}
		if raw := d.raw(file); int64(len(raw)) > hidden/8 {
			raw[hidden/8] ^= 1 << (hidden % 8) // the read error heals, while the engine runs
			d.setRaw(file, raw)
		}
		if err := d.append(t, s, 3, bytes.Repeat([]byte("new3"), 300)); err != nil {
			t.Fatalf("Append(3): %v", err)
		}
		d.must(t, "TruncateAfter(2)", func(done func(error)) { s.TruncateAfter(2, done) })
		d.restart()
		s, r = d.mustOpen(t, opts)
		if s.Head() != 2 || slices.Contains(entriesOf(r), 3) {
			got, _ := d.read(t, s, 3)
			t.Fatalf("head %d, entries %v: op 3 came back after its truncation (old body: %v)", s.Head(), entriesOf(r),
				bytes.Equal(got, stale))
		}
	})
}
