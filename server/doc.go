// Package server runs one replica of cluster/vsr as a real process: the adapters that the
// simulator's sim.Cluster provides in simulated time (bus, clock, disk, event loop), made of
// TCP, the wall clock and files. The replica code is the simulator's, unchanged.
//
//   - Disk: cluster/storage/osfs over the replica's directory.
//   - Event loop (loop.go): one goroutine owns the replica. It ticks it every 10 ms of the
//     monotonic clock (sim.TickInterval; a late tick is not made up in a burst), hands it
//     each received message, and polls osfs, whose completions run there too. The replica
//     stays single-threaded, as in the simulator; nothing else ever calls it.
//   - Bus (peers.go): replica i dials every other member j and keeps that connection up,
//     redialling with backoff; it sends to j only on it. The members are the replica's Bus
//     indexes: the active replicas (Addresses), then the standbys (StandbyAddresses: standby
//     k, the runbook's replica 100+k, is member len(Addresses)+k). Each peer has a bounded send
//     queue: the replica's send never blocks, and a message that finds the queue full (or
//     no connection) is dropped, which VSR tolerates as packet loss. Received messages come
//     from the connections peers opened to us.
//   - Ports (conns.go): the replica's address accepts replicas (standbys too), clients and
//     operators; an optional client address accepts clients and operators only. A standby
//     answers clients' stale reads (vsr.OperationReadStale) and the operators' commands. Every connection starts
//     with a hello (package wire). A client's replies go back on its most recent connection.
//   - Clock: the wall clock for realtime, Go's monotonic clock for the rest.
//   - Randomness: a PCG stream seeded from crypto/rand (timeout jitter only).
//
// Goroutines other than the loop (one per connection reader and writer, the dialers, the
// listeners) never touch the replica: they exchange whole messages with the loop through
// channels. Shutdown (context cancelled, e.g. on SIGTERM) stops the loop, runs the disk
// operations already issued to completion and closes the files.
//
// Imports allowed: anything (this is an adapter: real I/O lives here), but never
// vopr/sim or the harness.
package server
