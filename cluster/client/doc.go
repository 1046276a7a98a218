// Package client is the client library of the database: it opens a session with the
// cluster, numbers its requests, finds the primary, retries a request with the same number
// until it is answered (so the replicas' client table executes it at most once), and reports
// a request that it gave up on as indeterminate rather than failed: it may still commit.
//
// Like the replica it is event-driven and deterministic: Tick, Receive and Submit are called
// by the owner's event loop; it sends through a function it is given.
//
// Imports allowed: the standard library (no wall clock, no goroutines), vopr/cluster/vsr,
// vopr/internal/assert.
package client
