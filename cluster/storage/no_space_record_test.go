package storage_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"testing"

	"vopr/cluster/storage"
)

// noSpaceRecordFS fails the first record write (a sector starting a redundant record) with
// ErrNoSpace once armed, applying nothing, as the FS contract allows of any write: on a real
// file system the record area of a segment is a hole (its first entry is written past it),
// and filling a record sector allocates a block that a full disk does not have.
type noSpaceRecordFS struct {
	storage.FS
	armed bool
}

func (f *noSpaceRecordFS) WriteAt(name string, data []byte, offset int64, done func(error)) {
	const recordMagic = 0x31434552524f5056 // "VOPRREC1", record.go's
	if !f.armed || len(data) != storage.SectorSize || binary.LittleEndian.Uint64(data[16:]) != recordMagic {
		f.FS.WriteAt(name, data, offset, done)
		return
	}
	f.armed = false
	f.FS.List(func([]string, error) { done(fmt.Errorf("record sector at %d: %w", offset, storage.ErrNoSpace)) })
}

// TestNoSpaceForTheRecordCutsTheEntry: the append of op 3 writes and syncs its entry, and
// the write of its record fails with ErrNoSpace. The append fails (the replica never
// acknowledges op 3, and may replace it in a view change and persist a log view without
// it), so the entry must not stay past the head: left there without a record, the next Open
// takes it for an append a crash cut before its record (finishRecords) and brings op 3 back
// intact, as an append that failed on a write error once did (cutFailedAppend, swarm seed
// 2027131668). The ErrNoSpace path skipped that cut.
func TestNoSpaceForTheRecordCutsTheEntry(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		opts := smallSegments
		fill(t, d, opts, 2)
		d.restart()
		plain := d.fs
		defer func() { d.fs = plain }()
		d.fs = &noSpaceRecordFS{FS: plain, armed: true}
		s, _ := d.mustOpen(t, opts)
		if err := d.append(t, s, 3, body(3)); !errors.Is(err, storage.ErrNoSpace) {
			t.Fatalf("Append(3): %v, want ErrNoSpace", err)
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
