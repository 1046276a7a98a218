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
