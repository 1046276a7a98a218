package storage_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"testing"

	"vopr/cluster/checksum"
	"vopr/cluster/storage"
)

// recordOf encodes the redundant record sector of an encoded entry, as record.go lays it out
// for Options.RecordPrefix 0 (magic, prefix length, the entry's header; checksum first).
func recordOf(entry []byte) []byte {
	b := make([]byte, storage.SectorSize)
	binary.LittleEndian.PutUint64(b[16:], recordMagic)
	copy(b[32:], entry[:storage.HeaderSize])
	sum := checksum.Of(b[16:])
	copy(b, sum[:])
	return b
}

// staleBelowLayout builds storage crash seed 2211559073 in small. Segment 1 holds ops 4-7.
// The engine appended ops 4, 5 and 6 (an older history), and a cut that did not happen left
// the entries of ops 5 and 6 in place when the log went on past them: op 5 again, the same
// prepare (a view change keeps it), above the older entries, then op 6, another prepare, after
// it; their records name the new entries. Then op 6's newest entry lost its identity: its
// header and its record damaged. Op 6's only intact copy is the older one, which lies below op
// 5's newest entry and which no intact record names. With olderFiveTorn, op 5's older entry
// is damaged too (its header sector), so op 5's only intact copy is the newest.
//
// The layout is built from the engine's own appends (ops 1-6: the older entries of 5 and 6)
// and its encoder (EncodeEntry) for the newer entries placed above them, with their records
// laid out as record.go does (recordOf). Through the API, an append lands right after the
// entry (or the damaged region) below it, and a region that ran past the older entries (a
// checkpoint op's, or a faulty head's of unknown extent) is cut back before anything is
// appended past it (checkpoint_region.go, cutPastHead, cutUnfinished): the seed reached it
// through a long history of failed cuts and hidden sectors that a unit test cannot replay.
func staleBelowLayout(t *testing.T, d *disk, olderFiveTorn bool) {
	t.Helper()
	fill(t, d, smallSegments, 6)
	const seg = "log-0000000000000001"
	where := places(t, d)
	for op := uint64(4); op <= 6; op++ {
		if where[op].file != seg {
			t.Fatalf("op %d in %s, want %s", op, where[op].file, seg)
		}
	}
	raw := d.raw(seg)
	h4, _, err := storage.DecodeEntry(raw[where[4].offset:])
	if err != nil {
		t.Fatalf("op 4's entry: %v", err)
	}
	at5 := where[6].offset + where[6].size // above the older entries of 5 and 6
	e5 := storage.EncodeEntry(testState.Cluster, 5, at5, h4.Chain(), body(5))
	h5, err := storage.DecodeHeader(e5)
	if err != nil {
		t.Fatal(err)
	}
	at6 := at5 + int64(len(e5))
	e6 := storage.EncodeEntry(testState.Cluster, 6, at6, h5.Chain(), bytes.Repeat([]byte{0x66}, 700))
	raw = append(raw[:at5], append(e5, e6...)...)
	copy(raw[1*storage.SectorSize:], recordOf(e5)) // op 5's record sector (5 % 4)
	damaged := bytes.Repeat([]byte{0xa5}, storage.SectorSize)
	copy(raw[at6:], damaged)                  // op 6's newest header
	copy(raw[2*storage.SectorSize:], damaged) // op 6's record sector
	if olderFiveTorn {
		copy(raw[where[5].offset:], damaged)
	}
	d.setRaw(seg, raw)
	d.restart()
}

// TestStaleEntryBelowAnEarlierOpIsFaulty: Open must hold op 6 faulty (staleBelow), never
// return its older body as op 6's: the replica acknowledged another prepare there. A
// segment's entries are appended in op order, so an entry below the newest entry of a lower
// op of its segment is an older append's. Op 6's older entry chains onto op 5's prepare,
// the same in both histories, so the hash chain does not tell it apart: only its place does.
// With op 5's older entry intact too, op 5 has two intact copies of one chain sum, and the
// slot keeps the first (the older): its newest is where its intact record says (newestAt).
func TestStaleEntryBelowAnEarlierOpIsFaulty(t *testing.T) {
	for _, torn := range []bool{true, false} {
		t.Run(fmt.Sprintf("older_five_torn=%t", torn), func(t *testing.T) {
			eachDisk(t, func(t *testing.T, d *disk) {
				staleBelowLayout(t, d, torn)
				s, rec := d.mustOpen(t, smallSegments)
				for _, e := range rec.Entries {
					if e.Op == 6 {
						t.Fatalf("op 6 recovered intact with the body of its older entry (stale: %t), which lies "+
							"below op 5's newest entry and no intact record names; entries %v, faulty %v",
							bytes.Equal(e.Body, body(6)), entriesOf(rec), rec.Faulty)
					}
				}
				if s.Head() != 6 || !slices.Equal(rec.Faulty, []uint64{6}) {
					t.Fatalf("head %d, entries %v, faulty %v: want ops 1-5 intact, op 6 faulty",
						s.Head(), entriesOf(rec), rec.Faulty)
				}
				if got, err := d.read(t, s, 5); err != nil || !bytes.Equal(got, body(5)) {
					t.Fatalf("read(5): %v", err)
				}
			})
		})
	}
}
