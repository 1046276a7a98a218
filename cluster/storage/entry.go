package storage

import (
	"encoding/binary"
	"errors"
	"fmt"

	"vopr/cluster/checksum"
	"vopr/internal/assert"
)

// Entry is one log entry: an op and its opaque body (the replica stores its encoded prepare).
type Entry struct {
	Op   uint64
	Body []byte
}

// Header is the decoded header of a log entry. On disk (little endian):
//
//	0   Checksum     [16]  checksum of header bytes [16:128)
//	16  ChecksumBody [16]  checksum of the body and its zero padding, up to the sector end
//	32  Parent       [16]  the chain sum of entry Op-1 (the checkpoint's, or zero for op 1)
//	48  magic        u64
//	56  Cluster      u64
//	64  Op           u64
//	72  Offset       u64   the file offset the entry was written at
//	80  BodySize     u32
//	84  reserved     [44]  zero
//
// Op and Offset make every entry name its own place: a misdirected write (an entry landing at
// another entry's offset, or in another segment) is detected because it names another place.
// ChecksumBody covers the padding too, so every byte of a segment is under some checksum and a
// flipped bit anywhere is detected.
type Header struct {
	Checksum     checksum.Sum
	ChecksumBody checksum.Sum
	Parent       checksum.Sum
	Cluster      uint64
	Op           uint64
	Offset       int64
	BodySize     int
}

const entryMagic = 0x31474f4c52504f56 // "VOPRLOG1"

// ErrDecode wraps every error of the decoders of on-disk records.
var ErrDecode = errors.New("storage: undecodable record")

// entrySize returns the size on disk of an entry with a body of bodySize bytes.
func entrySize(bodySize int) int64 {
	assert.That(bodySize >= 0, "storage: negative body size")
	return alignUp(int64(HeaderSize + bodySize))
}

func alignUp(n int64) int64 {
	assert.That(n >= 0, "storage: aligning a negative size")
	return (n + SectorSize - 1) / SectorSize * SectorSize
}

// Size returns the entry's size on disk.
func (h Header) Size() int64 { return entrySize(h.BodySize) }

// Chain returns the entry's link in the hash chain: a checksum of its identity (cluster, op,
// body checksum, body size) and its parent. It does not cover Offset, so an entry keeps its
// chain sum when Restore rewrites it elsewhere, and its header checksum covers everything.
func (h Header) Chain() checksum.Sum {
	var b [16 + 16 + 8 + 8 + 4]byte
	copy(b[0:], h.Parent[:])
	copy(b[16:], h.ChecksumBody[:])
	binary.LittleEndian.PutUint64(b[32:], h.Cluster)
	binary.LittleEndian.PutUint64(b[40:], h.Op)
	binary.LittleEndian.PutUint32(b[48:], uint32(h.BodySize))
	return checksum.Of(b[:])
}

// EncodeEntry lays out an entry at offset: header, body and zero padding to the sector end.
func EncodeEntry(cluster, op uint64, offset int64, parent checksum.Sum, body []byte) []byte {
	b, _ := encodeEntry(cluster, op, offset, parent, body)
	return b
}

// encodeEntry is EncodeEntry that also returns the header it wrote, for an append that
// indexes the entry (decoding the bytes again would only recompute its checksum).
func encodeEntry(cluster, op uint64, offset int64, parent checksum.Sum, body []byte) ([]byte, Header) {
	return encodeEntryInto(nil, cluster, op, offset, parent, body)
}

// encodeEntryInto is encodeEntry in buf's array if it has room (a spare of an earlier
// append's, whose write is durable: Storage.spareEntry), else in a new one. The bytes are
// the same either way: every byte a field does not set is cleared.
func encodeEntryInto(buf []byte, cluster, op uint64, offset int64, parent checksum.Sum, body []byte) ([]byte, Header) {
	assert.That(op > 0, "storage: encoding op 0")
	assert.That(len(body) <= EntryBodyMaxLimit, "storage: encoding a body beyond the limit")
	assert.That(offset >= 0 && offset%SectorSize == 0, "storage: unaligned entry offset")
	size := entrySize(len(body))
	var b []byte
	if int64(cap(buf)) >= size {
		b = buf[:size]
		clear(b[:HeaderSize])
		clear(b[HeaderSize+len(body):])
	} else {
		b = make([]byte, size)
	}
	copy(b[HeaderSize:], body)
	sumBody := checksum.Of(b[HeaderSize:])
	copy(b[16:], sumBody[:])
	copy(b[32:], parent[:])
	binary.LittleEndian.PutUint64(b[48:], entryMagic)
	binary.LittleEndian.PutUint64(b[56:], cluster)
	binary.LittleEndian.PutUint64(b[64:], op)
	binary.LittleEndian.PutUint64(b[72:], uint64(offset))
	binary.LittleEndian.PutUint32(b[80:], uint32(len(body)))
	sum := checksum.Of(b[16:HeaderSize])
	copy(b[0:], sum[:])
	assert.That(len(b)%SectorSize == 0, "storage: entry not sector aligned")
	return b, Header{Checksum: sum, ChecksumBody: sumBody, Parent: parent, Cluster: cluster, Op: op,
		Offset: offset, BodySize: len(body)}
}

// DecodeHeader's errors, made once: scans decode a header at every sector they pass.
var (
	errHeaderChecksum = fmt.Errorf("%w: entry header checksum", ErrDecode)
	errHeaderMagic    = fmt.Errorf("%w: entry magic", ErrDecode)
	errHeaderReserved = fmt.Errorf("%w: entry reserved bytes", ErrDecode)
	errHeaderBounds   = fmt.Errorf("%w: entry header fields out of bounds", ErrDecode)
)

// DecodeHeader decodes and checks an entry header: checksum, magic, reserved bytes and
// bounds. It never panics, whatever b holds. The caller checks that the header names the place
// it was read from.
func DecodeHeader(b []byte) (h Header, err error) {
	if len(b) < HeaderSize {
		return Header{}, fmt.Errorf("%w: entry header of %d bytes", ErrDecode, len(b))
	}
	b = b[:HeaderSize]
	// Decoded in the result: a header decoded apart was copied into it, the copy rereading
	// with wide loads the fields just stored (a store-forwarding stall per header).
	copy(h.Checksum[:], b[0:16])
	if !checksum.Matches(b[16:], h.Checksum) {
		return Header{}, errHeaderChecksum
	}
	if binary.LittleEndian.Uint64(b[48:]) != entryMagic {
		return Header{}, errHeaderMagic
	}
	for _, x := range b[84:] {
		if x != 0 {
			return Header{}, errHeaderReserved
		}
	}
	copy(h.ChecksumBody[:], b[16:32])
	copy(h.Parent[:], b[32:48])
	h.Cluster = binary.LittleEndian.Uint64(b[56:])
	h.Op = binary.LittleEndian.Uint64(b[64:])
	offset := binary.LittleEndian.Uint64(b[72:])
	size := binary.LittleEndian.Uint32(b[80:])
	if h.Op == 0 || offset%SectorSize != 0 || offset > 1<<62 || size > EntryBodyMaxLimit {
		return Header{}, errHeaderBounds
	}
	h.Offset, h.BodySize = int64(offset), int(size)
	return h, nil
}

// DecodeEntry decodes a whole entry (header, body and padding) from the start of b and checks
// both checksums. The body aliases b.
func DecodeEntry(b []byte) (Header, []byte, error) {
	h, err := DecodeHeader(b)
	if err != nil {
		return Header{}, nil, err
	}
	if int64(len(b)) < h.Size() {
		return Header{}, nil, fmt.Errorf("%w: entry of %d bytes truncated to %d", ErrDecode,
			h.Size(), len(b))
	}
	if !checksum.Matches(b[HeaderSize:h.Size()], h.ChecksumBody) {
		return Header{}, nil, fmt.Errorf("%w: entry body checksum", ErrDecode)
	}
	return h, b[HeaderSize : HeaderSize+h.BodySize], nil
}

// auditInput is the input of one step of the audit chain: the head, the op and the body's sum.
type auditInput [32 + 8 + 32]byte

// bodySum is the SHA-256 of op's entry body: through sums if the engine's FS offers them
// (Summer), else with sha.
func bodySum(sums *checksum.SHA256Memo, sha *checksum.SHA256, op uint64, body []byte) [32]byte {
	if sums != nil {
		return sums.Of(op, body)
	}
	return sha.Of(body)
}

// bodySum is the SHA-256 of e's body.
func (s *Storage) bodySum(e Entry) [32]byte { return bodySum(s.sums, &s.sha, e.Op, e.Body) }

// auditNext advances the SHA-256 audit chain by one committed op: through sums if the
// engine's FS offers them (Summer), else with sha. b is where it lays out the input
// (whatever sha hashes escapes: a buffer of the caller's rather than one per step).
func auditNext(sums *checksum.SHA256Memo, sha *checksum.SHA256, b *auditInput, head [32]byte, op uint64, bodySHA [32]byte) [32]byte {
	copy(b[0:], head[:])
	binary.LittleEndian.PutUint64(b[32:], op)
	copy(b[40:], bodySHA[:])
	if sums != nil {
		return sums.Of(op, b[:])
	}
	return sha.Of(b[:])
}
