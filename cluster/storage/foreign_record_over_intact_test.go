package storage_test

import (
	"slices"
	"testing"

	"vopr/cluster/storage"
)

// TestForeignRecordOverAnIntactEntryIsWrittenAgain: a misdirected write left op 1's whole
// record over op 3's record sector; op 3's entry is intact, so Open returns it, and the
// replica acts on it (it was acknowledged). Its entry is then op 3's only copy: Open must
// write op 3's record again, as it does over a record sector it finds damaged (storage crash
// seed 45826), or the rot of that entry before the next boot leaves a damaged head under a
// record sector that names another op, which recovery reads as an append that never finished
// (a landing is no evidence: TestForeignRecordOverATornAppendIsNoEvidence) and drops op 3.
// Open skipped the records that verify as another op's.
func TestForeignRecordOverAnIntactEntryIsWrittenAgain(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		opts := smallSegments
		fill(t, d, opts, 3)
		const file = "log-0000000000000000"
		raw := d.raw(file)
		sector := func(i int64) []byte { return raw[i*storage.SectorSize : (i+1)*storage.SectorSize] }
		copy(sector(3), slices.Clone(sector(1))) // op 1's record over op 3's
		d.setRaw(file, raw)
		d.restart()
		s, rec := d.mustOpen(t, opts)
		if s.Head() != 3 || len(rec.Faulty) != 0 || !slices.Equal(entriesOf(rec), []uint64{1, 2, 3}) {
			t.Fatalf("first open: head %d, faulty %v, entries %v: want ops 1-3 intact", s.Head(), rec.Faulty,
				entriesOf(rec))
		}
		requireRotKeepsOp3(t, d, opts)
	})
}

// requireRotKeepsOp3 restarts d, rots op 3's entry and opens it again: op 3, which the first
// Open returned intact (its record written again there), must stay in the log, faulty.
func requireRotKeepsOp3(t *testing.T, d *disk, opts storage.Options) {
	t.Helper()
	d.restart()
	flipEntryBody(t, d, 3)
	s, rec := d.mustOpen(t, opts)
	if s.Head() != 3 || !slices.Equal(rec.Faulty, []uint64{3}) {
		t.Fatalf("second open: head %d, faulty %v, entries %v: op 3, returned intact by the first open, "+
			"must stay in the log (faulty) when its entry rots", s.Head(), rec.Faulty, entriesOf(rec))
	}
}
