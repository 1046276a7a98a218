package storage_test

import (
	"slices"
	"testing"

	"vopr/cluster/storage"
)

// distrustedHeadOverATornAppend builds the disk of swarm seed 2026754803 in small: ops 13-16
// of an older view above checkpoint 12, a peer's checkpoint 16 installed over them, and the
// append of op 17 torn by a crash (its last sector lost, its record never written). Then
// checkpoint 16 rots, and Open falls back to 12: ops 13-16 are distrusted, whole but of
// unknown identity (placed), op 16 is the head, and op 17's torn copy lies past it. It returns
// the open storage and where op 16's entry ends.
func distrustedHeadOverATornAppend(t *testing.T, d *disk) (*storage.Storage, int64) {
	t.Helper()
	s := staleAbove12(t, d, distrustOptions, 16)
	d.must(t, "InstallCheckpoint", func(done func(error)) { s.InstallCheckpoint(16, []byte("a peer's state at 16"), done) })
	if err := d.append(t, s, 17, slices.Repeat([]byte("torn"), 300)); err != nil { // three sectors
		t.Fatalf("Append(17): %v", err)
	}
	at := places(t, d)
	p16, p17 := at[16], at[17]
	if p17.size < 2*storage.SectorSize || p17.offset != p16.offset+p16.size {
		t.Fatalf("op 17 at %+v above op 16 at %+v: want a multi-sector entry right after op 16", p17, p16)
	}
	raw := d.raw(p17.file)
	clear(raw[p17.offset+p17.size-storage.SectorSize : p17.offset+p17.size]) // the lost sector
	rec := int64(17%uint64(distrustOptions.SegmentEntriesMax)) * storage.SectorSize
	clear(raw[rec : rec+storage.SectorSize]) // the record, never written
	d.setRaw(p17.file, raw)
	flipBit(d, "checkpoint-0000000000000010", 10)
	d.restart()
	s, r := d.mustOpen(t, distrustOptions)
	if r.State.CheckpointOp != 12 || r.CheckpointDamaged != 16 || s.Head() != 16 ||
		!slices.Equal(r.Faulty, opsRange(13, 16)) || len(r.FaultyPrefix) != 0 {
		t.Fatalf("recovery: damaged %d, checkpoint %d, head %d, faulty %v, prefixes %d: want the fallback to 12, "+
			"ops 13-16 faulty of unknown identity", r.CheckpointDamaged, r.State.CheckpointOp, s.Head(), r.Faulty,
			len(r.FaultyPrefix))
	}
	return s, p16.offset + p16.size
}

// TestUnfinishedAppendAboveADistrustedHeadIsCut: Open cuts the torn append past a head it
// distrusts, whose entry lies whole, at that entry's end, as it cuts one past a head whose
// record it keeps. The head's damaged region ran to the end of the file instead, so the torn
// copy stayed, and the next append of op 17 went after it: a torn entry of op 17 below its
// entry, which Verify reported as damage the disk had not done (swarm seed 2026754803).
func TestUnfinishedAppendAboveADistrustedHeadIsCut(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		s, end := distrustedHeadOverATornAppend(t, d)
		file := segments(d)[len(segments(d))-1]
		if size := int64(len(d.raw(file))); size != end {
			t.Fatalf("%s ends at %d: want it cut at %d, the end of op 16's entry", file, size, end)
		}
		d.must(t, "InstallCheckpoint", func(done func(error)) { s.InstallCheckpoint(16, []byte("a peer's state at 16"), done) })
		if err := d.append(t, s, 17, body(17)); err != nil {
			t.Fatalf("Append(17): %v", err)
		}
		if p := places(t, d)[17]; p.offset != end {
			t.Fatalf("op 17 appended at %d: want %d, right after op 16's entry", p.offset, end)
		}
	})
}

// TestVerifyChecksTheChainFromTheAnchor: a peer's checkpoint 16 installed over this log's
// distrusted op 16 anchors the ops above at its own chain sum, not at that entry's. Verify
// checks the hash chain from the checkpoint's anchor up: the stale entry of the checkpoint
// op, and its link to op 17 once a later checkpoint lies above both, are left on disk until
// compaction and are no damage. Verify reported them (the checkpoint entry differing from the
// anchor; op 17's chain broken), on a disk nothing had damaged since (swarm seed 2026754803:
// op 65 above state-synced checkpoint 64, verified at checkpoint 192).
func TestVerifyChecksTheChainFromTheAnchor(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		s, _ := distrustedHeadOverATornAppend(t, d)
		d.must(t, "InstallCheckpoint", func(done func(error)) { s.InstallCheckpoint(16, []byte("a peer's state at 16"), done) })
		for op := uint64(17); op <= 18; op++ {
			if err := d.append(t, s, op, body(op)); err != nil {
				t.Fatalf("Append(%d): %v", op, err)
			}
		}
		if r := d.verify(t, s); !r.OK || len(r.Faulty) != 0 {
			t.Fatalf("Verify at checkpoint 16: faulty %v, problems %v", r.Faulty, r.Problems)
		}
		d.checkpoint(t, s, 18, []byte("state at 18"))
		if r := d.verify(t, s); !r.OK || len(r.Faulty) != 0 {
			t.Fatalf("Verify at checkpoint 18: faulty %v, problems %v", r.Faulty, r.Problems)
		}
	})
}
