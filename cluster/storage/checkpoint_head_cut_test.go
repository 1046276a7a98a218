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
		if size := int64(len(d.raw(file))); size > at[3].offset {
			t.Fatalf("%s ends at %d: want it cut at %d at the latest, where op 3's hidden entry began", file, size, at[3].offset)
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

// TestCheckpointHeadKeepsRecoverableEntriesBelow (found in review): the entries given up
// under a damaged checkpoint head stop at one an intact record names. Op 3 below checkpoint 4
// has its recorded entry whole and a torn copy of a rewrite past the log, so it does not read
// intact now; a fallback from checkpoint 4 (rotted) to 1 recovers it whole from the entry its
// record names. Given up with its record, it came back faulty.
func TestCheckpointHeadKeepsRecoverableEntriesBelow(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		opts := storage.Options{SegmentEntriesMax: 8, EntryBodyMax: 4096}
		s := fill(t, d, opts, 4)
		d.checkpoint(t, s, 1, []byte("state at 1"))
		d.checkpoint(t, s, 4, []byte("state at 4"))
		const file = "log-0000000000000000"
		at := places(t, d)
		raw := d.raw(file)
		h, _, err := storage.DecodeEntry(raw[at[3].offset:])
		if err != nil {
			t.Fatal(err)
		}
		torn := storage.EncodeEntry(testState.Cluster, 3, int64(len(raw)), h.Parent, []byte("a rewrite of op 3 cut short"))
		torn[storage.HeaderSize+8] ^= 1
		raw = append(raw, torn...)
		raw[at[4].offset+storage.HeaderSize+8] ^= 1 // checkpoint op 4's entry damaged
		d.setRaw(file, raw)
		d.restart()
		s, r := d.mustOpen(t, opts)
		t.Logf("Open 1: head %d, faulty %v, %s %d bytes (op 3 at [%d,%d))", s.Head(), r.Faulty, file,
			len(d.raw(file)), at[3].offset, at[3].offset+at[3].size)
		flipBit(d, "checkpoint-0000000000000004", 10)
		d.restart()
		s, r = d.mustOpen(t, opts)
		t.Logf("Open 2: checkpoint %d (damaged %d), head %d, entries %v, faulty %v", r.State.CheckpointOp,
			r.CheckpointDamaged, s.Head(), entriesOf(r), r.Faulty)
		if r.State.CheckpointOp != 1 || !slices.Contains(entriesOf(r), 3) {
			t.Errorf("after the fallback to checkpoint 1: entries %v, faulty %v: want op 3 intact", entriesOf(r), r.Faulty)
		}
	})
}

// TestHeadRepairStaysOutOfTheCheckpointRecordsClaim builds storage crash seed 48412 in small:
// checkpoint op 12's entry unrecognisable (its header overwritten) but its record intact, and
// op 13 above it, its entry and record damaged, repaired as the head (an Append, as a replica
// writes it). The index starts above op 12, so the repair went to the segment's record area,
// inside the extent op 12's record still claims; when op 13's new entry and record were both
// unreadable, recovery found no room for op 13 and dropped it, acknowledged.
func TestHeadRepairStaysOutOfTheCheckpointRecordsClaim(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		opts := smallSegments
		s := fill(t, d, opts, 13)
		d.checkpoint(t, s, 12, []byte("state at 12"))
		const file = "log-0000000000000003"
		at := places(t, d)
		raw := d.raw(file)
		raw[at[12].offset+8] ^= 1          // op 12's header
		raw[at[13].offset+8] ^= 1          // op 13's header
		raw[1*storage.SectorSize+100] ^= 1 // and op 13's record
		d.setRaw(file, raw)
		d.restart()
		s, r := d.mustOpen(t, opts)
		if s.Head() != 13 || !slices.Equal(r.Faulty, []uint64{13}) {
			t.Fatalf("head %d, faulty %v: want op 13 faulty at the head", s.Head(), r.Faulty)
		}
		if err := d.append(t, s, 13, body(13)); err != nil {
			t.Fatalf("Append(13), the head's repair: %v", err)
		}
		now := places(t, d)[13]
		if claim := at[12].offset + at[12].size; now.offset < claim {
			t.Fatalf("op 13 repaired at %d, inside [%d,%d), which op 12's record claims", now.offset, at[12].offset, claim)
		}
		raw = d.raw(file)
		raw[now.offset+8] ^= 1             // the repaired entry rots
		raw[1*storage.SectorSize+100] ^= 1 // and its record
		d.setRaw(file, raw)
		d.restart()
		s, r = d.mustOpen(t, opts)
		if s.Head() != 13 || !slices.Contains(r.Faulty, 13) {
			t.Fatalf("head %d, faulty %v: op 13, acknowledged, must stay faulty, not be dropped", s.Head(), r.Faulty)
		}
	})
}
