// Package vsr is the replica of the database: Viewstamped Replication as described in
// "Viewstamped Replication Revisited" (Liskov and Cowling, 2012; cited here as VRR 2012),
// with the refinements TigerBeetle made for replicas that keep their log on disk.
//
// Shape (etcd raft's RawNode): the replica is an event-driven state machine. Its owner's
// event loop calls Tick (every 10 ms of the replica's monotonic clock), Receive (each message
// from the network) and, through the storage.FS it was given, the completions of its I/O.
// It sends through a Bus, reads time from a Clock, draws timeout jitter from an injected
// *rand.Rand, and reports events to an Observer. It never blocks, spawns nothing and reads no
// wall clock, so the simulator runs the same code that a real process would.
//
// Files, one concept each:
//   - message.go: the wire format: a fixed 136-byte little-endian header with 128-bit
//     checksums of header and body; Decode rejects bad length, checksum, cluster or command
//     and never panics (FuzzDecode).
//   - replica.go: the struct, Open, Tick's timeout table and the one onMessage switch.
//   - replica_open.go: recovery from the durable log and superblock (a replica never resumes
//     as primary of the view it crashed in; it persists a view before voting in it).
//   - replica_normal.go, replica_commit.go: VRR 2012 §4.1: requests, the bounded pipeline,
//     batching, prepare/prepare_ok/commit, execution, the client table, checkpoints.
//   - replica_view_change.go: VRR 2012 §4.2: start_view_change, do_view_change (the log of
//     the highest log_view, then the highest op), start_view.
//   - replica_repair.go: fetching missing or corrupt prepares by checksum along the hash
//     chain; replica_sync.go: state sync from a peer's checkpoint when the gap crosses one.
//   - replica_par.go: protocol-aware recovery (PAR, FAST'18) of a new primary's uncommitted
//     suffix: repair by checksum, or truncation once enough replicas deny (nack_prepare) an
//     op. A damaged entry's header comes from the storage engine's redundant record
//     (Recovery.FaultyPrefix), so a faulty op can be repaired or denied by checksum. An op no
//     do_view_change of the chosen log view can name is settled by offers: replicas answer
//     with the header they hold, and n - quorum + 1 denials or offers of one prepare prove
//     no other prepare of the op committed.
//   - Clients reach the primary through any replica: a backup forwards a request to its
//     primary once, and answers a retry it executed from its client table
//     (replica_normal.go, backupOnRequest).
//   - clock_sync.go: Marzullo's algorithm over ping/pong samples; only a primary whose
//     clock agrees with a quorum (tolerance 500 ms) timestamps operations.
//   - standby.go: standby replicas (ids 100 and up, indices ReplicaCount+k): they journal,
//     repair, state-sync and execute like backups, never vote, never count towards a quorum
//     and never lead; they serve stale reads (throttled) and report their lag (unknown until
//     a primary is heard after a start) and promotion eligibility.
//   - failover.go: DR failover: the configuration epoch every message carries, a standby's
//     promotion into the single active replica of the next epoch, and the stop of a replica
//     that hears a newer epoch.
//   - invariants.go: assertions checked after every event, including
//     commit_number <= op_number.
//
// Invariants (asserted in invariants.go): checkpoint_op <= commit_min <= commit_number <=
// op_number; log_view <= view; a normal replica's log_view equals its view; a primary's
// pipeline holds exactly the uncommitted ops; the log is a hash chain.
//
// Imports allowed: the standard library (no time, os, net, sync, math/rand v1, goroutines
// or channels), vopr/cluster/..., vopr/internal/assert. Never the harness.
package vsr
