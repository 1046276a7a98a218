package storage_test

import (
	"slices"
	"testing"

	"vopr/cluster/storage"
)

// TestFailedTruncationDebtAboveAStateSyncCheckpointWrittenAgain: a truncation after op 2
// fails on its tombstones (ops 3-8 stay), then a state sync installs a peer's checkpoint at
// op 5, among the ops it left, and the log goes on from there with the same prepares the
// disk holds at ops 6-8 (rewritten in place: Append's contract) and a fresh op 9, all of
// which the replica may acknowledge. Op 6, the first above the checkpoint, written again is
// the log's again (as op 3 would have been without the checkpoint), and so are the ops above
// it as they are written: nothing is owed, and the next superblock write must not cut after
// the checkpoint, dropping the acknowledged ops 6-9 (h83's owed_cut move of the storage
// episode: the debt was settled only by a rewrite of op 3, the op above the failed
// truncation's, which lies below the checkpoint now).
func TestFailedTruncationDebtAboveAStateSyncCheckpointWrittenAgain(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		opts := storage.Options{SegmentEntriesMax: 12, EntryBodyMax: 4096}
		fill(t, d, opts, 8)
		d.restart()
		f := &noSpaceTombstoneFS{FS: d.fs, full: true}
		plain := f.FS
		d.fs = f
		defer func() { d.fs = plain }()
		s, rec := d.mustOpen(t, opts)
		if err := d.do(t, func(done func(error)) { s.TruncateAfter(2, done) }); err == nil {
			t.Fatal("the truncation succeeded on a full disk")
		}
		f.full = false
		d.must(t, "InstallCheckpoint", func(done func(error)) { s.InstallCheckpoint(5, []byte("a peer's state at 5"), done) })
		for op := uint64(6); op <= 9; op++ {
			if err := d.append(t, s, op, body(op)); err != nil {
				t.Fatalf("Append(%d) above the checkpoint: %v", op, err)
			}
		}
		if after, owed := s.CutOwed(); owed {
			t.Fatalf("CutOwed() = %d, true after ops 6-9 were written above the checkpoint at 5", after)
		}
		next := rec.State
		next.View, next.LogView = 2, 2
		d.must(t, "SaveState", func(done func(error)) { s.SaveState(next, done) })
		if s.Head() != 9 {
			t.Fatalf("head %d after the superblock write, want 9: it cut the ops appended after the checkpoint", s.Head())
		}
		d.fs = plain
		d.restart()
		_, rec = d.mustOpen(t, opts)
		if got := entriesOf(rec); !slices.Equal(got, []uint64{6, 7, 8, 9}) {
			t.Fatalf("entries %v after a restart, want [6 7 8 9]", got)
		}
	})
}
