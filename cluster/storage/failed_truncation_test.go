package storage_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"vopr/cluster/storage"
)

// noSpaceTombstoneFS fails every tombstone write (ErrNoSpace, nothing applied) while full: on
// a real file system a record sector may be a hole (a segment's first entry is written past
// the record area), or the file system copies on write, and a full disk has no block for it.
type noSpaceTombstoneFS struct {
	storage.FS
	full    bool
	refused int
}

func (f *noSpaceTombstoneFS) WriteAt(name string, data []byte, offset int64, done func(error)) {
	if !f.full || !startsWith(data, tombstoneMagic) {
		f.FS.WriteAt(name, data, offset, done)
		return
	}
	f.refused++
	f.FS.List(func([]string, error) { done(fmt.Errorf("tombstone at %d: %w", offset, storage.ErrNoSpace)) })
}

// TestFailedTruncationIsNotPersistedOver: a truncation after op 2 (a view change's start_view
// whose log ends there) fails with ErrNoSpace on its tombstones, and nothing is cut. The
// replica then persists the new log view (SaveState runs after the truncation in the
// engine's queue, whatever its outcome), and crashes. The next Open read ops 3 and 4 back,
// intact, under the new log view: stale prepares of the older view claimed as the new view's
// log, which a view change can choose over the ops the new view committed there. A superblock
// write must not land over a log that a failed truncation left longer than its caller's: it
// completes the truncation first, or fails.
func TestFailedTruncationIsNotPersistedOver(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		opts := storage.Options{SegmentEntriesMax: 12, EntryBodyMax: 4096}
		fill(t, d, opts, 4)
		d.restart()
		plain := d.fs
		defer func() { d.fs = plain }()
		f := &noSpaceTombstoneFS{FS: plain, full: true}
		d.fs = f
		s, rec := d.mustOpen(t, opts)
		truncated := d.do(t, func(done func(error)) { s.TruncateAfter(2, done) })
		if f.refused == 0 {
			t.Fatal("no tombstone write was refused")
		}
		next := rec.State
		next.View, next.LogView = 2, 2
		saved := d.do(t, func(done func(error)) { s.SaveState(next, done) })
		d.fs = plain
		d.restart()
		s, rec = d.mustOpen(t, opts)
		if rec.State.LogView == 2 && (s.Head() != 2 || !slices.Equal(entriesOf(rec), []uint64{1, 2})) {
			t.Fatalf("log view 2 persisted (truncation: %v, SaveState: %v) over head %d, entries %v: "+
				"ops 3-4, which the failed truncation was to drop, came back under it",
				truncated, saved, s.Head(), entriesOf(rec))
		}
		if truncated != nil && rec.State.LogView == 2 {
			t.Fatalf("SaveState persisted log view 2 though the truncation before it failed (%v)", truncated)
		}
		if saved == nil && rec.State.LogView != 2 {
			t.Fatal("SaveState reported success but its state is not durable")
		}
		if saved != nil && !errors.Is(saved, storage.ErrNoSpace) {
			t.Fatalf("SaveState: %v, want the truncation's ErrNoSpace", saved)
		}
	})
}

// TestFailedTruncationIsFinishedBeforeTheSuperblock: as above, but the disk has room again by
// the time of the superblock write: the write first completes the truncation, then lands.
func TestFailedTruncationIsFinishedBeforeTheSuperblock(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		opts := storage.Options{SegmentEntriesMax: 12, EntryBodyMax: 4096}
		fill(t, d, opts, 4)
		d.restart()
		plain := d.fs
		defer func() { d.fs = plain }()
		f := &noSpaceTombstoneFS{FS: plain, full: true}
		d.fs = f
		s, rec := d.mustOpen(t, opts)
		if err := d.do(t, func(done func(error)) { s.TruncateAfter(2, done) }); err == nil {
			t.Fatal("the truncation succeeded on a full disk")
		}
		f.full = false
		next := rec.State
		next.View, next.LogView = 2, 2
		d.must(t, "SaveState", func(done func(error)) { s.SaveState(next, done) })
		if s.Head() != 2 {
			t.Fatalf("head %d after the superblock write, want 2", s.Head())
		}
		if err := d.append(t, s, 3, body(33)); err != nil {
			t.Fatalf("Append(3) of the new log: %v", err)
		}
		d.fs = plain
		d.restart()
		s, rec = d.mustOpen(t, opts)
		if rec.State.LogView != 2 || s.Head() != 3 || len(rec.Faulty) != 0 {
			t.Fatalf("log view %d, head %d, faulty %v: want log view 2 over ops 1-3",
				rec.State.LogView, s.Head(), rec.Faulty)
		}
	})
}
