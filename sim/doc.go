// Package sim is the deterministic world the database runs in during a simulation: virtual
// time and its event loop, seeded PRNG streams, a simulated network, per-node disks and
// clocks, nodes that crash, restart and pause, and the trace whose running hash is the
// determinism fingerprint of a run.
//
// Fault injectors act through the network's partitions (Isolate, SplitInTwo, Cut, and the
// Jepsen-style shapes IsolateFrom, Ring and Bridge applied by Partition and undone by
// Reconnect), the disks' targeted faults, the clocks, and the nodes: Crash at once,
// CrashAfterCall from inside an actor's call, and Cluster.SetFaultHooks to strike at an I/O
// completion (before the replica sees it), a send or a replica event.
//
// Speed without changing a run: node ticks, half of all events and always due in time order,
// queue in a FIFO beside the loop's heap (Loop.AtCallSteady); a DiskPool lends the arrays of
// finished worlds' disks to the disks of later ones (a campaign's next seed), which clear
// what they do not overwrite, so no byte of a run depends on the pool.
//
// Rules (DESIGN.md section 1), enforced by tidy_test.go:
//   - Single-threaded. No goroutines, channels, sync, wall clock, os, net or math/rand v1.
//   - Every random decision draws from a *rand.Rand (math/rand/v2 PCG) derived from the root
//     seed and a stream name (see Stream), so adding draws to one component never reshuffles
//     another.
//   - Map iteration order never reaches output or decisions.
//   - Time is virtual: Time is nanoseconds since the start of the run and only the event
//     loop advances it, jumping straight to the next event, so idle periods cost nothing.
//
// Imports allowed: the standard library (minus the above), vopr/internal/... and
// vopr/cluster/... (the code under test; sim implements its interfaces, never the reverse).
package sim
