// Package invariants checks the safety properties of DESIGN.md section 5 while a simulation
// runs: on every replica event (a commit, a state sync, a recovery), on every inspection of a
// replica's state, on every crash and on every client reply, not only at the end.
//
// The harness owns a Suite and feeds it:
//
//	s := invariants.NewSuite(replicaCount)
//	OnEvent(atNs, vsr.Event)             // every replica event (sim.ClusterOptions.OnEvent)
//	OnInspect(atNs, replica, Inspection) // after state changes or every tick, per running replica
//	OnCrash(atNs, replica)               // the replica's volatile state is gone
//	OnMessage(atNs, vsr.Header)          // optional: headers replicas send (votes, prepare_ok)
//	OnPrepare(atNs, Prepared)            // prepares as their primaries created them, with the clocks
//	OnStartView(atNs, epoch, view, op, log) // the log each view's primary started it with
//	SetDisks(DiskReader)                 // the replicas' durable disk images, read by the harness
//	OnWipe(atNs, replica)                // a replica's disk was replaced by an operator
//	History().Invoke / Complete          // every client request and its outcome
//	Violation()                          // the first violation so far, or nil
//	Finish()                             // end of run: linearizability; the first violation
//
// Ordering the checkers rely on: an inspection is a snapshot taken after every event of
// that replica delivered so far (not from inside an event, before OnEvent has it); OnCrash
// comes before any event of the restarted replica; OnEvent is wired for every replica from
// the start (acked_survive requires the op of every reply to have been executed already).
//
// Checkers, one per file, each with a test that feeds it a broken history and sees it fire
// with a message naming the replica, op, view and time (Describe lists them):
//
//   - commit_le_op.go: checkpoint_op <= commit_min <= commit_number <= op_number.
//   - canonical_commit.go: one canonical prepare per op across all replicas, by checksum and
//     by the harness's own SHA-256 of the bytes executed, which must be the bytes its primary
//     created; each replica executes ops in order without gaps, and after a restart
//     re-executes the same prepares.
//   - timestamps.go (commit_timestamp): canonical timestamps rise strictly; a primary stamps
//     within half the clock tolerance of its own clock (or carries), hence within the
//     tolerance of true time when its clock is inside the model.
//   - checkpoint_monotonic.go: checkpoint and commit_min never go back, across restarts too
//     (down to the durable checkpoint), except by declared wipes and simulator damage.
//   - view_monotonic.go: a replica's view never decreases while it runs, and after a restart
//     it never falls below a view it voted in (prepare_ok, do_view_change) or recovered in.
//   - single_primary.go: at most one normal primary per view.
//   - digest_agreement.go: replicas at the same commit_min hold the same state digest.
//   - acked_survive.go: an acknowledged op was executed, keeps its prepare, and is in the log
//     of every normal primary of its view or a later one.
//   - acked_durable.go: acknowledged copies stay on their disks until legitimately dropped,
//     and every executed op keeps an intact durable copy somewhere (disk.go: the images).
//   - log_view_durable.go: a durable log_view names a durable log (no stale entries, no
//     missing ops of the log the replica entered the view with).
//   - view_change_acks.go (view_change_keeps_acks): a do_view_change never offers its log
//     view without a committed prepare its sender acknowledged in that view.
//   - standby_reads.go: a standby's stale read is the committed state at the op it names,
//     which it had executed, and never older than its client's previous read there (its own
//     model of the state machine replays the canonical prepares).
//   - restore.go: OnRestoreFromBackup and OnFailover move the checkers to a rebuilt or
//     promoted configuration (the acknowledged ops above its point are the loss, counted).
//   - linearizable.go: the client history, checked with porcupine per key (history.go
//     records it; model.go is the key/value model).
//
// Outside the Suite, for histories recorded without replica events (real processes:
// cmd/kimberlite's soak), acked_readback.go holds acked_survive as a client sees it: every
// acknowledged write reads back after the writes stop, or a write that may have come after
// it replaced it (History.CheckReadBack).
//
// Determinism: checkers run on the caller's goroutine, read no clock and produce no
// map-order-dependent output; a violation is a pure function of the calls made. Porcupine
// runs its partitions on goroutines inside Finish, without a timeout, and answers a bool;
// the failing key and operation are then located by checking keys one at a time in sorted
// order, so the report is deterministic too.
//
// Cost: OnEvent and OnInspect do O(1) work per call (a slice or small-map lookup), plus
// O(log acked views) for acked_survive, plus a SHA-256 of the prepare at each commit and
// creation; memory is O(ops + views). Disk images are read at the cadence of disk.go (a
// replica's checkpoints, truncations, crashes, the end), each O(log above the checkpoint).
// Finish costs what porcupine costs.
//
// Imports: the standard library, vopr/cluster/... and github.com/anishathalye/porcupine.
package invariants
