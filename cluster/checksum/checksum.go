package checksum

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"

	"github.com/zeebo/xxh3"
)

// Sum is a 128-bit checksum. The zero value is never the checksum of any input in practice,
// and is used to mean "none" (for example the parent of the root prepare).
type Sum [16]byte

// Of returns the checksum of data: XXH3-128, its 16 bytes big-endian.
func Of(data []byte) Sum {
	return xxh3.Hash128(data).Bytes()
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
