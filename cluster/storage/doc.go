// Package storage is a replica's durable state: a superblock, a write-ahead log of prepares
// in segment files, and checkpoints of the state machine, on top of the asynchronous FS
// interface (fs.go). It also verifies (scrubs), backs up and restores that state, compacts
// the log, and reports disk usage (DESIGN.md section 3, "Storage scope"; runbook scenarios 1,
// 5 and 6).
//
// # Files
//
//	superblock               4 copies of one sector each, as two pairs (superblock.go)
//	log-<16 hex digits>      segment k: the ops [k*S, (k+1)*S), S = SegmentEntriesMax: a record
//	                         area of S sectors (one redundant record per op, record.go), then
//	                         the entries in op order
//	checkpoint-<16 hex>      the snapshot at that op, with a self-checking header
//
// An append writes and syncs the entry, then writes and syncs its redundant record: a copy of
// the entry's header and of the first Options.RecordPrefix bytes of its body. An intact record
// proves the entry was durable (and may have been acknowledged), so recovery reports a damaged
// entry under an intact record as faulty, with the record's prefix (Recovery.FaultyPrefix),
// and drops from the top of the log only entries whose append never finished: damaged, with no
// record (PAR's crash-versus-corruption rule; record.go has the table).
//
// A log entry (entry.go) is a 128-byte header, the body and zero padding to a whole number
// of sectors, so a torn or lost sector always lands in a checksummed range. The header holds
// the 128-bit checksums of itself and of the padded body, its own op and file offset (so a
// misdirected write is detected: it names another place) and its parent: the chain sum of
// the previous op's entry. The chain sum covers (parent, body checksum, op, cluster, size)
// but not the offset, so Restore can lay entries out afresh without breaking the chain. The
// first entry after a checkpoint chains to the checkpoint entry's sum, which the superblock
// keeps (the anchor), so the chain survives compaction.
//
// The SHA-256 audit chain (the runbook's --verify-hash-chain) runs over committed ops:
// head(op) = SHA-256(head(op-1) || op || SHA-256(body)). Commit(op) advances it in memory;
// Checkpoint stores the head at the checkpoint op in the superblock (State.AuditHead), and
// Verify and Restore recompute it.
//
// Every superblock copy names the current checkpoint and the one before it, and checkpoint
// files are kept while a superblock pair names one: if the newest pair is lost, Open falls
// back to the previous state and its checkpoint is still whole; if the newest checkpoint does
// not verify, Open falls back to the previous one and keeps the newest view, log view and
// commit (Recovery.CheckpointDamaged); if that does not verify either, Open falls back to op
// 0, the format's empty state, while the log still holds every op from 1 (a first checkpoint,
// or a log within Options.ReplayOpsMax). The ops that the
// fallback lacks are reported faulty, never silently missing; so are those a checkpoint
// installed from a peer's snapshot (InstallCheckpoint) had not audited in this log, whose
// entries there need not be its history.
//
// # Operations
//
// Every method that touches the disk takes a completion callback. Operations run one at a
// time in call order (a bounded queue, QueuedMax); each completion is delivered from an FS
// completion, never inside the call. Recovery (Open) scans every segment: damaged bytes cost
// only the ops they held, which Open reports as Faulty (seen but corrupt) for the replica to
// repair from its peers. Auto-compaction runs at the start of Append and at the end of
// Checkpoint when usage is at or above Options.AutoCompactPercent (runbook: 85%), and an
// Append that meets ErrNoSpace compacts and retries once.
//
// # Invariants
//
//   - Nothing is acknowledged before it is synced; the superblock is written last, so it
//     never points at anything that is not durable. An append completes only once its entry
//     and then its record are synced.
//   - A truncation tombstones the records it removes (synced) before it cuts entries, so a
//     crash in between never leaves a damaged entry under an intact record it gave up.
//   - What recovery decides lasts on disk: every op it returns faulty without a record (a
//     missing entry, or one a fallback past a damaged checkpoint distrusts) gets a faulty
//     mark over its record (synced and read back) before Open returns, so that neither the
//     next superblock write nor the rot of the ops above it loses the op. A record it found
//     only out of its own place (a misdirected write's stray copy) it writes in place, read
//     back, so the op's record never rests on sectors that belong to another op.
//   - A write of the superblock goes to the pair that does not hold the current state: a
//     torn or lost superblock write leaves the previous state intact. A torn one may leave
//     the new state in one copy of its pair: Open, which adopts it (the newest intact state
//     wins), first writes it into the pair's other copy (synced and read back; never over
//     the one copy), so every state Open returns is stored twice and one sector fault never
//     rolls it back (storeTwice).
//   - CheckpointOp <= audited op <= head; entries are appended in op order; committed
//     (audited) ops are never truncated or replaced (assertions).
//   - Every length read from disk is checked against a limit before anything is allocated;
//     decoders return errors on garbage, never panic.
//
// Deterministic and single-threaded: no goroutines, channels, sync, time, os or randomness;
// map iteration never reaches output.
//
// Imports allowed: the standard library (minus the above), vopr/cluster/checksum and
// vopr/internal/assert. Subpackages osfs (real files) and fstest (FS conformance) are the
// exceptions that may touch the real world, and only storage's tests import them.
package storage
