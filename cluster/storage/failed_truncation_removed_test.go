package storage_test

import (
	"fmt"
	"testing"

	"vopr/cluster/storage"
)

// truncateRefusedFS fails every Truncate (EIO-like, the file left as it was) while on.
type truncateRefusedFS struct {
	storage.FS
	on bool
}

func (f *truncateRefusedFS) Truncate(name string, size int64, done func(error)) {
	if !f.on {
		f.FS.Truncate(name, size, done)
		return
	}
	f.FS.List(func([]string, error) { done(fmt.Errorf("truncate %s: refused", name)) })
}

// TestFailedTruncationAfterRemovingSegments: a truncation after op 6 (segments of 4 ops)
// removes the segments of ops 8-11 and 12, then fails to cut op 6's segment after it: op 7
// stays, owed, and ops 8-12 are gone from the disk. The replica, which took the truncation as
// done, writes the same prepares at 7-12 again (Append's contract: the entry the log names
// there is rewritten in place). An append whose segment file the truncation had removed
// was rewritten in place into that missing file: it failed with ErrNotExist, outside Append's
// contract, and left the op faulty, so every retry failed the same way (h83's owed_cut move
// of the storage episode). Every append must succeed, and the ops read back.
func TestFailedTruncationAfterRemovingSegments(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		opts := storage.Options{SegmentEntriesMax: 4, EntryBodyMax: 4096}
		fill(t, d, opts, 12)
		d.restart()
		f := &truncateRefusedFS{FS: d.fs, on: true}
		plain := f.FS
		d.fs = f
		defer func() { d.fs = plain }()
		s, _ := d.mustOpen(t, opts)
		if err := d.do(t, func(done func(error)) { s.TruncateAfter(6, done) }); err == nil {
			t.Fatal("the truncation succeeded with its cut refused")
		}
		f.on = false
		for op := uint64(7); op <= 12; op++ {
			if err := d.append(t, s, op, body(op)); err != nil {
				t.Fatalf("Append(%d) of the same prepare again: %v", op, err)
			}
		}
		for op := uint64(1); op <= 12; op++ {
			if _, err := d.read(t, s, op); err != nil {
				t.Fatalf("Read(%d): %v", op, err)
			}
		}
		next := s.State()
		next.View, next.LogView = 2, 2
		d.must(t, "SaveState", func(done func(error)) { s.SaveState(next, done) })
		if s.Head() != 12 {
			t.Fatalf("head %d after the superblock write, want 12", s.Head())
		}
	})
}
