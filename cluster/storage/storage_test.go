package storage_test

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"

	"vopr/cluster/storage"
)

var smallSegments = storage.Options{SegmentEntriesMax: 4, EntryBodyMax: 4096}

// TestRoundTrip: what was appended is what Open recovers and Read returns, across segments.
func TestRoundTrip(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		d.format(t, smallSegments, testState)
		s, rec := d.mustOpen(t, smallSegments)
		if len(rec.Entries) != 0 || len(rec.Faulty) != 0 || rec.State != testState || rec.Snapshot != nil {
			t.Fatalf("fresh recovery %+v", rec)
		}
		for op := uint64(1); op <= 13; op++ {
			if err := d.append(t, s, op, body(op)); err != nil {
				t.Fatal(err)
			}
		}
		if s.Head() != 13 || len(segments(d)) != 4 {
			t.Fatalf("head %d, segments %v", s.Head(), segments(d))
		}
		for op := uint64(1); op <= 13; op++ {
			if b, err := d.read(t, s, op); err != nil || !bytes.Equal(b, body(op)) {
				t.Fatalf("Read(%d): %v", op, err)
			}
		}
		d.restart()
		s, rec = d.mustOpen(t, smallSegments)
		if !slices.Equal(entriesOf(rec), opsRange(1, 13)) || len(rec.Faulty) != 0 {
			t.Fatalf("recovered %v, faulty %v", entriesOf(rec), rec.Faulty)
		}
		for _, e := range rec.Entries {
			if !bytes.Equal(e.Body, body(e.Op)) {
				t.Fatalf("op %d body differs", e.Op)
			}
		}
		if r := d.verify(t, s); !r.OK || r.Entries != 13 {
			t.Fatalf("Verify: %+v", r)
		}
	})
}

func TestReadErrors(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		s := fill(t, d, smallSegments, 3)
		if _, err := d.read(t, s, 4); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("Read past the head: %v", err)
		}
		if _, err := d.read(t, s, 0); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("Read(0): %v", err)
		}
		p := places(t, d)[2]
		flipBit(d, p.file, (p.offset+storage.HeaderSize)*8+3)
		if _, err := d.read(t, s, 2); !errors.Is(err, storage.ErrCorrupt) {
			t.Fatalf("Read of a corrupted entry: %v", err)
		}
		big := make([]byte, smallSegments.EntryBodyMax+1)
		if err := d.append(t, s, 4, big); !errors.Is(err, storage.ErrTooLarge) {
			t.Fatalf("Append of a large body: %v", err)
		}
	})
}

// TestTruncateRecovery: truncation is durable, and a replacing append drops the suffix.
func TestTruncateRecovery(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		s := fill(t, d, smallSegments, 10)
		d.must(t, "TruncateAfter", func(done func(error)) { s.TruncateAfter(5, done) })
		d.must(t, "TruncateAfter above the head", func(done func(error)) { s.TruncateAfter(7, done) })
		if s.Head() != 5 {
			t.Fatalf("head %d", s.Head())
		}
		d.restart()
		s, rec := d.mustOpen(t, smallSegments)
		if !slices.Equal(entriesOf(rec), opsRange(1, 5)) || len(rec.Faulty) != 0 {
			t.Fatalf("recovered %v, faulty %v", entriesOf(rec), rec.Faulty)
		}
		if len(segments(d)) != 2 {
			t.Fatalf("segments after truncation: %v", segments(d))
		}
		// A new view's op 3 replaces ops 3..5.
		if err := d.append(t, s, 3, []byte("new op 3")); err != nil {
			t.Fatal(err)
		}
		if err := d.append(t, s, 4, []byte("new op 4")); err != nil {
			t.Fatal(err)
		}
		d.restart()
		_, rec = d.mustOpen(t, smallSegments)
		if !slices.Equal(entriesOf(rec), opsRange(1, 4)) || string(rec.Entries[2].Body) != "new op 3" {
			t.Fatalf("recovered %v", entriesOf(rec))
		}
	})
}

// TestTruncateToSegmentBoundary removes whole segments.
func TestTruncateToSegmentBoundary(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		s := fill(t, d, smallSegments, 9)
		d.must(t, "TruncateAfter", func(done func(error)) { s.TruncateAfter(3, done) })
		if got := segments(d); len(got) != 1 {
			t.Fatalf("segments %v", got)
		}
		if err := d.append(t, s, 4, body(4)); err != nil {
			t.Fatal(err)
		}
		d.restart()
		_, rec := d.mustOpen(t, smallSegments)
		if !slices.Equal(entriesOf(rec), opsRange(1, 4)) {
			t.Fatalf("recovered %v", entriesOf(rec))
		}
	})
}

// TestDamagedEntry: a flipped bit in an entry's header or body, a lost sector, or a torn tail
// make exactly that op faulty; every other entry is recovered.
func TestDamagedEntry(t *testing.T) {
	opts := storage.Options{SegmentEntriesMax: 64, EntryBodyMax: 4096}
	cases := []struct {
		name   string
		damage func(d *disk, p place, b []byte) []byte
	}{
		{"header bit", func(d *disk, p place, b []byte) []byte {
			b[p.offset+40] ^= 0x10
			return b
		}},
		{"body bit", func(d *disk, p place, b []byte) []byte {
			b[p.offset+p.size-1] ^= 0x01
			return b
		}},
		{"lost header sector", func(d *disk, p place, b []byte) []byte {
			clear(b[p.offset : p.offset+storage.SectorSize])
			return b
		}},
		{"torn last sector", func(d *disk, p place, b []byte) []byte {
			return b[:p.offset+p.size-storage.SectorSize]
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			eachDisk(t, func(t *testing.T, d *disk) {
				const n, victim = 7, 5 // both entries span two sectors
				fill(t, d, opts, n)
				p := places(t, d)[victim]
				if tc.name == "torn last sector" {
					p = places(t, d)[n]
				}
				d.setRaw(p.file, tc.damage(d, p, d.raw(p.file)))
				d.restart()
				s, rec := d.mustOpen(t, opts)
				want := uint64(victim)
				if tc.name == "torn last sector" {
					want = n
				}
				if !slices.Equal(rec.Faulty, []uint64{want}) ||
					!slices.Equal(entriesOf(rec), opsRange(1, n, want)) {
					t.Fatalf("faulty %v, entries %v", rec.Faulty, entriesOf(rec))
				}
				if s.Head() != n {
					t.Fatalf("head %d", s.Head())
				}
				if r := d.verify(t, s); r.OK || !slices.Equal(r.Faulty, []uint64{want}) {
					t.Fatalf("Verify: %+v", r)
				}
				repair(t, d, s, opts, want, n)
			})
		})
	}
}

// repair appends the faulty op again (a view change's replacement) and the ops after it.
func repair(t *testing.T, d *disk, s *storage.Storage, opts storage.Options, from, n uint64) {
	t.Helper()
	if err := d.append(t, s, from+1, body(from+1)); !errors.Is(err, storage.ErrFaulty) {
		t.Fatalf("append after a faulty op: %v", err)
	}
	for op := from; op <= n; op++ {
		if err := d.append(t, s, op, body(op)); err != nil {
			t.Fatalf("repair append %d: %v", op, err)
		}
	}
	d.restart()
	s, rec := d.mustOpen(t, opts)
	if len(rec.Faulty) != 0 || !slices.Equal(entriesOf(rec), opsRange(1, n)) {
		t.Fatalf("after repair: faulty %v, entries %v", rec.Faulty, entriesOf(rec))
	}
	if r := d.verify(t, s); !r.OK {
		t.Fatalf("Verify after repair: %v", r.Problems)
	}
}

// TestMisdirectedWrite: an entry's bytes written at another entry's offset (same segment or
// another) are detected: the overwritten op is faulty, the copy is not taken for it.
func TestMisdirectedWrite(t *testing.T) {
	opts := storage.Options{SegmentEntriesMax: 4, EntryBodyMax: 4096}
	eachDisk(t, func(t *testing.T, d *disk) {
		sectors := func(op uint64) int { return (storage.HeaderSize + len(body(op)) + 511) / 512 }
		equal := func(a, b uint64) bool { return sectors(a) == sectors(b) }
		var pairs [][2]uint64 // (source, target) pairs with equal sizes
		for a := uint64(1); a <= 12; a++ {
			for b := uint64(1); b <= 12; b++ {
				if a != b && equal(a, b) {
					pairs = append(pairs, [2]uint64{a, b})
				}
			}
		}
		if len(pairs) == 0 {
			t.Fatal("no two entries of equal size")
		}
		fill(t, d, opts, 12)
		for _, pair := range pairs[:min(3, len(pairs))] {
			all := places(t, d)
			src, dst := all[pair[0]], all[pair[1]]
			original := d.raw(dst.file)
			target := append([]byte{}, original...)
			copy(target[dst.offset:], d.raw(src.file)[src.offset:src.offset+src.size])
			d.setRaw(dst.file, target)
			d.restart()
			s, rec := d.mustOpen(t, opts)
			if !slices.Equal(rec.Faulty, []uint64{pair[1]}) {
				t.Fatalf("copy of %d onto %d: faulty %v", pair[0], pair[1], rec.Faulty)
			}
			if r := d.verify(t, s); r.OK {
				t.Fatal("Verify missed a misdirected write")
			}
			d.setRaw(dst.file, original)
			d.restart()
		}
	})
}

// TestSuperblock: the newest intact copy wins; damage to the newest pair falls back to the
// previous state, never to nothing.
func TestSuperblock(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		d.format(t, smallSegments, testState)
		s, _ := d.mustOpen(t, smallSegments)
		v2, v3 := testState, testState
		v2.View, v2.LogView, v2.Commit = 2, 2, 0
		v3.View, v3.LogView, v3.Commit = 3, 2, 0
		d.must(t, "SaveState", func(done func(error)) { s.SaveState(v2, done) })
		d.must(t, "SaveState", func(done func(error)) { s.SaveState(v3, done) })
		if s.State() != v3 {
			t.Fatalf("State %+v", s.State())
		}
		sb := d.raw("superblock")
		newest := newestPair(t, sb)
		check := func(name string, mutate func([]byte), want storage.State) {
			t.Helper()
			b := append([]byte{}, sb...)
			mutate(b)
			d.setRaw("superblock", b)
			d.restart()
			_, rec := d.mustOpen(t, smallSegments)
			if rec.State != want {
				t.Fatalf("%s: recovered view %d, want %d", name, rec.State.View, want.View)
			}
		}
		check("intact", func([]byte) {}, v3)
		check("one newest copy corrupt", func(b []byte) { b[newest*1024+100] ^= 1 }, v3)
		check("newest pair corrupt", func(b []byte) {
			b[newest*1024+100] ^= 1
			b[newest*1024+512+100] ^= 1
		}, v2)
		check("newest pair torn (zeros)", func(b []byte) {
			clear(b[newest*1024 : newest*1024+1024])
		}, v2)
		check("older pair corrupt", func(b []byte) { clear(b[(1-newest)*1024 : (1-newest)*1024+1024]) }, v3)
		d.setRaw("superblock", make([]byte, 2048))
		d.restart()
		if _, _, err := d.open(t, smallSegments); !errors.Is(err, storage.ErrCorrupt) {
			t.Fatalf("Open with no intact copy: %v", err)
		}
	})
}

// newestPair finds the pair holding the highest sequence number (bytes 24..32 of a copy).
func newestPair(t *testing.T, sb []byte) int {
	seq := func(i int) uint64 {
		var v uint64
		for j := 7; j >= 0; j-- {
			v = v<<8 | uint64(sb[i*512+24+j])
		}
		return v
	}
	if seq(0) > seq(2) {
		return 0
	}
	return 1
}

func TestFormatAndOptions(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		if _, _, err := d.open(t, smallSegments); !errors.Is(err, storage.ErrNotFormatted) {
			t.Fatalf("Open of an empty disk: %v", err)
		}
		bad := testState
		bad.CheckpointOp = 3
		if err := d.do(t, func(done func(error)) { storage.Format(d.fs, smallSegments, bad, done) }); !errors.Is(err, storage.ErrOptions) {
			t.Fatalf("Format with a checkpoint: %v", err)
		}
		if err := d.do(t, func(done func(error)) {
			storage.Format(d.fs, storage.Options{SegmentEntriesMax: -1}, testState, done)
		}); !errors.Is(err, storage.ErrOptions) {
			t.Fatalf("Format with bad options: %v", err)
		}
		d.format(t, smallSegments, testState)
		if err := d.do(t, func(done func(error)) { storage.Format(d.fs, smallSegments, testState, done) }); !errors.Is(err, storage.ErrFormatted) {
			t.Fatalf("second Format: %v", err)
		}
		if _, _, err := d.open(t, storage.Options{SegmentEntriesMax: 8, EntryBodyMax: 4096}); !errors.Is(err, storage.ErrOptions) {
			t.Fatalf("Open with other options: %v", err)
		}
	})
}

// TestCheckpointAndCompact: the checkpoint survives a restart, compaction removes only the
// segments wholly below it, and the chain continues across it.
func TestCheckpointAndCompact(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		s := fill(t, d, smallSegments, 10)
		d.checkpoint(t, s, 9, []byte("state at 9"))
		if got := segments(d); len(got) != 3 {
			t.Fatalf("segments before Compact: %v", got)
		}
		compactable := s.CompactableBytes()
		if freed := d.compact(t, s); freed <= 0 || freed != compactable {
			t.Fatalf("Compact freed %d, CompactableBytes said %d", freed, compactable)
		}
		if left := s.CompactableBytes(); left != 0 {
			t.Fatalf("CompactableBytes after Compact: %d", left)
		}
		if got := segments(d); len(got) != 1 { // ops 8..11 stay: op 10 is above the checkpoint
			t.Fatalf("segments after Compact: %v", got)
		}
		for op := uint64(11); op <= 14; op++ {
			if err := d.append(t, s, op, body(op)); err != nil {
				t.Fatal(err)
			}
		}
		_, head := s.AuditHead()
		d.restart()
		s, rec := d.mustOpen(t, smallSegments)
		if rec.State.CheckpointOp != 9 || string(rec.Snapshot) != "state at 9" ||
			!slices.Equal(entriesOf(rec), opsRange(10, 14)) || len(rec.Faulty) != 0 {
			t.Fatalf("recovery: cp %d, entries %v, faulty %v", rec.State.CheckpointOp,
				entriesOf(rec), rec.Faulty)
		}
		if op, h := s.AuditHead(); op != 9 || h != head || rec.State.AuditHead != head {
			t.Fatal("audit head at the checkpoint not recovered")
		}
		if _, err := d.read(t, s, 8); err != nil {
			t.Fatalf("an op below the checkpoint still on disk: %v", err)
		}
		if r := d.verify(t, s); !r.OK {
			t.Fatalf("Verify: %v", r.Problems)
		}
		// A second checkpoint keeps the first file while the other superblock pair names it;
		// a third removes it.
		d.checkpoint(t, s, 13, []byte("state at 13"))
		if names := d.names(); !slices.Contains(names, "checkpoint-0000000000000009") ||
			!slices.Contains(names, "checkpoint-000000000000000d") {
			t.Fatalf("files %v", names)
		}
		d.checkpoint(t, s, 14, []byte("state at 14"))
		if names := d.names(); slices.Contains(names, "checkpoint-0000000000000009") ||
			!slices.Contains(names, "checkpoint-000000000000000d") {
			t.Fatalf("files %v", names)
		}
	})
}

// TestStaleCheckpointRemoved: a checkpoint file the superblock does not name (a crash before
// the superblock write) is removed by Open.
func TestStaleCheckpointRemoved(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		fill(t, d, smallSegments, 3)
		d.setRaw("checkpoint-0000000000000002", []byte("half written"))
		d.restart()
		s, rec := d.mustOpen(t, smallSegments)
		if rec.State.CheckpointOp != 0 || slices.Contains(d.names(), "checkpoint-0000000000000002") {
			t.Fatalf("stale checkpoint kept: %v", d.names())
		}
		if r := d.verify(t, s); !r.OK {
			t.Fatalf("Verify: %v", r.Problems)
		}
	})
}

// TestCheckpointCorrupt: Open refuses a checkpoint that does not verify.
func TestCheckpointCorrupt(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		s := fill(t, d, smallSegments, 5)
		d.checkpoint(t, s, 5, []byte("snapshot"))
		flipBit(d, "checkpoint-0000000000000005", 70*8)
		d.restart()
		// Open keeps the superblock and the log and reports the checkpoint lost (the replica
		// state-syncs); a checkpoint of the same op then replaces the damaged file.
		s, rec := d.mustOpen(t, smallSegments)
		if !rec.CheckpointLost || rec.Snapshot != nil || rec.State.CheckpointOp != 5 {
			t.Fatalf("recovery: lost %t, snapshot %q, state %+v", rec.CheckpointLost, rec.Snapshot, rec.State)
		}
		d.checkpoint(t, s, 5, []byte("fetched from a peer"))
		d.restart()
		_, rec = d.mustOpen(t, smallSegments)
		if rec.CheckpointLost || string(rec.Snapshot) != "fetched from a peer" {
			t.Fatalf("after replacing: lost %t, snapshot %q", rec.CheckpointLost, rec.Snapshot)
		}
	})
}

// TestStateSyncCheckpoint: a checkpoint ahead of the log (state sync) drops the log below it
// and the log continues after it.
func TestStateSyncCheckpoint(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		s := fill(t, d, smallSegments, 5)
		d.must(t, "Checkpoint", func(done func(error)) { s.Checkpoint(22, []byte("synced"), done) })
		d.must(t, "Checkpoint again", func(done func(error)) { s.Checkpoint(22, []byte("synced"), done) })
		if s.Head() != 22 || s.State().CheckpointOp != 22 || s.State().Commit != 22 {
			t.Fatalf("head %d, state %+v", s.Head(), s.State())
		}
		for op := uint64(23); op <= 26; op++ {
			if err := d.append(t, s, op, body(op)); err != nil {
				t.Fatal(err)
			}
		}
		if freed := d.compact(t, s); freed <= 0 {
			t.Fatal("nothing compacted below the synced checkpoint")
		}
		d.restart()
		s, rec := d.mustOpen(t, smallSegments)
		if !slices.Equal(entriesOf(rec), opsRange(23, 26)) || len(rec.Faulty) != 0 {
			t.Fatalf("entries %v, faulty %v", entriesOf(rec), rec.Faulty)
		}
		if r := d.verify(t, s); !r.OK {
			t.Fatalf("Verify: %v", r.Problems)
		}
	})
}

func TestCommitAudit(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		s := fill(t, d, smallSegments, 6)
		h3, err := s.Commit(3)
		if err != nil {
			t.Fatal(err)
		}
		h6, err := s.Commit(6)
		if err != nil || h3 == h6 {
			t.Fatalf("Commit(6): %v", err)
		}
		if _, err := s.Commit(7); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("Commit beyond the head: %v", err)
		}
		if again, _ := s.Commit(5); again != h6 {
			t.Fatal("Commit of an audited op moved the head")
		}
		// The same log audited elsewhere gives the same heads.
		d2 := disks[0].make(t, 0)
		s2 := fill(t, d2, smallSegments, 6)
		if other, _ := s2.Commit(6); other != h6 {
			t.Fatal("audit chain differs between identical logs")
		}
		if r := d.verify(t, s); !r.OK || r.AuditOp != 6 || r.AuditHead != h6 {
			t.Fatalf("Verify audit: %+v", r)
		}
	})
}

// TestSuperblockFallbackKeepsCheckpoint: when the newest superblock pair is lost, Open falls
// back to the previous state, whose checkpoint file is still there; the ops the fallback
// lacks (compacted) are reported faulty, never silently missing.
func TestSuperblockFallbackKeepsCheckpoint(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		s := fill(t, d, smallSegments, 10)
		d.checkpoint(t, s, 5, []byte("state at 5"))
		d.checkpoint(t, s, 9, []byte("state at 9"))
		d.compact(t, s)
		sb := d.raw("superblock")
		newest := newestPair(t, sb)
		clear(sb[newest*1024 : newest*1024+1024])
		d.setRaw("superblock", sb)
		d.restart()
		_, rec := d.mustOpen(t, smallSegments)
		if rec.State.CheckpointOp != 5 || string(rec.Snapshot) != "state at 5" {
			t.Fatalf("fell back to checkpoint %d", rec.State.CheckpointOp)
		}
		if !slices.Equal(rec.Faulty, opsRange(6, 7)) || !slices.Equal(entriesOf(rec), opsRange(8, 10)) {
			t.Fatalf("faulty %v, entries %v", rec.Faulty, entriesOf(rec))
		}
	})
}

// TestCheckpointFallback: a newest checkpoint that does not verify falls back to the previous
// one, keeping the newest views, even after superblock writes since have made both pairs name
// the newest (swarm seed 2026467162: one latent sector on the checkpoint file cost a replica
// its state). With the previous one damaged too, the checkpoint is lost.
func TestCheckpointFallback(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		s := fill(t, d, smallSegments, 8)
		d.checkpoint(t, s, 3, []byte("state at 3"))
		d.checkpoint(t, s, 6, []byte("state at 6"))
		st := s.State()
		for view := uint32(4); view <= 5; view++ {
			st.View, st.LogView = view, view
			d.must(t, "SaveState", func(done func(error)) { s.SaveState(st, done) })
		}
		d.restart()
		s, _ = d.mustOpen(t, smallSegments)
		if !slices.Contains(d.names(), "checkpoint-0000000000000003") {
			t.Fatal("the previous checkpoint is gone while the superblock names it")
		}
		flipBit(d, "checkpoint-0000000000000003", 10)
		flipBit(d, "checkpoint-0000000000000006", 10)
		d.restart()
		if _, rec := d.mustOpen(t, smallSegments); !rec.CheckpointLost {
			t.Fatal("a damaged checkpoint whose fallback is damaged too is not reported lost")
		}
		flipBit(d, "checkpoint-0000000000000003", 10)
		d.restart()
		s, rec := d.mustOpen(t, smallSegments)
		if rec.CheckpointDamaged != 6 || rec.State.CheckpointOp != 3 ||
			string(rec.Snapshot) != "state at 3" || rec.State.View != 5 {
			t.Fatalf("recovery: damaged %d, state %+v", rec.CheckpointDamaged, rec.State)
		}
		if !slices.Equal(entriesOf(rec), opsRange(4, 8)) || len(rec.Faulty) != 0 {
			t.Fatalf("entries %v, faulty %v", entriesOf(rec), rec.Faulty)
		}
		if slices.Contains(d.names(), "checkpoint-0000000000000006") {
			t.Fatal("the damaged checkpoint file was kept")
		}
		// Checkpointed again at 6 and then at 7: 7 names 6 as its previous, and 3 goes.
		d.checkpoint(t, s, 6, []byte("state at 6"))
		d.checkpoint(t, s, 7, []byte("state at 7"))
		if slices.Contains(d.names(), "checkpoint-0000000000000003") {
			t.Fatal("checkpoint 3 kept after two newer ones")
		}
		flipBit(d, "checkpoint-0000000000000007", 10)
		d.restart()
		_, rec = d.mustOpen(t, smallSegments)
		if rec.CheckpointDamaged != 7 || rec.State.CheckpointOp != 6 || string(rec.Snapshot) != "state at 6" {
			t.Fatalf("recovery: damaged %d, state %+v", rec.CheckpointDamaged, rec.State)
		}
		if !slices.Equal(entriesOf(rec), opsRange(7, 8)) || len(rec.Faulty) != 0 {
			t.Fatalf("entries %v, faulty %v", entriesOf(rec), rec.Faulty)
		}
	})
}

// TestFirstCheckpointLostFallsBackToFormat: a first checkpoint (within the first segment's
// reach) that does not verify, with both superblock pairs naming it, falls back to op 0, the
// format's empty state, which needs no file: the log still holds every op from 1, so the
// replica replays them instead of waiting for a peer's checkpoint (fresh-range swarm seed
// 2026131599: its peers were behind it and needed the ops it held). Once the first segment
// is compacted away the ops below the checkpoint are gone, and the checkpoint is lost.
func TestFirstCheckpointLostFallsBackToFormat(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		s := fill(t, d, smallSegments, 6)
		d.checkpoint(t, s, 4, []byte("state at 4"))
		st := s.State()
		st.View, st.LogView = 3, 3
		d.must(t, "SaveState", func(done func(error)) { s.SaveState(st, done) })
		flipBit(d, "checkpoint-0000000000000004", 10)
		d.restart()
		s, rec := d.mustOpen(t, smallSegments)
		if rec.CheckpointLost || rec.CheckpointDamaged != 4 || rec.State.CheckpointOp != 0 ||
			rec.Snapshot != nil || rec.State.View != 3 || rec.State.Commit < 4 {
			t.Fatalf("recovery: lost %t, damaged %d, snapshot %q, state %+v", rec.CheckpointLost,
				rec.CheckpointDamaged, rec.Snapshot, rec.State)
		}
		if !slices.Equal(entriesOf(rec), opsRange(1, 6)) || len(rec.Faulty) != 0 {
			t.Fatalf("entries %v, faulty %v", entriesOf(rec), rec.Faulty)
		}
		if slices.Contains(d.names(), "checkpoint-0000000000000004") {
			t.Fatal("the damaged checkpoint file was kept")
		}
		// The replayed state is checkpointed again at 4, and then compaction may drop the
		// first segment: a damaged checkpoint 4 is lost from then on.
		d.checkpoint(t, s, 4, []byte("state at 4"))
		d.restart()
		s, rec = d.mustOpen(t, smallSegments)
		if rec.State.CheckpointOp != 4 || string(rec.Snapshot) != "state at 4" {
			t.Fatalf("after checkpointing again: state %+v, snapshot %q", rec.State, rec.Snapshot)
		}
		requireLostOnceCompacted(t, d, s, smallSegments, 4)
	})
}

// requireLostOnceCompacted compacts the log below checkpoint op and rots that checkpoint: with
// the ops below it gone from the log, nothing can replay them, and Open reports it lost.
func requireLostOnceCompacted(t *testing.T, d *disk, s *storage.Storage, opts storage.Options, op uint64) {
	t.Helper()
	d.compact(t, s)
	flipBit(d, fmt.Sprintf("checkpoint-%016x", op), 10)
	d.restart()
	if _, rec := d.mustOpen(t, opts); !rec.CheckpointLost || rec.State.CheckpointOp != op {
		t.Fatalf("compacted: lost %t, state %+v", rec.CheckpointLost, rec.State)
	}
}

// TestLostCheckpointsReplayFromFormat: when a later checkpoint and the one before it both rot,
// Open falls back to op 0 if the log still holds every op from 1 and its head is within
// Options.ReplayOpsMax: the replica replays the log instead of waiting for a peer's checkpoint
// at or after its own (swarm seed 2026460322: checkpoints 128 and 64 both corrupt, and its
// peers, at checkpoint 64, needed ops only its log held). A head beyond the limit, no limit, or
// a compacted first segment leave the checkpoint lost.
func TestLostCheckpointsReplayFromFormat(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		replay := smallSegments
		replay.ReplayOpsMax = 10
		s := fill(t, d, replay, 10)
		d.checkpoint(t, s, 4, []byte("state at 4"))
		d.checkpoint(t, s, 8, []byte("state at 8"))
		flipBit(d, "checkpoint-0000000000000004", 10)
		flipBit(d, "checkpoint-0000000000000008", 10)
		for _, opts := range []storage.Options{smallSegments, func() storage.Options { o := replay; o.ReplayOpsMax = 9; return o }()} {
			d.restart()
			if _, rec := d.mustOpen(t, opts); !rec.CheckpointLost || rec.State.CheckpointOp != 8 {
				t.Fatalf("ReplayOpsMax %d, head 10: lost %t, state %+v", opts.ReplayOpsMax, rec.CheckpointLost, rec.State)
			}
		}
		d.restart()
		s, rec := d.mustOpen(t, replay)
		if rec.CheckpointLost || rec.CheckpointDamaged != 8 || rec.State.CheckpointOp != 0 || rec.Snapshot != nil {
			t.Fatalf("recovery: lost %t, damaged %d, state %+v", rec.CheckpointLost, rec.CheckpointDamaged, rec.State)
		}
		if !slices.Equal(entriesOf(rec), opsRange(1, 10)) || len(rec.Faulty) != 0 {
			t.Fatalf("entries %v, faulty %v: want the whole log to replay", entriesOf(rec), rec.Faulty)
		}
		for _, e := range rec.Entries {
			if !bytes.Equal(e.Body, body(e.Op)) {
				t.Fatalf("op %d replays with body %q, want %q", e.Op, e.Body, body(e.Op))
			}
		}
		// Checkpointed again, compacted, and rotted again: ops 1-4 are gone, so it is lost.
		d.checkpoint(t, s, 8, []byte("state at 8"))
		requireLostOnceCompacted(t, d, s, replay, 8)
	})
}

// TestFallbackBeyondReplayOpsMaxIsLost: a state sync jumped from checkpoint 3 to 12, so 3 is
// the previous checkpoint while the log runs to 16. When 12 rots, falling back to 3 would leave
// more ops above it than Options.ReplayOpsMax lets the caller hold (swarm seed 2026486275: a
// fallback from 384 to 64 overflowed the replica's log window), so the checkpoint is lost;
// within the limit, or with no limit, the fallback stands.
func TestFallbackBeyondReplayOpsMaxIsLost(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		s := fill(t, d, smallSegments, 3)
		d.checkpoint(t, s, 3, []byte("state at 3"))
		d.must(t, "InstallCheckpoint", func(done func(error)) { s.InstallCheckpoint(12, []byte("a peer's state at 12"), done) })
		for op := uint64(13); op <= 16; op++ {
			if err := d.append(t, s, op, body(op)); err != nil {
				t.Fatalf("Append(%d): %v", op, err)
			}
		}
		flipBit(d, "checkpoint-000000000000000c", 10)
		for _, limit := range []int{8, 13, 0} {
			opts := smallSegments
			opts.ReplayOpsMax = limit
			d.restart()
			_, rec := d.mustOpen(t, opts)
			if fits := limit == 0 || 16-3 <= limit; fits != (rec.State.CheckpointOp == 3) || fits == rec.CheckpointLost {
				t.Fatalf("ReplayOpsMax %d: lost %t, damaged %d, state %+v", limit, rec.CheckpointLost, rec.CheckpointDamaged, rec.State)
			}
			if limit == 8 && (rec.State.CheckpointOp != 12 || rec.Snapshot != nil || !slices.Contains(d.names(), "checkpoint-000000000000000c")) {
				t.Fatalf("lost: state %+v, files %v", rec.State, d.names())
			}
		}
	})
}

// TestInstalledCheckpointLostIsNotReplayedPast: a checkpoint installed from a peer's snapshot
// that rots is lost, though the superblock names an intact previous checkpoint: the log below
// the installed one need not be its history, and a state sync fetches it again (swarm seed
// 2026495629: a replay past a lost synced checkpoint kept a prepare the synced history had
// replaced). A checkpoint the log executed up to falls back (TestCheckpointFallback).
func TestInstalledCheckpointLostIsNotReplayedPast(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		s := fill(t, d, smallSegments, 5)
		d.checkpoint(t, s, 3, []byte("state at 3"))
		d.must(t, "InstallCheckpoint", func(done func(error)) { s.InstallCheckpoint(6, []byte("a peer's state at 6"), done) })
		st := s.State()
		for view := uint32(2); view <= 3; view++ {
			st.View, st.LogView = view, view
			d.must(t, "SaveState", func(done func(error)) { s.SaveState(st, done) })
		}
		flipBit(d, "checkpoint-0000000000000006", 10)
		d.restart()
		if _, rec := d.mustOpen(t, smallSegments); !rec.CheckpointLost || rec.State.CheckpointOp != 6 {
			t.Fatalf("lost %t, damaged %d, state %+v: want the synced checkpoint lost", rec.CheckpointLost, rec.CheckpointDamaged, rec.State)
		}
	})
}

// TestInstalledCheckpointLostReplaysNothingItDidNotAudit: a checkpoint installed from a
// peer's snapshot (a state sync) covers ops the log never executed: here ops 1-2 of this
// log, and op 3 of another view that the snapshot's history replaced. When that checkpoint
// rots, the fallback to op 0 must not replay them as committed: they come back faulty, to be
// repaired by checksum or replaced by a sync (swarm seed 2026299955: view 3's op 47, left on
// a disk under a sync to 64, was replayed after checkpoint 64 rotted; view 8's had
// committed). A checkpoint of the replica's own execution (the test above) replays its log.
func TestInstalledCheckpointLostReplaysNothingItDidNotAudit(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		s := fill(t, d, smallSegments, 3)
		d.must(t, "InstallCheckpoint", func(done func(error)) {
			s.InstallCheckpoint(4, []byte("a peer's state at 4"), done)
		})
		for op := uint64(5); op <= 6; op++ {
			if err := d.append(t, s, op, body(op)); err != nil {
				t.Fatalf("Append(%d): %v", op, err)
			}
		}
		flipBit(d, "checkpoint-0000000000000004", 10)
		d.restart()
		_, rec := d.mustOpen(t, smallSegments)
		if rec.CheckpointDamaged != 4 || rec.State.CheckpointOp != 0 {
			t.Fatalf("recovery: lost %t, damaged %d, state %+v", rec.CheckpointLost, rec.CheckpointDamaged, rec.State)
		}
		if !slices.Equal(rec.Faulty, opsRange(1, 4)) || !slices.Equal(entriesOf(rec), opsRange(5, 6)) {
			t.Fatalf("faulty %v, entries %v: want ops 1-4 faulty, not replayed", rec.Faulty, entriesOf(rec))
		}
		if len(rec.FaultyPrefix) != 0 {
			t.Fatalf("prefixes %v: the records below the checkpoint name the log's ops, not the snapshot's", rec.FaultyPrefix)
		}
	})
}

// TestRepairInPlaceKeepsLaterEntries: appending again the entry the log names at a damaged
// op (a repair) rewrites it in place: the later entries stay durable across a restart,
// where truncating them would un-persist ops a replica may have acknowledged. Another
// entry at that op (a view change's replacement) still truncates.
func TestRepairInPlaceKeepsLaterEntries(t *testing.T) {
	opts := storage.Options{SegmentEntriesMax: 64, EntryBodyMax: 4096}
	eachDisk(t, func(t *testing.T, d *disk) {
		const n, victim = 7, 5
		fill(t, d, opts, n)
		flipEntryBody(t, d, victim)
		d.restart()
		s, rec := d.mustOpen(t, opts)
		if !slices.Equal(rec.Faulty, []uint64{victim}) {
			t.Fatalf("faulty %v", rec.Faulty)
		}
		if err := d.append(t, s, victim, body(victim)); err != nil {
			t.Fatalf("repair: %v", err)
		}
		if err := d.append(t, s, 3, body(3)); err != nil { // an intact entry, identical
			t.Fatalf("identical rewrite: %v", err)
		}
		if s.Head() != n || s.Stats().Rewrites != 2 {
			t.Fatalf("head %d, rewrites %d: the repair dropped later ops", s.Head(), s.Stats().Rewrites)
		}
		d.restart()
		s, rec = d.mustOpen(t, opts)
		if len(rec.Faulty) != 0 || !slices.Equal(entriesOf(rec), opsRange(1, n)) {
			t.Fatalf("after the repair and a restart: faulty %v, entries %v", rec.Faulty, entriesOf(rec))
		}
		if err := d.append(t, s, victim, []byte("another prepare")); err != nil {
			t.Fatalf("replacement: %v", err)
		}
		if s.Head() != victim || s.Stats().Rewrites != 0 {
			t.Fatalf("a different entry at op %d kept the later ops: head %d", victim, s.Head())
		}
	})
}

// TestRewriteNeverTruncates: Rewritable tells a repair (the entry the log names at a damaged
// op) from a replacement (another entry there); Rewrite writes the first in place, keeping
// the later entries, and refuses the second with ErrNotRewritable, changing nothing.
func TestRewriteNeverTruncates(t *testing.T) {
	opts := storage.Options{SegmentEntriesMax: 64, EntryBodyMax: 4096}
	eachDisk(t, func(t *testing.T, d *disk) {
		const n, victim = 7, 5
		fill(t, d, opts, n)
		flipEntryBody(t, d, victim)
		d.restart()
		s, _ := d.mustOpen(t, opts)
		other := storage.Entry{Op: victim, Body: []byte("another prepare")}
		if s.Rewritable(other) {
			t.Fatal("another entry at the damaged op is rewritable")
		}
		err := d.do(t, func(done func(error)) { s.Rewrite(other, done) })
		if !errors.Is(err, storage.ErrNotRewritable) || s.Head() != n || !slices.Equal(s.Faulty(), []uint64{victim}) {
			t.Fatalf("a refused rewrite: err %v, head %d, faulty %v", err, s.Head(), s.Faulty())
		}
		repair := storage.Entry{Op: victim, Body: body(victim)}
		if !s.Rewritable(repair) {
			t.Fatal("the entry the log names at the damaged op is not rewritable")
		}
		if err := d.do(t, func(done func(error)) { s.Rewrite(repair, done) }); err != nil {
			t.Fatalf("repair: %v", err)
		}
		if s.Head() != n || s.Stats().Rewrites != 1 || len(s.Faulty()) != 0 {
			t.Fatalf("after the repair: head %d, rewrites %d, faulty %v", s.Head(), s.Stats().Rewrites, s.Faulty())
		}
		if s.Rewritable(storage.Entry{Op: n + 1, Body: body(n + 1)}) {
			t.Fatal("an op past the head is rewritable")
		}
	})
}

// TestRecheckpointKeepsEntriesAboveLostCheckpoint: the entries above a checkpoint chain to
// its anchor, which need not be the chain sum of the checkpoint op's own entry (a checkpoint
// installed while that entry was damaged took its file's checksum; it now takes the chain sum
// the entry's intact record names, so the fallback below finds the entry above it on the
// chain). When that checkpoint file rots, the fallback replays the log from below it.
// Checkpointing the op again (with the damaged entry left to the checkpoint, or repaired
// first) must take the anchor the entry above names: the entry is then rewritten in place and
// the later ops, which a replica may have acknowledged and committed, stay (swarm seed
// 20261668 truncated ops 66..103 to rewrite op 65).
func TestRecheckpointKeepsEntriesAboveLostCheckpoint(t *testing.T) {
	for _, repairFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("repair_first=%t", repairFirst), func(t *testing.T) {
			eachDisk(t, func(t *testing.T, d *disk) {
				const cp, n = 4, 7
				fill(t, d, smallSegments, cp)
				flipEntryBody(t, d, cp)
				d.restart()
				s, rec := d.mustOpen(t, smallSegments)
				if !slices.Equal(rec.Faulty, []uint64{cp}) {
					t.Fatalf("faulty %v", rec.Faulty)
				}
				// Committed with op cp's entry damaged: the anchor is the chain sum its record
				// names (it was the file's checksum, and op cp+1 came back off the chain).
				d.must(t, "Checkpoint", func(done func(error)) { s.Checkpoint(cp, []byte("state at 4"), done) })
				for op := uint64(cp + 1); op <= n; op++ {
					if err := d.append(t, s, op, body(op)); err != nil {
						t.Fatalf("Append(%d): %v", op, err)
					}
				}
				flipBit(d, "checkpoint-0000000000000004", 10)
				d.restart()
				s, rec = d.mustOpen(t, smallSegments)
				if rec.CheckpointDamaged != cp || rec.State.CheckpointOp != 0 ||
					!slices.Equal(rec.Faulty, []uint64{cp}) {
					t.Fatalf("fallback: damaged %d, state %+v, faulty %v", rec.CheckpointDamaged, rec.State, rec.Faulty)
				}
				if repairFirst {
					if err := d.append(t, s, cp, body(cp)); err != nil {
						t.Fatalf("repair of op %d: %v", cp, err)
					}
					d.checkpoint(t, s, cp, []byte("state at 4"))
				} else {
					if _, err := s.Commit(cp - 1); err != nil {
						t.Fatal(err)
					}
					// Another encoding of the state (its file checksum is not the lost anchor).
					d.must(t, "Checkpoint", func(done func(error)) { s.Checkpoint(cp, []byte("state at 4, again"), done) })
				}
				if e := (storage.Entry{Op: cp + 1, Body: body(cp + 1)}); !s.Rewritable(e) {
					t.Fatalf("op %d is not rewritable in place after the new checkpoint", cp+1)
				}
				if err := d.append(t, s, cp+1, body(cp+1)); err != nil {
					t.Fatalf("repair of op %d: %v", cp+1, err)
				}
				if s.Head() != n {
					t.Fatalf("head %d after the repair of op %d: the later ops were dropped", s.Head(), cp+1)
				}
				d.restart()
				_, rec = d.mustOpen(t, smallSegments)
				if len(rec.Faulty) != 0 || !slices.Equal(entriesOf(rec), opsRange(cp+1, n)) {
					t.Fatalf("after a restart: faulty %v, entries %v", rec.Faulty, entriesOf(rec))
				}
			})
		})
	}
}

// flipEntryBody flips a bit in the last byte of op's entry body on the disk (the entry's
// checksum then fails; its record stays intact).
func flipEntryBody(t *testing.T, d *disk, op uint64) {
	t.Helper()
	p := places(t, d)[op]
	b := d.raw(p.file)
	b[p.offset+p.size-1] ^= 0x01
	d.setRaw(p.file, b)
}

// TestReplayFromFormatNeedsTheAuditedHistory: the replica held ops 1-4, then installed a
// peer's checkpoint at 6 (state sync: ops 5 and 6 never in its log, and 1-4 maybe another
// view's) and checkpointed 8 and 10 itself. When 10 and 8 both rot, a replay from op 0 would
// execute ops 1-4 as committed, though checkpoint 10's audit chain starts from the install's
// seed, not from them (swarm seed 7853388945494936942: view 0's op 13 under commit number
// 233). The checkpoint stays lost, to be fetched from a peer; a log whose audit chain from op
// 0 is checkpoint 10's own replays (TestLostCheckpointsReplayFromFormat).
func TestReplayFromFormatNeedsTheAuditedHistory(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		replay := smallSegments
		replay.ReplayOpsMax = 12
		s := fill(t, d, replay, 4)
		d.must(t, "InstallCheckpoint", func(done func(error)) { s.InstallCheckpoint(6, []byte("a peer's state at 6"), done) })
		for op := uint64(7); op <= 12; op++ {
			if err := d.append(t, s, op, body(op)); err != nil {
				t.Fatalf("Append(%d): %v", op, err)
			}
		}
		d.checkpoint(t, s, 8, []byte("state at 8"))
		d.checkpoint(t, s, 10, []byte("state at 10"))
		flipBit(d, "checkpoint-0000000000000008", 10)
		flipBit(d, "checkpoint-000000000000000a", 10)
		d.restart()
		_, rec := d.mustOpen(t, replay)
		if !rec.CheckpointLost || rec.State.CheckpointOp != 10 {
			t.Fatalf("replayed a log below an installed checkpoint: lost %t, damaged %d, state %+v, entries %v, faulty %v",
				rec.CheckpointLost, rec.CheckpointDamaged, rec.State, entriesOf(rec), rec.Faulty)
		}
	})
}

// TestCheckpointInstalledOverAnInstallKeepsItsAudit: a peer's checkpoint installed over
// another peer's, itself installed over a log it never audited (op 1 here, appended before
// the first install): the second install's audit op is the first's, not the first's op.
// When the second rots and the fallback reaches op 0, op 1 is faulty, never replayed as
// committed (h114's probe of storage crash seed 633389253502: the first install's op was
// taken for audited, and op 1 came back intact).
func TestCheckpointInstalledOverAnInstallKeepsItsAudit(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		s := fill(t, d, distrustOptions, 1)
		d.must(t, "InstallCheckpoint", func(done func(error)) { s.InstallCheckpoint(11, []byte("peer at 11"), done) })
		if err := d.append(t, s, 12, body(12)); err != nil {
			t.Fatalf("Append(12): %v", err)
		}
		d.must(t, "InstallCheckpoint", func(done func(error)) { s.InstallCheckpoint(12, []byte("peer at 12"), done) })
		st := s.State()
		for range 2 { // both superblock pairs name checkpoint 12
			st.View++
			d.must(t, "SaveState", func(done func(error)) { s.SaveState(st, done) })
		}
		flipBit(d, "checkpoint-000000000000000c", 10)
		d.restart()
		_, rec := d.mustOpen(t, distrustOptions)
		if rec.CheckpointDamaged != 12 || rec.State.CheckpointOp != 0 {
			t.Fatalf("recovery: lost %t, damaged %d, state %+v", rec.CheckpointLost, rec.CheckpointDamaged, rec.State)
		}
		if slices.Contains(entriesOf(rec), 1) || !slices.Contains(rec.Faulty, 1) {
			t.Fatalf("entries %v, faulty %v: op 1, never audited under either install, came back", entriesOf(rec), rec.Faulty)
		}
	})
}
