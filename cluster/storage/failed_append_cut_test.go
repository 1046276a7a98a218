package storage_test

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"vopr/cluster/storage"
)

// failedCutFS fails (ErrNoSpace, nothing applied) the first record write once armed, and then,
// while truncFails, every Truncate (ErrIO, nothing cut): the failed append's own cut
// (cutFailedAppend) fails, as a truncation on a real file system may (an I/O error; a
// copy-on-write file system with no block for its metadata on a full disk).
type failedCutFS struct {
	noSpaceRecordFS
	truncFails bool
	refused    int
}

func (f *failedCutFS) Truncate(name string, size int64, done func(error)) {
	if !f.truncFails {
		f.noSpaceRecordFS.FS.Truncate(name, size, done)
		return
	}
	f.refused++
	f.noSpaceRecordFS.FS.List(func([]string, error) { done(fmt.Errorf("truncate %s: %w", name, storage.ErrIO)) })
}

// failAppendAndItsCut opens d over ops 1-2 (fill) with failedCutFS, and fails the append of
// op 3 at its record write, then its cut: op 3's entry stays past the head.
func failAppendAndItsCut(t *testing.T, d *disk) (*storage.Storage, *storage.Recovery, *failedCutFS) {
	t.Helper()
	fill(t, d, smallSegments, 2)
	d.restart()
	f := &failedCutFS{noSpaceRecordFS: noSpaceRecordFS{FS: d.fs, armed: true}, truncFails: true}
	d.fs = f
	s, rec := d.mustOpen(t, smallSegments)
	if err := d.append(t, s, 3, body(3)); err == nil {
		t.Fatal("Append(3) succeeded though its record write failed")
	}
	if f.refused == 0 {
		t.Fatal("the failed append's cut was never tried")
	}
	return s, rec, f
}

// TestFailedAppendCutIsNotPersistedOver: the append of op 3 writes and syncs its entry, its
// record write fails (ErrNoSpace), and the cut of the entry (cutFailedAppend) fails too. The
// replica never acknowledged op 3; a view change then persists a new log view (log view 2)
// over a log ending at op 2, and the replica crashes. Left past the head, op 3's entry came
// back at the next Open as an append a crash cut before its record (finishRecords), intact
// under log view 2: a prepare of an older view claimed as the new log view's (what the cut
// exists to prevent: swarm seed 2027131668). A superblock write must not land while a failed
// append's entry is still on disk: it completes the cut first, or fails.
func TestFailedAppendCutIsNotPersistedOver(t *testing.T) {
	for _, roomAgain := range []bool{false, true} {
		t.Run(fmt.Sprintf("room_again=%t", roomAgain), func(t *testing.T) {
			eachDisk(t, func(t *testing.T, d *disk) {
				plain := d.fs
				defer func() { d.fs = plain }()
				s, rec, f := failAppendAndItsCut(t, d)
				f.truncFails = !roomAgain
				next := rec.State
				next.View, next.LogView = 2, 2
				saved := d.do(t, func(done func(error)) { s.SaveState(next, done) })
				if roomAgain && saved != nil {
					t.Fatalf("SaveState with the cut possible again: %v", saved)
				}
				d.fs = plain
				d.restart()
				s, rec = d.mustOpen(t, smallSegments)
				if rec.State.LogView == 2 && (s.Head() != 2 || !slices.Equal(entriesOf(rec), []uint64{1, 2}) || len(rec.Faulty) != 0) {
					t.Fatalf("log view 2 persisted (SaveState: %v) over head %d, entries %v, faulty %v: "+
						"op 3, whose append failed, came back under it", saved, s.Head(), entriesOf(rec), rec.Faulty)
				}
			})
		})
	}
}

// TestFailedAppendCutDebtGoesWithTheLog: the cut of op 3's failed append fails (a debt the
// next superblock write pays), then the log moves on under it: op 2 is replaced by a larger
// entry (a view change), whose bytes now cover where op 3's entry began. The debt is gone
// with op 3's old entry (the truncation removed it); paid anyway, it cut op 2's new,
// acknowledged entry, which came back faulty (storage crash seed 147810975307, with the first
// version of the debt: op 1 replaced after op 2's failed append).
func TestFailedAppendCutDebtGoesWithTheLog(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		plain := d.fs
		defer func() { d.fs = plain }()
		s, rec, f := failAppendAndItsCut(t, d)
		f.truncFails = false
		d.must(t, "TruncateAfter(1)", func(done func(error)) { s.TruncateAfter(1, done) })
		larger := bytes.Repeat([]byte{0xa5}, 3*len(body(2)))
		if err := d.append(t, s, 2, larger); err != nil {
			t.Fatalf("Append(2) again: %v", err)
		}
		next := rec.State
		next.View, next.LogView = 2, 2
		d.must(t, "SaveState", func(done func(error)) { s.SaveState(next, done) })
		d.fs = plain
		d.restart()
		s, rec = d.mustOpen(t, smallSegments)
		got, err := d.read(t, s, 2)
		if s.Head() != 2 || len(rec.Faulty) != 0 || err != nil || !bytes.Equal(got, larger) {
			t.Fatalf("head %d, entries %v, faulty %v, read(2): %v: want ops 1-2, op 2 the larger entry",
				s.Head(), entriesOf(rec), rec.Faulty, err)
		}
	})
}
