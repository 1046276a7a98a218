package vsr

import (
	"vopr/cluster/kv"
	"vopr/internal/assert"
)

// Standbys (the runbook's replicas 100 and up) follow the cluster without being part of it.
// A standby journals the primary's prepares, repairs and state-syncs like a backup, executes
// committed ops and checkpoints them, so that it holds a copy of the state a few ops behind
// the cluster that an operator can promote when the active replicas are gone.
//
// What keeps it outside every quorum:
//   - it never sends prepare_ok, start_view_change, do_view_change or nack_prepare, and the
//     active replicas drop any such message that names a standby (acceptFrom), so the
//     replication, view-change and nack quorums are made of active replicas alone;
//   - primaryIndex ranges over the active replicas: a standby never leads;
//   - it never times out into a view change: it learns of a new view from the new
//     primary's prepares, commits and start_view, and asks for the view's log;
//   - it is never asked for a nack or a checkpoint: peers pick among the actives. It is
//     asked for prepares by checksum (randomRepairPeer), which only serves a copy whose
//     checksum the asker named, and counts for nothing.
//
// A standby's index is ReplicaCount + k; operators know it as StandbyIDBase + k.

// StandbyLagMaxNs is the runbook's bound on a standby's lag (scenario 4: replication lag
// above 1000 ms makes a standby ineligible for promotion).
const StandbyLagMaxNs = 1_000_000_000

// StandbyLagOpsMax bounds a standby's lag in ops for promotion: beyond a checkpoint interval
// behind, its log no longer overlaps what the primary keeps for repair.
const StandbyLagOpsMax = CheckpointInterval

// isStandby reports whether this replica is a standby.
func (r *Replica) isStandby() bool { return r.replica >= r.count }

// IsStandby reports whether this replica is a standby (Options.StandbyCount).
func (r *Replica) IsStandby() bool { return r.isStandby() }

// acceptFrom reports whether a message from another replica (not a client request) is one
// this replica takes: from an active replica anything; from a standby only what a standby
// sends (asking for the view's log, a prepare, a checkpoint). A prepare_ok or a view-change
// vote naming a standby is dropped, so a standby never counts towards a quorum.
func (r *Replica) acceptFrom(h *Header) bool {
	from := int(h.Replica)
	switch {
	case from >= r.count+r.standbys:
		return false
	case h.Command == CommandPrepare && from < r.count:
		// A prepare names its creator, a primary of its view, who may have left the
		// configuration since: repair and re-replication check it by view and checksum.
		return true
	case !r.isMember(from):
		return false // outside our configuration: it never counts, nor leads
	case from < r.count:
		return true
	}
	switch h.Command {
	case CommandRequestPrepare, CommandRequestSync, CommandRequestStartView:
		return true
	case CommandPrepareOK:
		return r.mutated(MutationStandbyVotes)
	}
	return false
}

// sendToStandbys sends msg to every standby: the primary's prepares, commits and start_view.
func (r *Replica) sendToStandbys(msg []byte) {
	for i := r.count; i < r.count+r.standbys; i++ {
		if i != r.replica && r.isMember(i) {
			r.bus.SendToReplica(i, msg)
		}
	}
}

// randomActivePeer draws an active replica other than this one (the caller makes sure one
// exists). For an active replica the draw is the one it always made.
func (r *Replica) randomActivePeer() int {
	if r.isStandby() {
		return r.activeMember(r.rand.IntN(r.activeCount()))
	}
	assert.That(r.activeCount() > 1, "no active peer to pick")
	k := r.rand.IntN(r.activeCount() - 1)
	for i := 0; i < r.count; i++ {
		if i == r.replica || !r.isMember(i) {
			continue
		}
		if k == 0 {
			return i
		}
		k--
	}
	assert.Unreachable("active peer out of range")
	return -1
}

// hasActivePeer reports whether there is an active replica other than this one to ask.
func (r *Replica) hasActivePeer() bool { return r.isStandby() || r.activeCount() > 1 }

// randomRepairPeer draws the replica an active replica asks for a prepare by checksum: any
// other member, standbys included. A standby holds every prepare the primaries sent it, and
// a copy whose checksum matches is that prepare whoever holds it; asking the active
// replicas alone left a committed op unrepairable once every active copy was damaged
// (swarm seed 2027194529: op 14, damaged on two active replicas and never received by the
// third, intact on the standby, and the cluster stopped at commit 13). Without member
// standbys the draw is the one randomActivePeer always made.
func (r *Replica) randomRepairPeer() int {
	standbys := 0
	for i := r.count; i < r.count+r.standbys; i++ {
		if i != r.replica && r.isMember(i) {
			standbys++
		}
	}
	if r.isStandby() || standbys == 0 {
		return r.randomActivePeer()
	}
	k := r.rand.IntN(r.activeCount() - 1 + standbys)
	for i := 0; i < r.count+r.standbys; i++ {
		if i == r.replica || !r.isMember(i) {
			continue
		}
		if k == 0 {
			return i
		}
		k--
	}
	assert.Unreachable("repair peer out of range")
	return -1
}

// standbyLag tracks how far a standby is behind the primary it hears from: lag in ops is
// the newest commit number heard minus the op executed; lag in time is how long ago the
// primary announced the newest commit number the standby has executed. A standby cut off
// from the primary hears nothing, so its time lag grows even though its op lag looks small.
//
// A process that has heard no primary yet (every start, a restart included: the record is
// volatile) has nothing to measure from: its lag is unknown (Inspection.StandbyLagKnown),
// not zero, and it is not eligible. A restarted standby may know a commit number from its
// superblock far above the op it has executed, and executes nothing until it hears from a
// primary; reporting 0 ms and 0 ops then had a DR failover promote it as current.
type standbyLag struct {
	heard       uint64 // newest commit number the primary announced
	pendingOp   uint64 // a commit number heard and not yet executed ...
	pendingNs   int64  // ... and when it was heard
	currentNs   int64  // when the newest commit number we have executed was announced
	heardNs     int64  // when the primary last announced a commit number
	initialised bool   // a primary announced a commit number to this process: the lag is known
}

// standbyHeard records a commit number announced by the primary of our view.
func (r *Replica) standbyHeard(commit uint64) {
	if !r.isStandby() {
		return
	}
	now := r.clock.Monotonic()
	l := &r.lag
	if !l.initialised {
		l.initialised, l.currentNs = true, now
	}
	l.heard, l.heardNs = max(l.heard, commit), now
	// Current only if every commit number heard is executed, not merely this one: a
	// prepare fetched by repair, or one the network delayed, carries the commit number of
	// when it was prepared, and taking it as current made a standby stuck behind a newer
	// announcement report a lag near zero (swarm seed 5022: stuck 2.76 s at op 388 having
	// heard of commit 439, it reported 1.25 ms when repair delivered prepare 389).
	if l.heard <= r.commitMin && !r.mutated(MutationStandbyLagStuck) {
		l.currentNs = now
		return
	}
	// The pending number is the newest heard: once it is executed, everything announced
	// up to now is, so the standby is current as of now.
	if l.pendingOp == 0 {
		l.pendingOp, l.pendingNs = l.heard, now
	}
}

// standbyExecuted runs after the standby executes ops: a pending commit number reached
// makes the standby current as of the moment it was announced.
func (r *Replica) standbyExecuted() {
	l := &r.lag
	if !r.isStandby() || l.pendingOp == 0 || r.commitMin < l.pendingOp {
		return
	}
	l.currentNs, l.pendingOp = l.pendingNs, 0
}

// standbyContactLag is the standby's lag when it last heard from the primary: how long
// before that moment the newest commit number it had executed was announced. After the
// active replicas are lost it stays what it was, where the lag now keeps growing: it is what
// a DR failover judges the standby by. 0 while the lag is unknown (no primary heard).
func (r *Replica) standbyContactLag() int64 {
	if !r.isStandby() || !r.lag.initialised {
		return 0
	}
	return max(r.lag.heardNs-r.lag.currentNs, 0)
}

// standbyLagNow returns the standby's lag in ops and nanoseconds, and whether it is
// eligible for promotion (both within the runbook's bounds, and in normal status). While the
// lag is unknown (no primary heard) it returns zeros and ineligible.
func (r *Replica) standbyLagNow() (ops uint64, ns int64, eligible bool) {
	if !r.isStandby() || !r.lag.initialised {
		return 0, 0, false
	}
	if r.lag.heard > r.commitMin {
		ops = r.lag.heard - r.commitMin
	}
	ns = max(r.clock.Monotonic()-r.lag.currentNs, 0)
	eligible = r.status == StatusNormal && !r.stateLost && ns <= StandbyLagMaxNs && ops <= StandbyLagOpsMax
	return ops, ns, eligible
}

// readThrottle limits the reads a standby serves per second of its monotonic clock (the
// runbook's `standby throttle --max-qps`); maxQPS 0 serves every read.
type readThrottle struct {
	maxQPS      int
	windowStart int64
	served      int
}

// admit reports whether one more read fits in the current one-second window.
func (t *readThrottle) admit(now int64) bool {
	if t.maxQPS == 0 {
		return true
	}
	if now-t.windowStart >= 1_000_000_000 {
		t.windowStart, t.served = now, 0
	}
	if t.served >= t.maxQPS {
		return false
	}
	t.served++
	return true
}

// ThrottleReads limits the stale reads this standby serves to maxQPS per second (0: no
// limit). It is the operator's `standby throttle`; an active replica refuses it.
func (r *Replica) ThrottleReads(maxQPS int) error {
	if !r.isStandby() {
		return errNotStandby
	}
	if maxQPS < 0 {
		return errConfig("max-qps must be 0 (no limit) or more")
	}
	r.throttle = readThrottle{maxQPS: maxQPS}
	return nil
}

// ReadsMaxQPS returns the standby's read limit (0: none).
func (r *Replica) ReadsMaxQPS() int { return r.throttle.maxQPS }

var errNotStandby = errConfig("not a standby: only standbys serve stale reads")

// onStaleRead serves a get from the standby's executed state, at once and outside the log:
// the reply's Op is the op whose state it read (commit_min), so the client knows how stale
// it is. Only a standby in normal status with its own state serves one, and only at or
// above the op the client last read here (the request's Commit: after a restart the standby
// resumes from its checkpoint, behind what it served before). A read over the throttle's
// limit, or ahead of the standby, is dropped (the client retries or gives up).
func (r *Replica) onStaleRead(m Message) {
	h := m.Header
	if !r.isStandby() || r.status != StatusNormal || r.stateLost || h.Client == 0 {
		return
	}
	op, err := kv.DecodeOp(m.Body)
	if err != nil || op.Kind != kv.KindGet {
		return // only reads: anything else would change state outside the log
	}
	if r.commitMin < h.Commit {
		r.metrics.StaleReadsBehind++
		return
	}
	if !r.throttle.admit(r.clock.Monotonic()) {
		r.metrics.StaleReadsDropped++
		return
	}
	before := r.machine.Digest()
	result := r.machine.Apply(m.Body)
	assert.That(r.machine.Digest() == before, "standby: a stale read changed the state")
	reply := r.header(CommandReply)
	reply.Client, reply.Request, reply.Operation, reply.Op = h.Client, h.Request, OperationReadStale, r.commitMin
	if r.mutated(MutationStandbyReadAtCommitNumber) {
		reply.Op = r.commitMax
	}
	r.metrics.StaleReads++
	r.bus.SendToClient(h.Client, Encode(reply, result))
}
