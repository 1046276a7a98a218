// Package kv is the replicated database's state machine: a deterministic key/value map.
//
// The replica treats operations and results as opaque bytes. A client encodes an Op with
// EncodeOp; the primary checks it with Validate before it prepares it (malformed bytes from
// the network are an error, never a panic); every replica applies the committed bytes with
// Apply, in op order, and gets the same result bytes (DecodeResult reads them back).
//
// Operations: Get, Put, Append and compare-and-set (CAS). Everything is bounded: keys are
// 1..KeySizeMax bytes, values 0..ValueSizeMax bytes, and the map holds at most KeysMax keys.
// An operation that would break a bound is not an error but a deterministic result
// (StatusTooLarge, StatusFull) that leaves the state unchanged, so every replica agrees.
//
// Snapshot encodes the whole state canonically (keys sorted, checksummed); Restore accepts
// only bytes that Snapshot could have produced. Digest is the checksum of the snapshot, so two
// machines have equal digests exactly when their maps are equal.
//
// Invariants:
//   - Apply is a pure function of (state, op bytes): no clock, randomness or map order.
//   - len(data) <= KeysMax; every key and value respects its size bound.
//   - A failed Restore leaves the machine unchanged.
//
// Imports allowed: the standard library (no time, os, math/rand), vopr/cluster/checksum and
// vopr/internal/assert.
package kv
