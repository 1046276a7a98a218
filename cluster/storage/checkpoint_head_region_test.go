package storage_test

import (
	"bytes"
	"slices"
	"testing"

	"vopr/cluster/storage"
)

// A peer's checkpoint installed again on a head whose entry is damaged (a fallback past it
// left the op faulty) must not let the append above it go past the damaged region: a dropped
// append that a read error hid there came back as the op once the new entry and its record
// rotted (storage crash seed 2056123453). The append gives the region up first, as a
// truncation after the checkpoint op does.
func TestAppendAboveADamagedCheckpointHeadGivesItsRegionUp(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		opts := distrustOptions
		const file = "log-0000000000000002" // ops 24-35
		record := func(op uint64) int64 { return int64(op%uint64(opts.SegmentEntriesMax)) * storage.SectorSize }
		s := staleAbove12(t, d, opts, 12)
		snapshot := []byte("a peer's state at 24")
		d.must(t, "InstallCheckpoint", func(done func(error)) { s.InstallCheckpoint(24, snapshot, done) })
		old25 := bytes.Repeat([]byte("old 25 "), 40)
		if err := d.append(t, s, 25, old25); err != nil {
			t.Fatalf("Append(25): %v", err)
		}
		header := func(off int64) int64 { return (off + 20) * 8 } // a read error hides the header too
		hidden := header(places(t, d)[25].offset)
		// The crash: op 25's record write lost, its entry hidden by a read error, and
		// checkpoint 24's file rots.
		raw := d.raw(file)
		clear(raw[record(25) : record(25)+storage.SectorSize])
		d.setRaw(file, raw)
		flipBit(d, file, hidden)
		flipBit(d, "checkpoint-0000000000000018", 10)
		d.restart()
		s, rec := d.mustOpen(t, opts)
		if rec.CheckpointDamaged != 24 || s.Head() != 24 || !slices.Equal(rec.Faulty, opsRange(13, 24)) {
			t.Fatalf("recovery: damaged %d, head %d, faulty %v: want the fallback to 12, op 25 dropped",
				rec.CheckpointDamaged, s.Head(), rec.Faulty)
		}
		flipBit(d, file, hidden) // the read error heals: the dropped append is whole again
		d.must(t, "InstallCheckpoint again", func(done func(error)) { s.InstallCheckpoint(24, snapshot, done) })
		new25 := bytes.Repeat([]byte("new 25 "), 20)
		if err := d.append(t, s, 25, new25); err != nil {
			t.Fatalf("Append(25) again: %v", err)
		}
		// The new entry and its record rot.
		at, ok := places(t, d)[25]
		if !ok {
			t.Fatal("the new op 25 is not on disk")
		}
		raw = d.raw(at.file)
		if h, _, err := storage.DecodeEntry(raw[at.offset:]); err != nil || !bytes.Equal(raw[at.offset+storage.HeaderSize:at.offset+storage.HeaderSize+int64(len(new25))], new25) {
			t.Fatalf("op 25's intact entry on disk is not the new one (%+v, %v)", h, err)
		}
		flipBit(d, at.file, header(at.offset))
		flipBit(d, file, record(25)*8+300)
		d.restart()
		s, rec = d.mustOpen(t, opts)
		for _, e := range rec.Entries {
			if e.Op == 25 && !bytes.Equal(e.Body, new25) {
				t.Fatalf("op 25 recovered with the dropped append's body %q", e.Body[:14])
			}
		}
		if !slices.Contains(rec.Faulty, 25) {
			t.Errorf("acknowledged op 25 not reported faulty: head %d, faulty %v", s.Head(), rec.Faulty)
		}
	})
}
