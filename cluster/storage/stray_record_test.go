package storage_test

import (
	"bytes"
	"slices"
	"testing"

	"vopr/cluster/storage"
)

// strayOverOp11 moves op 13's record (ops 1-13 appended) onto the last sector of op 11's
// entry, as a misdirected record write carries it there, and leaves op 13's own record
// sector unwritten. With damage13, op 13's entry is damaged too.
func strayOverOp11(t *testing.T, d *disk, damage13 bool) {
	t.Helper()
	fill(t, d, recordOptions, 13)
	where := places(t, d)
	name, offset := recordSector(13)
	last := where[11].offset + where[11].size - storage.SectorSize
	if where[11].file != name || where[13].file != name || last <= where[11].offset {
		t.Fatalf("ops 11 (%+v) and 13 (%+v) are not entries of op 13's record file, op 11 of two sectors",
			where[11], where[13])
	}
	b := d.raw(name)
	copy(b[last:last+storage.SectorSize], b[offset:offset+storage.SectorSize])
	clear(b[offset : offset+storage.SectorSize])
	d.setRaw(name, b)
	if damage13 {
		scribble(d, name, where[13].offset+storage.HeaderSize, 8)
	}
	d.restart()
}

// repairOp11 writes op 11 again (its repair: the stray copy of op 13's record in its
// entry's sector goes), then damages op 13's entry and restarts.
func repairOp11(t *testing.T, d *disk, s *storage.Storage, damage13 bool) {
	t.Helper()
	where := places(t, d)
	d.must(t, "Rewrite(11)", func(done func(error)) { s.Rewrite(storage.Entry{Op: 11, Body: body(11)}, done) })
	if damage13 {
		scribble(d, where[13].file, where[13].offset+storage.HeaderSize, 8)
	}
	d.restart()
}

// TestStrayRecordOfAnIntactEntryIsWrittenInPlace: op 13's record write was misdirected into
// op 11's entry, and op 13's own record sector stayed unwritten. Open finds op 13 intact, its
// record only as a stray copy in another op's sectors, and must write the record in its own
// sector: the repair of op 11 overwrites the stray, and when op 13's entry is damaged next,
// the op is faulty (known), never dropped as an append that never finished (swarm seed
// 2026761680: op 490's record in op 452's entry, op 452 repaired, op 490's entry damaged, and
// the next recovery dropped acknowledged, committed op 490).
func TestStrayRecordOfAnIntactEntryIsWrittenInPlace(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		strayOverOp11(t, d, false)
		s, rec := d.mustOpen(t, recordOptions)
		if s.Head() != 13 || !slices.Equal(rec.Faulty, []uint64{11}) {
			t.Fatalf("first Open: head %d, faulty %v: want op 11 faulty (the stray over it), op 13 intact",
				s.Head(), rec.Faulty)
		}
		name, offset := recordSector(13)
		if AllZero(d.raw(name)[offset : offset+storage.SectorSize]) {
			t.Error("Open left op 13's record only in op 11's entry")
		}
		repairOp11(t, d, s, true)
		s, rec = d.mustOpen(t, recordOptions)
		if s.Head() != 13 || !slices.Equal(rec.Faulty, []uint64{13}) {
			t.Fatalf("head %d, faulty %v: want op 13 faulty, not dropped as unfinished", s.Head(), rec.Faulty)
		}
		if !bytes.Equal(rec.FaultyPrefix[13], body(13)[:16]) {
			t.Fatalf("op 13: prefix %x, want its record's %x", rec.FaultyPrefix[13], body(13)[:16])
		}
	})
}

// TestStrayRecordOfAFaultyEntryIsWrittenInPlace: as above, but op 13's entry is damaged
// already at the first Open, which holds it faulty of the identity the stray names; that
// identity must not rest on the stray either.
func TestStrayRecordOfAFaultyEntryIsWrittenInPlace(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		strayOverOp11(t, d, true)
		s, rec := d.mustOpen(t, recordOptions)
		if s.Head() != 13 || !slices.Equal(rec.Faulty, []uint64{11, 13}) ||
			!bytes.Equal(rec.FaultyPrefix[13], body(13)[:16]) {
			t.Fatalf("first Open: head %d, faulty %v, op 13's prefix %x: want ops 11 and 13 faulty, 13 known",
				s.Head(), rec.Faulty, rec.FaultyPrefix[13])
		}
		repairOp11(t, d, s, false)
		s, rec = d.mustOpen(t, recordOptions)
		if s.Head() != 13 || !slices.Equal(rec.Faulty, []uint64{13}) {
			t.Fatalf("head %d, faulty %v: want op 13 faulty, not dropped as unfinished", s.Head(), rec.Faulty)
		}
		if !bytes.Equal(rec.FaultyPrefix[13], body(13)[:16]) {
			t.Fatalf("op 13: prefix %x, want its record's %x", rec.FaultyPrefix[13], body(13)[:16])
		}
	})
}
