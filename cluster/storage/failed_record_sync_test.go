package storage_test

import (
	"bytes"
	"encoding/binary"
	"slices"
	"testing"

	"vopr/cluster/storage"
)

// recordFaultFS strikes the redundant record writes (a sector that starts a record) of one
// op: failSync fails (ErrIO) the sync after the next such write and leaves the write applied,
// as a failed fsync may on a real file system (the page stays in the cache, or had reached the
// platter: Rebello et al., ATC'20); lose drops the next such write and reports success (a lost
// or misdirected write: the sector keeps its old bytes).
type recordFaultFS struct {
	storage.FS
	op                     uint64
	failSync, lose, failed bool
	lost                   bool
}

func (f *recordFaultFS) isRecordOf(data []byte) bool {
	const recordMagic = 0x31434552524f5056 // "VOPRREC1", record.go's
	if len(data) != storage.SectorSize || binary.LittleEndian.Uint64(data[16:]) != recordMagic {
		return false
	}
	h, err := storage.DecodeHeader(data[32 : 32+storage.HeaderSize])
	return err == nil && h.Op == f.op
}

func (f *recordFaultFS) WriteAt(name string, data []byte, offset int64, done func(error)) {
	switch {
	case f.lose && f.isRecordOf(data):
		f.lose, f.lost = false, true
		f.FS.List(func([]string, error) { done(nil) }) // later, never inline
		return
	case f.failSync && f.isRecordOf(data):
		f.failSync, f.failed = false, true
		f.FS.WriteAt(name, data, offset, func(err error) {
			if err == nil {
				f.failSync = false
			}
			done(err)
		})
		return
	}
	f.FS.WriteAt(name, data, offset, done)
}

func (f *recordFaultFS) Sync(name string, done func(error)) {
	if !f.failed {
		f.FS.Sync(name, done)
		return
	}
	f.failed = false
	f.FS.List(func([]string, error) { done(storage.ErrIO) }) // the write stays in the file
}

// TestFailedRecordSyncLeavesNoRecord: the append of op 3 writes and syncs its entry, writes its
// record, and the record's sync fails; the append fails and cuts the entry (cutFailedAppend),
// but the record, which a failed fsync need not undo, stayed in place. The replica never
// acknowledged op 3; after a crash the next Open took the record for proof of a durable entry
// and returned op 3 faulty, named by the failed prepare's header: a replica whose log view
// moved on without op 3 then claimed that prepare, which its log view never held, in its
// do_view_change, where it could win over the prepare the view committed there. The failed
// append must leave op 3 absent, as one whose record write failed outright does
// (TestNoSpaceForTheRecordCutsTheEntry).
func TestFailedRecordSyncLeavesNoRecord(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		opts := smallSegments
		opts.RecordPrefix = 64
		fill(t, d, opts, 2)
		d.restart()
		plain := d.fs
		defer func() { d.fs = plain }()
		f := &recordFaultFS{FS: plain, op: 3, failSync: true}
		d.fs = f
		s, _ := d.mustOpen(t, opts)
		if err := d.append(t, s, 3, body(3)); err == nil {
			t.Fatal("Append(3) succeeded though its record's sync failed")
		}
		if s.Head() != 2 {
			t.Fatalf("head %d after the failed append, want 2", s.Head())
		}
		d.fs = plain
		d.restart()
		s, rec := d.mustOpen(t, opts)
		if s.Head() != 2 || len(rec.Faulty) != 0 || !slices.Equal(entriesOf(rec), []uint64{1, 2}) {
			t.Fatalf("head %d, faulty %v, entries %v: want ops 1-2 only (op 3's append failed)",
				s.Head(), rec.Faulty, entriesOf(rec))
		}
	})
}

// TestFailedRecordSyncThenAnotherPrepare: as above, then a view change puts another prepare at
// op 3 (the engine's head is 2: no truncation, so nothing writes over the failed append's
// record), whose append succeeds (the replica acknowledges it) but whose record write is lost.
// The next Open must not name op 3 by the failed prepare's record: a replica that holds op 3
// faulty with that identity denies having seen the prepare it acknowledged (nack_prepare), and
// a view change may truncate it though it committed.
func TestFailedRecordSyncThenAnotherPrepare(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		opts := smallSegments
		opts.RecordPrefix = 64
		fill(t, d, opts, 2)
		d.restart()
		plain := d.fs
		defer func() { d.fs = plain }()
		f := &recordFaultFS{FS: plain, op: 3, failSync: true}
		d.fs = f
		s, _ := d.mustOpen(t, opts)
		if err := d.append(t, s, 3, body(3)); err == nil {
			t.Fatal("Append(3) succeeded though its record's sync failed")
		}
		other := bytes.Repeat([]byte{0xB3}, len(body(3)))
		f.lose = true
		if err := d.append(t, s, 3, other); err != nil {
			t.Fatalf("Append(3) of the view's prepare: %v", err)
		}
		if !f.lost {
			t.Fatal("no record write of op 3 was lost")
		}
		d.fs = plain
		d.restart()
		s, rec := d.mustOpen(t, opts)
		if p, ok := rec.FaultyPrefix[3]; ok && bytes.Equal(p, body(3)[:len(p)]) {
			t.Fatalf("op 3 recovered faulty (%v) under the failed prepare's record", rec.Faulty)
		}
		if got, err := d.read(t, s, 3); err != nil || !bytes.Equal(got, other) {
			t.Fatalf("op 3 after the restart: %v (body equal %v), want the acknowledged prepare intact",
				err, bytes.Equal(got, other))
		}
	})
}
