package storage_test

import (
	"testing"

	"vopr/cluster/storage"
)

// failingSyncFS fails (ErrIO) the first sync of a file after a write that starts with a
// tombstone, without syncing: what the write wrote stays volatile, as after a failed fsync.
type failingSyncFS struct {
	storage.FS
	armed, pending bool
	failed         int
}

func (f *failingSyncFS) WriteAt(name string, data []byte, offset int64, done func(error)) {
	if f.armed && startsWith(data, tombstoneMagic) {
		f.armed, f.pending = false, true
	}
	f.FS.WriteAt(name, data, offset, done)
}

func (f *failingSyncFS) Sync(name string, done func(error)) {
	if !f.pending {
		f.FS.Sync(name, done)
		return
	}
	f.pending = false
	f.failed++
	f.FS.List(func([]string, error) { done(storage.ErrIO) }) // later, never inline
}

// TestTruncationSurvivesAFailedSync: a truncation after op 3 tombstones the records of ops 4
// and 5, and the sync of those tombstones fails. The truncation used to fail with it, and the
// replica, which takes a truncation as done, persisted a log view over the ops it was to drop
// (swarm seed 2031901162 with sync errors). The tombstones are written and synced again, the
// truncation succeeds, and a restart finds the log cut after op 3.
func TestTruncationSurvivesAFailedSync(t *testing.T) {
	opts := storage.Options{SegmentEntriesMax: 12, EntryBodyMax: 4096}
	eachDisk(t, func(t *testing.T, d *disk) {
		fill(t, d, opts, 5)
		d.restart()
		plain := d.fs
		failing := &failingSyncFS{FS: plain, armed: true}
		d.fs = failing
		s, _ := d.mustOpen(t, opts)
		d.must(t, "TruncateAfter", func(done func(error)) { s.TruncateAfter(3, done) })
		if failing.failed != 1 {
			t.Fatalf("%d syncs failed, want 1", failing.failed)
		}
		d.fs = plain
		d.restart()
		s, rec := d.mustOpen(t, opts)
		if s.Head() != 3 || len(rec.Faulty) != 0 {
			t.Fatalf("head %d, faulty %v: ops 4-5, truncated, came back", s.Head(), rec.Faulty)
		}
	})
}
