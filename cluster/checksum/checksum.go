package checksum

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"hash"

	"github.com/zeebo/xxh3"
)

// Sum is a 128-bit checksum. The zero value is never the checksum of any input in practice,
// and is used to mean "none" (for example the parent of the root prepare).
type Sum [16]byte

// Of returns the checksum of data: XXH3-128, its 16 bytes big-endian.
func Of(data []byte) (sum Sum) {
	// Written into the result in two halves (what Uint128.Bytes does): returning Bytes()
	// copied its array, rereading as one 16-byte load the two 8-byte stores just made, a
	// store-forwarding stall on every checksum.
	h := xxh3.Hash128(data)
	binary.BigEndian.PutUint64(sum[:8], h.Hi)
	binary.BigEndian.PutUint64(sum[8:], h.Lo)
	return sum
}

// Put writes the checksum of data into dst[:16] (what copy(dst, Of(data)) does), without
// Of's array in between, whose copy reread as one 16-byte load the two 8-byte stores just
// made (a store-forwarding stall).
func Put(dst, data []byte) {
	h := xxh3.Hash128(data)
	binary.BigEndian.PutUint64(dst[:8], h.Hi)
	binary.BigEndian.PutUint64(dst[8:16], h.Lo)
}

// Matches reports whether sum is the checksum of data (Of(data) == sum), comparing the two
// halves of the hash with sum's without building Of's array: Of returns it through memory,
// and a caller comparing it reread as one 16-byte load the two 8-byte stores just made, a
// store-forwarding stall on every verification.
func Matches(data []byte, sum Sum) bool {
	h := xxh3.Hash128(data)
	return h.Hi == binary.BigEndian.Uint64(sum[:8]) && h.Lo == binary.BigEndian.Uint64(sum[8:])
}

// SHA256Memo is SHA256 that remembers the sum of the last input it hashed under each key of
// a window (the caller's: an op), with a copy of the input, so that the same bytes under the
// same key again are compared, not hashed: a comparison costs a fraction of a SHA-256. A hit
// needs the whole input equal to the copy, so its sum is exactly SHA256's; other bytes, a
// key older than the one its slot holds, or an input too large to keep (or past the memo's
// budget), are hashed. The
// simulator's replicas share one (each of them appends every prepare), and its checkers keep
// their own (each replica executes every prepare). The zero value is ready; not safe for
// concurrent use.
type SHA256Memo struct {
	sha   SHA256
	slots []sha256MemoSlot // sha256MemoSlots, made at the first use
	kept  int              // bytes of the copies held, at most sha256MemoBudget
}

const (
	// sha256MemoSlots is the window: keys this far apart share a slot, the newest kept (a
	// scan of a long log from its start must not evict the ops being appended). A log's
	// worth: its engine sums every body again at every scan.
	sha256MemoSlots    = 4096
	sha256MemoBytesMax = 32 << 10 // larger inputs are hashed every time
	sha256MemoBudget   = 16 << 20 // and copies stop being kept once they reach about this
)

type sha256MemoSlot struct {
	held bool
	key  uint64
	data []byte // a copy (the caller's bytes may change), in the slot's own array
	sum  [sha256.Size]byte
}

// Of returns the SHA-256 sum of data, data being the input of key.
func (m *SHA256Memo) Of(key uint64, data []byte) [sha256.Size]byte {
	if m.slots == nil {
		m.slots = make([]sha256MemoSlot, sha256MemoSlots)
	}
	s := &m.slots[key%sha256MemoSlots]
	if s.held && s.key == key && bytes.Equal(s.data, data) {
		return s.sum
	}
	sum := m.sha.Of(data)
	grown := max(len(data)-cap(s.data), 0)
	if len(data) <= sha256MemoBytesMax && (!s.held || key >= s.key) && m.kept+grown <= sha256MemoBudget {
		s.held, s.key, s.sum = true, key, sum
		m.kept -= cap(s.data)
		s.data = append(s.data[:0], data...)
		m.kept += cap(s.data)
	}
	return sum
}

// Sealer computes, in one pass over data, Of(data) and Of(data followed by Of(data)): the
// checksum a record ends in and the checksum of the whole record (kv's snapshot and its
// digest), which two calls of Of computed by hashing data twice. The zero value is ready;
// not safe for concurrent use.
type Sealer struct {
	h xxh3.Hasher128
}

// Of returns Of(data) as sum, and Of(data ‖ sum) as sealed.
func (s *Sealer) Of(data []byte) (sum, sealed Sum) {
	s.h.Reset()
	s.h.Write(data)
	sum = s.h.Sum128().Bytes() // Sum128 leaves the state as it was: data goes on from there
	s.h.Write(sum[:])
	return sum, s.h.Sum128().Bytes()
}

// IsZero reports whether s is the zero checksum.
func (s Sum) IsZero() bool { return s == Sum{} }

// Low64 returns the first 8 bytes as a word: a short form for traces and fingerprints.
func (s Sum) Low64() uint64 { return binary.LittleEndian.Uint64(s[:8]) }

// SHA256 computes SHA-256 sums with one digest, reset for each: crypto/sha256.Sum256 gave
// the storage engine a heap-allocated digest per call (about a fifth of a swarm run's
// allocations), since the hot callers' arguments escape. The zero value is ready; not safe
// for concurrent use.
type SHA256 struct {
	h   hash.Hash
	sum [sha256.Size]byte
}

// Of returns the SHA-256 sum of data, as sha256.Sum256 does.
func (s *SHA256) Of(data []byte) [sha256.Size]byte {
	if s.h == nil {
		s.h = sha256.New()
	}
	s.h.Reset()
	s.h.Write(data)
	s.h.Sum(s.sum[:0])
	return s.sum
}
