package storage_test

import (
	"slices"
	"testing"

	"vopr/cluster/storage"
)

// TestFailedTruncationDebtEndsAtAStateSyncCheckpoint: a truncation after op 2 fails on its
// tombstones (ops 3 and 4 stay), then a state sync installs a peer's checkpoint at op 6,
// above the head, and the log goes on from there (ops 7 and 8, which the replica may
// acknowledge). Every op the failed truncation left lies below the checkpoint now: nothing is
// owed, and the next superblock write must not cut after the checkpoint, dropping ops 7 and 8
// (swarm seeds 2041500756 and 2041500985 with refused marks: the appends after a state
// sync's checkpoint removed with their segment, an acknowledged, committed op lost).
// failTruncationAfter2 fills ops 1-4, reopens on a disk that refuses tombstones for space
// (d.fs, until the caller restores it), and fails a truncation after op 2: ops 3 and 4 stay.
func failTruncationAfter2(t *testing.T, d *disk, opts storage.Options) (*storage.Storage, *storage.Recovery, *noSpaceTombstoneFS) {
	t.Helper()
	fill(t, d, opts, 4)
	d.restart()
	f := &noSpaceTombstoneFS{FS: d.fs, full: true}
	d.fs = f
	s, rec := d.mustOpen(t, opts)
	if err := d.do(t, func(done func(error)) { s.TruncateAfter(2, done) }); err == nil {
		t.Fatal("the truncation succeeded on a full disk")
	}
	return s, rec, f
}

func TestFailedTruncationDebtEndsAtAStateSyncCheckpoint(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		opts := storage.Options{SegmentEntriesMax: 12, EntryBodyMax: 4096}
		s, rec, f := failTruncationAfter2(t, d, opts)
		plain := f.FS
		defer func() { d.fs = plain }()
		if after, owed := s.CutOwed(); !owed || after != 2 {
			t.Fatalf("CutOwed() = %d, %t after the failed truncation after 2, want 2, true", after, owed)
		}
		f.full = false
		d.must(t, "InstallCheckpoint", func(done func(error)) { s.InstallCheckpoint(6, []byte("a peer's state at 6"), done) })
		if _, owed := s.CutOwed(); owed {
			t.Fatal("a cut is still owed below the checkpoint at 6")
		}
		for op := uint64(7); op <= 8; op++ {
			if err := d.append(t, s, op, body(op)); err != nil {
				t.Fatalf("Append(%d) above the checkpoint: %v", op, err)
			}
		}
		next := rec.State
		next.View, next.LogView = 2, 2
		d.must(t, "SaveState", func(done func(error)) { s.SaveState(next, done) })
		if s.Head() != 8 {
			t.Fatalf("head %d after the superblock write, want 8: it cut the ops appended after the checkpoint", s.Head())
		}
		d.fs = plain
		d.restart()
		_, rec = d.mustOpen(t, opts)
		if got := entriesOf(rec); !slices.Equal(got, []uint64{7, 8}) {
			t.Fatalf("entries %v after a restart, want [7 8]", got)
		}
	})
}

// TestFailedTruncationOwedOpWrittenAgain: a truncation after op 2 fails (ops 3 and 4 stay),
// and the log takes op 3 back, the same prepare rewritten in place (the new log holds it
// too). Op 3 is the log's again; only op 4 is owed, and the next superblock write cuts after
// 3, not after 2.
func TestFailedTruncationOwedOpWrittenAgain(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		opts := storage.Options{SegmentEntriesMax: 12, EntryBodyMax: 4096}
		s, rec, f := failTruncationAfter2(t, d, opts)
		plain := f.FS
		defer func() { d.fs = plain }()
		f.full = false
		if !s.Rewritable(storage.Entry{Op: 3, Body: body(3)}) {
			t.Fatal("op 3 is not rewritable in place with its own prepare")
		}
		d.must(t, "Rewrite(3)", func(done func(error)) { s.Rewrite(storage.Entry{Op: 3, Body: body(3)}, done) })
		if after, owed := s.CutOwed(); !owed || after != 3 {
			t.Fatalf("CutOwed() = %d, %t after op 3 was written again, want 3, true", after, owed)
		}
		next := rec.State
		next.View, next.LogView = 2, 2
		d.must(t, "SaveState", func(done func(error)) { s.SaveState(next, done) })
		if s.Head() != 3 {
			t.Fatalf("head %d after the superblock write, want 3", s.Head())
		}
		if _, owed := s.CutOwed(); owed {
			t.Fatal("a cut is still owed after the superblock write paid it")
		}
	})
}
