package invariants

import (
	"cmp"
	"slices"

	"vopr/cluster/checksum"
	"vopr/cluster/vsr"
)

// Describe lists every checker with a one-line description, in the order the Suite runs
// them (for `vopr list invariants`).
func Describe() [][2]string {
	return [][2]string{
		{NameCommitLeOp, "checkpoint_op <= commit_min <= commit_number <= op_number on every replica at every inspection; an op a normal primary prepares is at most checkpoint_op + PrepareAheadMax"},
		{NameCanonicalCommit, "one prepare per op across replicas, by header checksum and by the harness's own digest of the bytes executed, which are the bytes its primary created; each replica executes ops in order, without gaps, and re-executes the same prepares after a restart; a state sync names as its context one that a sync of its op delivered to the replica carried on the wire (when the harness passes deliveries)"},
		{NameCommitTimestamp, "canonical timestamps rise strictly; a primary stamps within 250 ms of its own clock (or carries its predecessor's + 1), so within 500 ms of true time when its clock is inside the model, and on the side of its clock the clock samples it heard put the cluster's time (every pong delivered to it)"},
		{NameClockSync, "at every inspection of a running active replica, its clock verdict (synchronised or not) and offset are what Marzullo's algorithm gives over the clock samples it holds, each recomputed from the pong delivered to it at that instant (checker's own Marzullo; a sample ageing out since its last tick may count or not); and it holds no sample from a pong whose round trip exceeded the sample age bound"},
		{NameCheckpointMonotonic, "a replica's checkpoint and commit_min never go back while it runs, nor below its durable checkpoint after a restart (unless the simulator damaged it, or a declared wipe or restore)"},
		{NameViewMonotonic, "a replica's view never decreases while it runs, nor falls below a view it voted or recovered in after a restart"},
		{NameSinglePrimary, "at most one replica is primary in normal status in any view (of one configuration epoch)"},
		{NameCommitQuorum, "an op first executed had been acknowledged by a majority of the active members of one configuration, in one epoch and view (standbys, removed replicas and other configurations' quorums do not count); each epoch names one membership; a primary sends start_view for a view only once do_view_changes for that view from a majority of its members were delivered to it intact; a new primary truncates an op on nacks only once n - quorum + 1 denials of it of its own view were delivered to it (its own counted)"},
		{NameDigestAgreement, "replicas at the same commit_min hold identical state-machine digests"},
		{NameCheckpointAgreement, "replicas that take a checkpoint of the same op write the same snapshot, byte for byte: prepare header, state machine and client table (the checker's own SHA-256 of each part, compared at checkpoints)"},
		{NameCheckpointContent, "the first checkpoint a replica takes of an op saves the release and exactly the keys and values of the committed state there (the checker's own decoder of the snapshot and model of the state machine, replaying the canonical prepares)"},
		{NameAckedSurvive, "an acknowledged op was executed, keeps its prepare, and is in the log of every later normal primary"},
		{NameAckedDurable, "an acknowledged copy stays on its disk until a durable checkpoint covers it or it is truncated uncommitted; every executed op above all checkpoints keeps an intact durable copy (disks read by the harness)"},
		{NameLogViewDurable, "a durably persisted log_view names a durable log: no stale older-view entry on disk, and the ops it entered the view with are on disk (disks read by the harness)"},
		{NameViewChangeAcks, "a do_view_change never offers its log view without a prepare its sender acknowledged in that view (prepare_ok, or a primary's vote for its own prepare) that is first executed in that view or earlier, nor, unless a later log was delivered to it (an adoption cut short by a crash), one executed later; a nack_prepare never denies an op its sender executed"},
		{NameCommittedPrefix, "every header a replica holds (after a state sync, a recovery, entering normal status) or sends in a do_view_change or start_view at or below its commit number is the canonical prepare of its op, and so is every intact entry on its disk above the durable checkpoint and at or below the durable commit number"},
		{NameStandbyReads, "a standby's read is the committed state at the op it names, which it had executed; a client's reads from one standby never go back (the checker's own model of the state machine replays the canonical prepares)"},
		{NameClientSessions, "a client takes from a register's reply a session the committed history opened for it (the checker's own model of the client table), and gives its session up only on an eviction naming that session; every eviction a replica sends names a session the committed history opened for that client"},
		{NameSessionExecution, "the first checkpoint a replica takes of an op holds the committed client table there: each request executed at most once, only under the session it was sent under (not one evicted, nor re-created by a stale register), in request order, its reply naming the op that ran it and the result (the checker's own decoder of the table and model of the client table, replaying the canonical prepares)"},
		{NameCommittedReplies, "a reply to a key/value request names the op that executed that request of that client in the committed history, and carries the result the checker's own model of the state machine gives it there (replaying the canonical prepares)"},
		{NameAuditChain, "the SHA-256 audit chain head each durable superblock stores for its checkpoint is the chain over the committed prepares (the format's step, recomputed with the checker's own SHA-256), from a head the replica stored below it or a seed (disks read by the harness)"},
		{NameLinearizable, "the clients' key/value history is linearizable (porcupine, per key; an indeterminate op may take effect until its client's next acknowledged one; a key past 256 possible values, with more than 12 open-ended writes, or whose search builds more than 64 MiB of states, is counted unchecked)"},
	}
}

// Names lists the checkers' names, in the order of Describe.
func Names() []string {
	var names []string
	for _, d := range Describe() {
		names = append(names, d[0])
	}
	return names
}

// Suite runs every checker over one simulation run. Its methods are called from the
// simulation's own goroutine, in event order; it keeps the first violation and stops
// checking after it (the run is failed; what follows is noise).
//
// OnInspect must see the replica as it is after every event delivered so far (inspections
// are snapshots taken between the replica's calls, as Replica.Inspect is).
type Suite struct {
	commitLeOp commitLeOp
	canonical  canonicalCommit
	views      viewMonotonic
	primary    singlePrimary
	quorums    commitQuorum
	digests    digestAgreement
	snapshots  checkpointAgreement
	acked      ackedSurvive
	history    *History

	prepared preparedTable
	stamps   timestamps
	clocks   clockSamples
	clockRef clockSync
	// monotonic reads a replica's monotonic clock (SetMonotonic); nil: the offset side of
	// commit_timestamp is not checked.
	monotonic   func(replica int) int64
	checkpoints checkpointMonotonic
	copies      ackedDurable
	reads       standbyReads
	sessions    clientSessions
	replies     committedReplies
	contents    checkpointContent
	executions  sessionExecution
	// activeDisks are the disks of the active configuration's replicas, when a failover
	// changed it (nil: replicas 0..count-1).
	activeDisks []int
	logViews    logViewDurable
	audits      auditChain
	vcAcks      viewChangeAcks
	damage      damage
	disks       DiskReader
	// checkpointEvents counts checkpoints, to read every disk at every diskAllEvery-th.
	checkpointEvents uint64
	wipes            uint64

	first    *Violation
	lastNs   int64 // the latest time seen, for end-of-run reports
	finished bool
}

// NewSuite returns a suite for a cluster of replicaCount replicas (replica indexes beyond it,
// such as standbys, are tracked as they appear).
func NewSuite(replicaCount int) *Suite {
	s := &Suite{history: NewHistory(), quorums: commitQuorum{slots: replicaCount}}
	s.canonical.executors = make([]executor, replicaCount)
	s.views.replicas = make([]viewTrack, replicaCount)
	s.acked.canon = &s.canonical
	s.reads.canon = &s.canonical
	s.sessions.model = &s.reads.model
	s.replies.model = &s.reads.model
	s.contents.model = &s.reads.model
	s.executions.model = &s.reads.model
	s.acked.commitMins = make([]uint64, replicaCount)
	s.canonical.prepared = &s.prepared
	s.prepared.memo = &digestMemo{}
	s.canonical.memo = s.prepared.memo
	s.copies.canon, s.copies.replicas = &s.canonical, replicaCount
	s.logViews.canon, s.logViews.prepared = &s.canonical, &s.prepared
	s.vcAcks.canon = &s.canonical
	s.audits.canon = &s.canonical
	s.history.onAck = func(atNs int64, client int, op uint64, view uint32) *Violation {
		if s.see(atNs) {
			return s.acked.ack(atNs, client, op, view)
		}
		return nil
	}
	s.history.report = s.report
	return s
}

// see advances the clock and reports whether checking goes on.
func (s *Suite) see(atNs int64) bool {
	s.lastNs = max(s.lastNs, atNs)
	return s.first == nil
}

func (s *Suite) report(v *Violation) {
	if v != nil && s.first == nil {
		s.first = v
	}
}

// OnEvent takes every event of every replica (sim.ClusterOptions.OnEvent).
func (s *Suite) OnEvent(atNs int64, e vsr.Event) {
	if !s.see(atNs) {
		return
	}
	// acked_survive first: where a write is lost, its report is the more specific one.
	s.report(s.acked.event(atNs, e))
	s.report(s.quorums.event(atNs, e))
	s.report(s.canonical.event(atNs, e))
	s.report(s.views.event(atNs, e))
	s.report(s.digests.event(atNs, e))
	if e.Kind == vsr.EventCommit {
		s.reads.model.commit(e.Op, e.Prepare, e.Epoch, e.View) // after canonical_commit has vetted it
	}
	s.checkpoints.event(e)
	s.logViews.event(e)
	s.report(s.vcAcks.event(atNs, e))
	switch e.Kind {
	case vsr.EventCommit:
		s.report(s.stamps.commit(atNs, e, &s.canonical))
		// A prepare nobody was sent at its creation (a lone primary's) is seen here first:
		// the next one may carry its timestamp + 1 (swarm seed 20265097).
		s.prepared.maxTimestamp = max(s.prepared.maxTimestamp, e.Timestamp)
	case vsr.EventVoteSelf:
		s.copies.ack(atNs, e.Replica, e.Op, e.Checksum, e.View)
	case vsr.EventCheckpoint:
		s.copies.covered = max(s.copies.covered, e.Op)
		s.checkpointEvents++
		if s.checkpointEvents%diskAllEvery == 0 {
			s.checkAllDisks(atNs)
		} else {
			s.checkDisk(atNs, e.Replica)
		}
	case vsr.EventTruncate:
		s.checkAllDisks(atNs)
	case vsr.EventDiskFull, vsr.EventStateSync, vsr.EventStatus:
		s.checkDisk(atNs, e.Replica)
	}
}

// OnInspect takes a running replica's state, after state changes or on every tick.
func (s *Suite) OnInspect(atNs int64, replica int, in vsr.Inspection) {
	s.OnInspectOf(atNs, replica, &in)
}

// OnInspectOf is OnInspect with the inspection by pointer, for a caller that inspects every
// replica at every tick: an Inspection passed by value was copied at each call, and the copy
// stalled on the stores that had just filled it in. The checkers only read it.
func (s *Suite) OnInspectOf(atNs int64, replica int, in *vsr.Inspection) {
	if !s.see(atNs) {
		return
	}
	if in.Isolated {
		s.clocks.paused(atNs, replica) // an operator's isolation stops its timers too
	}
	if s.monotonic != nil {
		s.report(s.clockRef.inspect(atNs, replica, s.quorums.slots, in, s.monotonic(replica)))
	}
	s.report(s.commitLeOp.inspect(atNs, replica, in))
	s.report(s.canonical.inspect(atNs, replica, in))
	s.report(s.views.inspect(atNs, replica, in))
	s.report(s.primary.inspect(atNs, replica, in))
	s.report(s.digests.inspect(atNs, replica, in))
	s.report(s.acked.inspect(atNs, replica, in))
	s.logViews.inspect(replica, in)
	if s.disks != nil && s.checkpoints.losing(replica, in) {
		s.checkpoints.lostRead(replica, s.readDisk(replica))
	}
	if s.disks != nil && s.checkpoints.restarting(replica, in) {
		s.checkpoints.restarted(replica, s.readDisk(replica))
	}
	s.report(s.checkpoints.inspect(atNs, replica, in))
}

// OnCheckpointHeld takes the snapshot a replica holds for the checkpoint of op it just took
// (its EventCheckpoint): checkpoint_agreement holds it to the other replicas' snapshots of
// op, and checkpoint_content the first of them to the committed history. The checker only
// reads it.
func (s *Suite) OnCheckpointHeld(atNs int64, replica int, op uint64, snapshot []byte) {
	if s.see(atNs) {
		if s.snapshots.first.at(op) == nil { // the later ones are held to it byte for byte
			s.report(s.contents.held(atNs, replica, op, snapshot))
			s.report(s.executions.held(atNs, replica, op, snapshot))
		}
		s.report(s.snapshots.held(atNs, replica, op, snapshot))
	}
}

// OnCrash tells that the replica's volatile state is gone: when it restarts it recovers
// from its disk, so its commit_min may go back to its checkpoint and its view to the last
// durable one.
func (s *Suite) OnCrash(atNs int64, replica int) {
	if !s.see(atNs) {
		return
	}
	s.canonical.crash(replica)
	s.commitLeOp.crash(replica)
	s.views.crash(replica)
	s.audits.crash(replica)
	s.clockRef.interrupted(replica)
	var image *DiskImage
	if s.disks != nil {
		read := s.readDisk(replica)
		image = &read
		s.vcAcks.sawDisk(atNs, replica, image)
		excused := s.damage.excused(replica, image)
		s.report(s.logViews.check(atNs, replica, image, excused)) // what recovery will read
		s.report(s.copies.check(atNs, replica, image, excused))
	}
	s.checkpoints.crash(replica, image)
	s.logViews.crash(replica)
}

// OnMessage takes the header of a message a replica sent (optional: without it,
// view_monotonic knows a replica's durable view only from its recoveries). Only headers
// that decoded, with their checksums verified, may be passed.
func (s *Suite) OnMessage(atNs int64, h vsr.Header) {
	if !s.see(atNs) {
		return
	}
	s.report(s.views.message(atNs, h))
	s.report(s.quorums.message(atNs, h))
	s.report(s.vcAcks.message(atNs, h))
	if h.Command == vsr.CommandPrepareOK {
		s.copies.ack(atNs, int(h.Replica), h.Op, h.Parent, h.View)
	}
}

// WatchDeliveries tells the suite that the harness passes every do_view_change and
// start_view the network delivers intact (OnReceive): commit_quorum then holds a new primary
// to the do_view_changes it heard, not only those sent, and view_change_keeps_acks excuses a
// cut log only in a replica that heard of a later log.
//
// The harness then also passes every sync message delivered intact (OnSyncReceive):
// canonical_commit holds each state sync's reported context to those the syncs carried.
func (s *Suite) WatchDeliveries() {
	s.quorums.receiving, s.vcAcks.watching, s.canonical.watchingSyncs = true, true, true
}

// OnSyncReceive takes a sync message the network delivered intact to replica to (h is its
// header, checksum verified; msg its bytes, of which the checker reads the context itself).
func (s *Suite) OnSyncReceive(atNs int64, to int, h vsr.Header, msg []byte) {
	if s.see(atNs) && len(msg) >= vsr.HeaderSize {
		s.canonical.heardSync(to, h.Op, msg)
	}
}

// OnEvictionSent checks an eviction a replica sent to a client (client_sessions): h is its
// header, checksum verified.
func (s *Suite) OnEvictionSent(atNs int64, from int, h vsr.Header) {
	if s.see(atNs) {
		s.report(s.sessions.sent(atNs, from, h))
	}
}

// OnReceive takes a header the network delivered intact to replica to (its checksum
// verified); after WatchDeliveries, at least every do_view_change and start_view.
func (s *Suite) OnReceive(atNs int64, to int, h vsr.Header) {
	if !s.see(atNs) {
		return
	}
	s.quorums.receive(to, h)
	s.vcAcks.receive(to, h)
}

// SetMonotonic gives the suite a reader of each replica's monotonic clock: with it, and
// every pong the network delivers (OnPong), commit_timestamp checks the side of its own
// clock a primary stamps on against the clock samples it heard (clockSamples).
func (s *Suite) SetMonotonic(read func(replica int) int64) { s.monotonic = read }

// OnPaused tells that replica's node is paused at atNs (checked on each tick): it does not
// tick while paused.
func (s *Suite) OnPaused(atNs int64, replica int) {
	s.clocks.paused(atNs, replica)
	s.clockRef.interrupted(replica)
}

// OnPong takes a pong the network delivered intact to replica to, whose monotonic and
// realtime clocks read mono and real at that instant.
func (s *Suite) OnPong(atNs int64, to int, h vsr.Header, mono, real int64) {
	if !s.see(atNs) {
		return
	}
	s.clocks.pong(to, h, mono, real)
	s.clockRef.pong(to, h, mono, real)
}

// OnClientAnswer checks the message h (with its body) that ended a client's request (a reply
// or an eviction), with the client's session before it and after (client_sessions), and the
// reply against the committed history (committed_replies). client is the client's id.
func (s *Suite) OnClientAnswer(atNs int64, client, before, after uint64, h vsr.Header, body []byte) {
	if s.see(atNs) {
		s.report(s.sessions.answer(atNs, client, before, after, h))
		s.report(s.replies.reply(atNs, client, h, body))
	}
}

// OnStandbyRead checks a read a standby served from its executed state (standby_reads).
func (s *Suite) OnStandbyRead(atNs int64, r StandbyRead) {
	if s.see(atNs) {
		s.report(s.reads.read(atNs, r))
	}
}

// SetClientTable tells the checkers the replicas' client table capacity (0: the default),
// which decides when a registration evicts a session.
func (s *Suite) SetClientTable(capacity int) { s.reads.model.capacity = capacity }

// History returns the client history recorder. Its acknowledgements are checked by
// acked_survive as they arrive; its linearizability at Finish.
func (s *Suite) History() *History { return s.history }

// AckedCopy returns the prepare replica acknowledged at op (prepare_ok, or a primary's own
// vote) while acked_durable still holds the replica's disk to keeping it (read-only: for a
// harness that holds a copy of the replica's storage, such as its backup, to what the
// replica had acknowledged).
func (s *Suite) AckedCopy(replica int, op uint64) (checksum.Sum, bool) {
	if replica < 0 || replica >= len(s.copies.acks) {
		return checksum.Sum{}, false
	}
	acks := s.copies.acks[replica]
	if i, ok := slices.BinarySearchFunc(acks, op, func(a durableAck, op uint64) int { return cmp.Compare(a.op, op) }); ok {
		return acks[i].sum, true
	}
	return checksum.Sum{}, false
}

// Violation returns the first violation seen, or nil.
func (s *Suite) Violation() *Violation { return s.first }

// Finish runs the end-of-run checks (acknowledged ops in the canonical history, then
// linearizability) once, and returns the first violation of the whole run, or nil.
func (s *Suite) Finish() *Violation {
	if s.first != nil || s.finished {
		return s.first
	}
	s.finished = true
	s.report(s.acked.finish(s.lastNs))
	s.checkAllDisks(s.lastNs)
	if s.first == nil {
		s.report(s.history.Check())
	}
	return s.first
}
