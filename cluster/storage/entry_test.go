package storage

import (
	"bytes"
	"testing"

	"pgregory.net/rapid"

	"vopr/cluster/checksum"
)

// FuzzDecodeEntry: the entry decoder never panics, and whatever it accepts re-encodes to the
// same bytes. The seed corpus is in testdata/fuzz/FuzzDecodeEntry.
func FuzzDecodeEntry(f *testing.F) {
	f.Add(EncodeEntry(7, 1, 0, checksum.Sum{}, []byte("op one")))
	f.Add(EncodeEntry(7, 9, 4096, checksum.Of([]byte("p")), bytes.Repeat([]byte{0xab}, 700)))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, body, err := DecodeEntry(b)
		if err != nil {
			return
		}
		again := EncodeEntry(h.Cluster, h.Op, h.Offset, h.Parent, body)
		if !bytes.Equal(again, b[:h.Size()]) {
			t.Fatal("an accepted entry does not re-encode to its bytes")
		}
	})
}

func TestEntryRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		body := rapid.SliceOfN(rapid.Byte(), 0, 2000).Draw(t, "body")
		op := rapid.Uint64Range(1, 1<<40).Draw(t, "op")
		offset := rapid.Int64Range(0, 1<<30).Draw(t, "sectors") * SectorSize
		parent := checksum.Of(rapid.SliceOf(rapid.Byte()).Draw(t, "parent"))
		b := EncodeEntry(3, op, offset, parent, body)
		h, got, err := DecodeEntry(b)
		if err != nil || !bytes.Equal(got, body) || h.Op != op || h.Offset != offset ||
			h.Parent != parent || h.Cluster != 3 || h.Size() != int64(len(b)) {
			t.Fatalf("round trip: %+v, %v", h, err)
		}
		bit := rapid.IntRange(0, len(b)*8-1).Draw(t, "bit")
		b[bit/8] ^= 1 << (bit % 8)
		if _, _, err := DecodeEntry(b); err == nil {
			t.Fatalf("flipped bit %d not detected", bit)
		}
	})
}

// TestDecodersNeverPanic feeds every on-disk decoder garbage, including garbage with a valid
// checksum where one is needed to reach the field checks.
func TestDecodersNeverPanic(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		b := rapid.SliceOfN(rapid.Byte(), 0, 1200).Draw(t, "bytes")
		_, _ = DecodeHeader(b)
		_, _, _ = DecodeEntry(b)
		_, _ = decodeSuperblock(b)
		_, _, _ = decodeCheckpointFile(b)
		_, _ = parseBackup(b, Options{SegmentEntriesMax: 4, EntryBodyMax: 4096})
		if len(b) >= superblockCopySize {
			sb := append([]byte{}, b[:superblockCopySize]...)
			sum := checksum.Of(sb[16:])
			copy(sb, sum[:])
			_, _ = decodeSuperblock(sb)
		}
		if len(b) >= HeaderSize {
			h := append([]byte{}, b[:HeaderSize]...)
			sum := checksum.Of(h[16:])
			copy(h, sum[:])
			_, _ = DecodeHeader(h)
		}
	})
}

// TestSuperblockAuditedRoundTrip: a checkpoint's audited op survives the superblock's
// encoding, and a copy that puts it below op 0 (more unaudited ops than the checkpoint's op)
// is refused, though its checksum holds.
func TestSuperblockAuditedRoundTrip(t *testing.T) {
	sb := superblock{Sequence: 3, SegmentEntriesMax: 64, EntryBodyMax: 4096,
		State:      State{Cluster: 7, CheckpointOp: 64},
		Checkpoint: checkpointRef{Size: 10, Checksum: checksum.Of([]byte("file")), Audited: 46}}
	got, err := decodeSuperblock(encodeSuperblock(sb))
	if err != nil || got != sb {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	b := encodeSuperblock(sb)
	b[166] = 65 // 65 unaudited ops under checkpoint 64
	sum := checksum.Of(b[16:])
	copy(b, sum[:])
	if _, err := decodeSuperblock(b); err == nil {
		t.Fatal("a superblock auditing below op 0 decoded")
	}
}

// TestSuperblockPreviousRoundTrip: the previous checkpoint survives the superblock's
// encoding, and a copy naming a previous checkpoint at or above the current one is refused,
// though its checksum holds.
func TestSuperblockPreviousRoundTrip(t *testing.T) {
	sb := superblock{Sequence: 9, SegmentEntriesMax: 64, EntryBodyMax: 4096,
		State:      State{Cluster: 7, CheckpointOp: 128, AuditHead: [32]byte{1}},
		Checkpoint: checkpointRef{Size: 10, Checksum: checksum.Of([]byte("file 128")), Audited: 128},
		Previous: previousCheckpoint{Op: 64, AuditHead: [32]byte{2},
			Ref: checkpointRef{Size: 12, Checksum: checksum.Of([]byte("file 64")), Chain: checksum.Of([]byte("op 64")), Audited: 60}}}
	got, err := decodeSuperblock(encodeSuperblock(sb))
	if err != nil || got != sb {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	b := encodeSuperblock(sb)
	b[174] = 128 // the previous checkpoint at the current one's op
	sum := checksum.Of(b[16:])
	copy(b, sum[:])
	if _, err := decodeSuperblock(b); err == nil {
		t.Fatal("a superblock whose previous checkpoint is not below the current one decoded")
	}
}

// TestSuperblockJoinedEmptyRoundTrip: the joined-empty flag survives the superblock's
// encoding, and a copy with an unknown flag bit is refused, though its checksum holds.
func TestSuperblockJoinedEmptyRoundTrip(t *testing.T) {
	for _, joined := range []bool{false, true} {
		sb := superblock{Sequence: 2, SegmentEntriesMax: 64, EntryBodyMax: 4096,
			State: State{Cluster: 7, Epoch: 2, Boots: 1, JoinedEmpty: joined}}
		got, err := decodeSuperblock(encodeSuperblock(sb))
		if err != nil || got != sb {
			t.Fatalf("round trip of joined %t: %+v, %v", joined, got, err)
		}
	}
	b := encodeSuperblock(superblock{Sequence: 2, SegmentEntriesMax: 64, EntryBodyMax: 4096, State: State{Cluster: 7}})
	b[91] = 2 // a flag no version defines
	sum := checksum.Of(b[16:])
	copy(b, sum[:])
	if _, err := decodeSuperblock(b); err == nil {
		t.Fatal("a superblock with an unknown flag decoded")
	}
}
