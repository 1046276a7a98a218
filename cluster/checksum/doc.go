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
