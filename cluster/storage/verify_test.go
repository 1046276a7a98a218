package storage_test

import (
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"vopr/cluster/storage"
)

// TestVerifyFindsAnyFlippedBit: a single flipped bit anywhere in a log segment (above or
// below the checkpoint) or in the checkpoint file is found, located, and its op reported.
func TestVerifyFindsAnyFlippedBit(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		s := fill(t, d, smallSegments, 14)
		d.checkpoint(t, s, 9, []byte("the state machine at op 9"))
		if r := d.verify(t, s); !r.OK {
			t.Fatalf("Verify of an intact disk: %v", r.Problems)
		}
		files := append(segments(d), "checkpoint-0000000000000009")
		where := places(t, d)
		rapid.Check(t, func(rt *rapid.T) {
			file := rapid.SampledFrom(files).Draw(rt, "file")
			size := int64(len(d.raw(file)))
			bit := rapid.Int64Range(0, size*8-1).Draw(rt, "bit")
			flipBit(d, file, bit)
			defer flipBit(d, file, bit)
			r := d.verify(t, s)
			first, bad := r.FirstBad()
			if r.OK || !bad || first.File != file {
				rt.Fatalf("flip of bit %d of %s: report %+v", bit, file, r)
			}
			if !strings.HasPrefix(file, "log-") {
				return
			}
			if area := storage.RecordAreaSize(smallSegments.SegmentEntriesMax); bit/8 < area {
				// A record: reported at its sector; its entry is still intact.
				if sector := bit / 8 / storage.SectorSize * storage.SectorSize; first.Offset != sector || len(r.Faulty) != 0 {
					rt.Fatalf("flip in the record at %d: first bad %v, faulty %v", sector, first, r.Faulty)
				}
				return
			}
			op, p := entryAt(where, file, bit/8)
			if first.Offset != p.offset {
				rt.Fatalf("flip in op %d at %d: first bad %v", op, p.offset, first)
			}
			if op > 9 && !slices.Equal(r.Faulty, []uint64{op}) {
				rt.Fatalf("flip in op %d: faulty %v", op, r.Faulty)
			}
		})
	})
}

// entryAt finds the entry holding a byte of a segment.
func entryAt(where map[uint64]place, file string, pos int64) (uint64, place) {
	for op, p := range where {
		if p.file == file && p.offset <= pos && pos < p.offset+p.size {
			return op, p
		}
	}
	return 0, place{}
}

// TestVerifySuperblock: damage to any superblock copy is reported.
func TestVerifySuperblock(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		s := fill(t, d, smallSegments, 2)
		for copyIndex := range 4 {
			flipBit(d, "superblock", int64(copyIndex*512+200)*8)
			r := d.verify(t, s)
			if r.OK || r.SuperblockCopiesIntact != 3 || r.Problems[0].File != "superblock" {
				t.Fatalf("copy %d damaged: %+v", copyIndex, r)
			}
			flipBit(d, "superblock", int64(copyIndex*512+200)*8)
		}
	})
}

// TestVerifyMissingSegment: a segment removed behind the engine's back is reported.
func TestVerifyMissingSegment(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		s := fill(t, d, smallSegments, 9)
		last := segments(d)[len(segments(d))-1]
		d.setRaw(last, nil)
		r := d.verify(t, s)
		if r.OK || !slices.Contains(r.Faulty, 9) {
			t.Fatalf("report %+v", r)
		}
	})
}

// TestVerifyLiveEngineAfterCommits: Verify of a running engine, with ops committed (audited)
// since its checkpoint, recomputes the audit chain over exactly those ops and reports the
// disk intact with the engine's own audit op and head. Verify is public and runs on a live
// engine as well as on a fresh Open (whose audit op is the checkpoint's): an audit walk that
// stopped one op short reported every healthy, busy replica's chain as broken.
func TestVerifyLiveEngineAfterCommits(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		s := fill(t, d, smallSegments, 14)
		d.checkpoint(t, s, 9, []byte("the state machine at op 9"))
		for _, op := range []uint64{10, 12, 14} {
			head, err := s.Commit(op)
			if err != nil {
				t.Fatalf("Commit(%d): %v", op, err)
			}
			r := d.verify(t, s)
			if !r.OK || r.AuditOp != op || r.AuditHead != head {
				t.Fatalf("Verify after Commit(%d): ok=%v audit op %d (want %d), head match %v, problems %v",
					op, r.OK, r.AuditOp, op, r.AuditHead == head, r.Problems)
			}
		}
	})
}
