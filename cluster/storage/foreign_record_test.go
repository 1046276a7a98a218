package storage_test

import (
	"slices"
	"testing"

	"vopr/cluster/storage"
)

// TestForeignRecordDoesNotEndTheEvidence builds storage crash seed 2048199845 in small: op
// 1's record written over op 2's record sector (a misdirected write of op 1's repair), op 2's
// entry damaged, and op 3's entry and record both unreadable. Op 3's damaged record proves its
// append finished: Open must return it faulty, not drop it. The foreign record at op 2 ended
// the run of written records, so op 3, acknowledged, was lost.
func TestForeignRecordDoesNotEndTheEvidence(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		opts := smallSegments
		fill(t, d, opts, 3)
		const file = "log-0000000000000000"
		at := places(t, d)
		raw := d.raw(file)
		sector := func(op uint64) []byte { return raw[int64(op)*storage.SectorSize : int64(op+1)*storage.SectorSize] }
		copy(sector(2), slices.Clone(sector(1))) // op 1's record over op 2's
		sector(3)[100] ^= 1                      // op 3's record rots
		for _, op := range []uint64{2, 3} {
			raw[at[op].offset+8] ^= 1 // and the headers of ops 2 and 3
		}
		d.setRaw(file, raw)
		d.restart()
		s, r := d.mustOpen(t, opts)
		if s.Head() != 3 || !slices.Equal(r.Faulty, []uint64{2, 3}) {
			t.Fatalf("head %d, faulty %v: want head 3, ops 2 and 3 faulty (op 3's damaged record proves it was written)",
				s.Head(), r.Faulty)
		}
	})
}

// TestForeignRecordOverATornAppendIsNoEvidence builds storage crash seed 1072540137867 in
// small: a misdirected write left op 1's whole record over op 3's record sector (above the
// head, where nothing had been written), and later op 3's append was torn by a crash: its
// header sector lost, a later sector of its entry kept, its record never written. The torn
// bytes past op 2 make op 3 the log's next op (entryEvidence), and a record sector naming
// another op is no evidence that op 3's append finished (record.go, damagedRecordEvidence):
// Open must drop op 3 as unfinished, as it does over zeros. It held op 3 faulty, of unknown
// identity: an op invented past the head that no replica can repair or deny.
func TestForeignRecordOverATornAppendIsNoEvidence(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		opts := smallSegments
		fill(t, d, opts, 2)
		const file = "log-0000000000000000"
		raw := d.raw(file)
		sector := func(i int64) []byte { return raw[i*storage.SectorSize : (i+1)*storage.SectorSize] }
		copy(sector(3), slices.Clone(sector(1)))   // op 1's record over op 3's (empty) record sector
		tail := make([]byte, 2*storage.SectorSize) // op 3's torn entry: header lost, body kept
		for i := storage.SectorSize; i < len(tail); i++ {
			tail[i] = 0x33
		}
		raw = append(raw, tail...)
		d.setRaw(file, raw)
		d.restart()
		s, r := d.mustOpen(t, opts)
		if s.Head() != 2 || len(r.Faulty) != 0 || !slices.Equal(entriesOf(r), []uint64{1, 2}) {
			t.Fatalf("head %d, faulty %v, entries %v: want head 2, ops 1 and 2 intact (op 3's append never finished)",
				s.Head(), r.Faulty, entriesOf(r))
		}
		if err := d.append(t, s, 3, body(3)); err != nil {
			t.Fatalf("Append(3): %v", err)
		}
		d.restart()
		s, r = d.mustOpen(t, opts)
		if s.Head() != 3 || len(r.Faulty) != 0 {
			t.Fatalf("after op 3 appended again: head %d, faulty %v", s.Head(), r.Faulty)
		}
	})
}
