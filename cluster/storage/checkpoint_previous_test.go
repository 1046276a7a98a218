package storage_test

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"vopr/cluster/storage"
)

// unreadableCheckpointFS fails (ErrIO) every read of a checkpoint file while on: a transient
// read error, gone at the next boot.
type unreadableCheckpointFS struct {
	storage.FS
	on bool
}

func (f *unreadableCheckpointFS) ReadAt(name string, buf []byte, offset int64, done func(int, error)) {
	f.FS.ReadAt(name, buf, offset, func(n int, err error) {
		if f.on && strings.HasPrefix(name, "checkpoint") {
			clear(buf)
			n, err = 0, fmt.Errorf("read %s: %w", name, storage.ErrIO)
		}
		done(n, err)
	})
}

// TestCheckpointTheOtherPairNamesIsKept: checkpoint 6, the first, cannot be read at an Open
// (a transient read error), and no older checkpoint or replay stands in for it: Open reports
// it lost. The replica then checkpoints at 8; the superblock write goes to the other pair,
// and the pair of checkpoint 6's state is now the other pair (checkpointPrevious): its file
// must stay, since the newest pair may be lost and Open then falls back on that state. The
// newest pair's copies are damaged before the next superblock write, and the read error is
// gone: Open must recover checkpoint 6 from its file. With the other pair's checkpoint not
// tracked (mutant storage.checkpoint_previous_not_tracked), the checkpoint at 8 removed
// checkpoint 6's file as stale, and Open reported checkpoint 6 lost: the replica needed a
// state sync it did not need.
func TestCheckpointTheOtherPairNamesIsKept(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		opts := smallSegments
		s := fill(t, d, opts, 9)
		snapshot6 := []byte("state at 6")
		d.checkpoint(t, s, 6, snapshot6)
		d.restart()
		plain := d.fs
		defer func() { d.fs = plain }()
		f := &unreadableCheckpointFS{FS: plain, on: true}
		d.fs = f
		s, rec := d.mustOpen(t, opts)
		if rec.State.CheckpointOp != 6 || !rec.CheckpointLost {
			t.Fatalf("checkpoint %d, lost %t: want checkpoint 6 lost (its file unreadable at this Open)",
				rec.State.CheckpointOp, rec.CheckpointLost)
		}
		f.on = false
		before := slices.Clone(d.raw("superblock"))
		d.checkpoint(t, s, 8, []byte("state at 8"))
		// The newest pair is what the checkpoint's superblock write changed: its copies go.
		after := d.raw("superblock")
		lo, hi := -1, -1
		for i := range after {
			if i >= len(before) || before[i] != after[i] {
				if lo < 0 {
					lo = i
				}
				hi = i
			}
		}
		if lo < 0 {
			t.Fatal("the checkpoint at 8 did not write the superblock")
		}
		copy(after[lo:hi+1], bytes.Repeat([]byte{0xa5}, hi+1-lo))
		d.setRaw("superblock", after)
		d.fs = plain
		d.restart()
		_, rec = d.mustOpen(t, opts)
		if rec.State.CheckpointOp != 6 || rec.CheckpointLost || !bytes.Equal(rec.Snapshot, snapshot6) {
			t.Fatalf("checkpoint %d, lost %t, snapshot %q after the newest pair was lost: want checkpoint 6 "+
				"recovered from its file, which the other pair's state names (files %v)",
				rec.State.CheckpointOp, rec.CheckpointLost, rec.Snapshot, d.names())
		}
	})
}
