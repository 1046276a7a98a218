package checksum

import (
	"encoding/binary"

	"github.com/zeebo/xxh3"
)

// Sum is a 128-bit checksum. The zero value is never the checksum of any input in practice,
// and is used to mean "none" (for example the parent of the root prepare).
type Sum [16]byte

// Of returns the checksum of data: XXH3-128, its 16 bytes big-endian.
func Of(data []byte) Sum {
	return xxh3.Hash128(data).Bytes()
}

// IsZero reports whether s is the zero checksum.
func (s Sum) IsZero() bool { return s == Sum{} }

// Low64 returns the first 8 bytes as a word: a short form for traces and fingerprints.
func (s Sum) Low64() uint64 { return binary.LittleEndian.Uint64(s[:8]) }
