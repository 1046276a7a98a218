package checksum

import (
	"crypto/sha256"
	"encoding/binary"
)

// Sum is a 128-bit checksum. The zero value is never the checksum of any input in practice,
// and is used to mean "none" (for example the parent of the root prepare).
type Sum [16]byte

// Of returns the checksum of data.
func Of(data []byte) Sum {
	full := sha256.Sum256(data)
	var s Sum
	copy(s[:], full[:16])
	return s
}

// IsZero reports whether s is the zero checksum.
func (s Sum) IsZero() bool { return s == Sum{} }

// Low64 returns the first 8 bytes as a word: a short form for traces and fingerprints.
func (s Sum) Low64() uint64 { return binary.LittleEndian.Uint64(s[:8]) }
