// Package checksum is the 128-bit checksum every byte that crosses a network or a disk
// carries in this database: message headers and bodies, log entries, superblock copies and
// checkpoints.
//
// It is XXH3-128 (github.com/zeebo/xxh3, vectorised). Its job is to catch corruption (bit
// flips, torn and misdirected sectors, truncation), not forgery: every bit of the input
// reaches every bit of the output, so a random flip goes undetected with probability
// 2^-128, and a CRC's blind spots (which a crafted fault could hit) do not exist. It
// replaced SHA-256 truncated to 128 bits, which was about a fifth of the simulator's time
// (issue 12); the tamper-evident audit chain keeps full SHA-256 (see package storage).
//
// Imports allowed: the standard library and xxh3.
package checksum
