// Package checksum is the 128-bit checksum every byte that crosses a network or a disk
// carries in this database: message headers and bodies, log entries, superblock copies and
// checkpoints.
//
// It is SHA-256 truncated to 128 bits. A cryptographic hash is more than corruption needs,
// but it is in the standard library, it is hardware-accelerated on the machines we run on,
// and it never lets a bit flip through by construction (unlike a CRC, whose blind spots a
// crafted fault could hit). The audit chain uses full SHA-256 (see package storage).
//
// Imports allowed: the standard library.
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
