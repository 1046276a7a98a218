package vsr

import (
	"vopr/cluster/checksum"
	"vopr/internal/assert"
)

// repairState tracks what the replica is missing.
type repairState struct {
	// wantOp is the highest op the replica knows exists (from a prepare or commit of the
	// primary) but does not hold yet.
	wantOp uint64
	// stuckRounds counts repair rounds in which the next op to execute stayed missing: past
	// a limit, its prepare is presumed compacted everywhere and the replica state-syncs.
	stuckRounds int
	// lastCommitMin and lastOp are the position at the previous repair round.
	lastCommitMin, lastOp uint64
	// commitOp and commitChecksum name the committed op and its prepare's checksum that the
	// primary of view commitView (of epoch commitEpoch) announced in its latest commit
	// heartbeat (onCommit): see expectedChecksum (at most our head) and committedAbove.
	commitOp                uint64
	commitChecksum          checksum.Sum
	commitView, commitEpoch uint32
	// above holds prepares above our head fetched by the checksums that the commit heartbeat
	// and their successors' parent links name (committedAbove), until the chain reaches our
	// head and they are appended.
	above aheadBuffer
}

// RepairStuckRoundsMax is how many repair rounds a replica waits for the next op to execute
// before it asks a peer for a checkpoint.
const RepairStuckRoundsMax = 10

// onRepairTimeout asks for prepares the log lacks: bodies of known headers (by checksum,
// from anyone) and ops past our head that the primary has (by op, from the primary). It also
// retries log writes that failed and a checkpoint that failed.
func (r *Replica) onRepairTimeout() {
	r.repairTimeout.start(r.rand)
	r.logRetry = false // this round writes it again (flushLog below), or nothing holds it back
	if r.status == StatusRecovering || r.status == StatusStopped {
		return
	}
	if r.checkpointDue {
		r.commitExecute()
	}
	r.checkStuck()
	r.viewChange.asked = [LogSlotsMax]bool{} // a new round: ask for the suffix again
	r.primaryMaybeStartView()
	if r.diskFull {
		r.retryDiskFull()
	} else {
		r.flushLog()
	}
	asked := r.requestMissing()
	if op, sum := r.committedAboveMissing(); op != 0 && r.repair.stuckRounds > 0 {
		// By checksum, so that any peer may serve it, once a round went by without progress
		// (the primary, asked by op below, did not answer): a backup that the primary hears
		// catches up as before, and its repair rounds draw no other peers.
		r.requestPrepare(op, sum)
		asked++
	}
	if r.status == StatusNormal && !r.isPrimary() && r.repair.wantOp > r.op {
		for op := r.op + 1; op <= r.repair.wantOp && asked < RepairRequestsMax; op++ {
			r.requestPrepare(op, checksum.Sum{})
			asked++
		}
	}
}

// requestMissing asks for up to RepairRequestsMax missing prepares of our log, those whose
// checksum we know first: a prepare of unknown checksum is served only by the primary (and
// a primary that lost its headers gets none), while the chain makes each repaired prepare
// name its predecessor's checksum. Asking the lowest ops first instead starved a primary
// whose lowest ops had no known checksum of the one op that would start the chain (swarm
// seed 1526). It returns how many it asked for.
//
// Kept unverified prepares are reclaimed first, top-down: each one reclaimed names its
// parent's checksum, so a run of them comes back in one round. In the ascending scan below
// only the topmost one's checksum was known, and a backup whose restart left 29 of them
// under a head it repaired took 29 rounds, 2.5 s behind the cluster (the lost_head round,
// swarm seed 2050200832; TestKeptUnverifiedChainIsReclaimedInOneRound).
func (r *Replica) requestMissing() int {
	floor := max(r.commitMin, r.checkpointOp)
	for op := r.op; op > floor; op-- {
		if _, held := r.log.prepare(op); !held {
			r.reclaimUnverified(op)
		}
	}
	asked := 0
	for _, known := range []bool{true, false} {
		for op := floor + 1; op <= r.op && asked < RepairRequestsMax; op++ {
			s := r.log.slotOf(op)
			if s.present && s.header.Op == op && s.prepare != nil {
				continue
			}
			if sum := r.expectedChecksum(op); sum.IsZero() != known {
				r.requestPrepare(op, sum)
				asked++
			}
		}
	}
	return asked
}

// expectedChecksum is the checksum op's prepare must have: from its header, or from the
// parent link of the next op's header (the hash chain names every op's predecessor), or,
// for the op the primary of our view announced committed, from its commit heartbeat.
//
// The heartbeat matters for our head op when our disk lost its identity (its entry damaged
// past its redundant record) and no op above names it: unknown, it could be asked of the
// primary alone, and a backup whose link to the primary was cut one way (it hears the
// primary, the primary does not hear it) stalled on it for good on an idle cluster, though
// peers it could reach held the prepare (make soak, swarm seed 3567225002287448461: R2 at
// commit 225 of 226 in the repair_peer round). A committed op's prepare is the same in every
// view, and the primary of our view names it with the authority its prepares carry, so any
// peer may serve it by that checksum (TestHeadOfLostIdentityRepairsByTheCommitChecksum).
// The name holds in the view and epoch it was heard in only: a failover's new configuration
// may have lost the old one's last committed ops and committed others at the same numbers.
func (r *Replica) expectedChecksum(op uint64) checksum.Sum {
	if h, ok := r.log.header(op); ok {
		return h.Checksum
	}
	if next, ok := r.log.header(op + 1); ok {
		return next.Parent
	}
	if op == r.repair.commitOp && r.view == r.repair.commitView && r.epoch == r.repair.commitEpoch {
		return r.repair.commitChecksum
	}
	return checksum.Sum{}
}

// committedAbove is the checksum op's prepare must have, for an op above our head up to the
// committed op that the primary of our view named in its commit heartbeat: that op's
// checksum, or the parent link of the op above it, held in repair.above and itself named so.
// Zero when the chain from the committed op down to op is not held (or the name is of
// another view or epoch, or more ops above our head than repair.above holds).
//
// Ops above our head were asked by op of the primary alone, and a backup cut one way from it
// stalled when no op it held named its head (its identity lost) and the primary had committed
// past it while it restarted (swarm seed 2027006076, the lost_head round, with its timing
// shifted: R0 at head 239, the heartbeat naming 240, 312 requests by op unanswered). The
// committed prepare, fetched by its checksum from any peer, names its parent, and so on down
// to our head, which is then named too (TestCommitAboveLostHeadRepairsByChecksum).
func (r *Replica) committedAbove(op uint64) checksum.Sum {
	c := &r.repair
	if r.status != StatusNormal || r.isPrimary() || r.isStandby() || op <= r.op || op > c.commitOp ||
		c.commitOp-r.op > aheadSlotsMax || r.view != c.commitView || r.epoch != c.commitEpoch {
		return checksum.Sum{}
	}
	sum := c.commitChecksum
	for o := c.commitOp; o > op; o-- {
		m, ok := c.above.peek(o)
		if !ok || m.Header.Checksum != sum {
			return checksum.Sum{}
		}
		sum = m.Header.Parent
	}
	return sum
}

// committedAboveMissing is the highest op above our head whose prepare committedAbove names
// and repair.above lacks, with its checksum, or 0.
func (r *Replica) committedAboveMissing() (uint64, checksum.Sum) {
	for op := r.repair.commitOp; op > r.op; op-- {
		sum := r.committedAbove(op)
		if sum.IsZero() {
			return 0, sum
		}
		if m, ok := r.repair.above.peek(op); !ok || m.Header.Checksum != sum {
			return op, sum
		}
	}
	return 0, checksum.Sum{}
}

// acceptCommittedAbove keeps a prepare above our head that committedAbove names, and appends
// the chain it completes. It reports whether it kept m.
func (r *Replica) acceptCommittedAbove(m Message) bool {
	sum := r.committedAbove(m.Header.Op)
	if sum.IsZero() || sum != m.Header.Checksum {
		return false
	}
	r.repair.above.put(m)
	for r.op < r.repair.commitOp {
		op := r.op + 1
		next, ok := r.repair.above.peek(op)
		if want := r.committedAbove(op); !ok || want.IsZero() || next.Header.Checksum != want {
			break
		}
		assert.That(next.Header.Op == op && op <= r.repair.commitOp, "a committed prepare above the head out of place")
		r.appendPrepare(next) // checks its parent link against our head, if known
		if r.op != op {
			break // refused
		}
		r.repair.above.take(op)
	}
	r.appendAhead()
	r.advanceCommitMax(r.repair.commitOp) // named committed by our view's primary
	r.commitExecute()
	return true
}

// requestPrepare asks for op's prepare: a known checksum can be served by any replica, so we
// ask one at random (not the primary alone, which is busy); an unknown one only by the
// primary of our view, whose log is the truth.
func (r *Replica) requestPrepare(op uint64, sum checksum.Sum) {
	if !r.hasActivePeer() {
		return // nobody to ask
	}
	h := r.header(CommandRequestPrepare)
	h.Op, h.Parent = op, sum
	to := r.primaryIndex(r.view)
	switch {
	case !sum.IsZero():
		to = r.randomRepairPeer()
	case to == r.replica:
		to = r.randomActivePeer()
	}
	r.bus.SendToReplica(to, Encode(h, nil))
}

// onRequestPrepare serves a prepare from our log. A zero checksum asks for "the op in your
// current log", which only the primary of a normal view may answer.
func (r *Replica) onRequestPrepare(m Message) {
	h := m.Header
	if int(h.Replica) == r.replica {
		return
	}
	if h.Request == requestWantsNack && r.denies(h.Op, h.Parent, r.op) {
		r.sendNackPrepare(int(h.Replica), h.Op, h.Parent)
		return
	}
	if held, ok := r.heldIdentity(h.Op); ok && h.Request == requestWantsNack && h.Parent.IsZero() {
		r.sendOffer(int(h.Replica), h.Op, held)
		return
	}
	prepare, ok := r.log.prepare(h.Op)
	if kept, p, unverified := r.log.unverified(h.Op); !ok && unverified && !h.Parent.IsZero() && kept.Checksum == h.Parent {
		r.bus.SendToReplica(int(h.Replica), p) // asked for by checksum: it is that prepare
		return
	}
	if !ok || (!h.Parent.IsZero() && !r.log.seen(h.Op, h.Parent)) {
		return
	}
	local, _ := r.log.header(h.Op)
	switch {
	case !h.Parent.IsZero() && local.Checksum == h.Parent:
	case h.Parent.IsZero() && r.status == StatusNormal && r.isPrimary() && h.View == r.view:
	default:
		return
	}
	r.bus.SendToReplica(int(h.Replica), prepare)
}

// acceptRepair takes a prepare that our log expects by checksum (its header is known, or its
// successor names it as parent), whatever view it was prepared in. It reports whether the
// message was such a repair.
func (r *Replica) acceptRepair(m Message) bool {
	h := m.Header
	if r.status == StatusRecovering || h.Op <= r.commitMin || h.Op > r.op {
		return false
	}
	if _, have := r.log.prepare(h.Op); have {
		return false
	}
	if r.expectedChecksum(h.Op) != h.Checksum {
		return false
	}
	r.log.setPrepare(m)
	r.metrics.Repairs++
	r.emit(EventRepair, h.Op, h.Checksum, "")
	r.writePrepare(h.Op)
	r.commitExecute()
	r.primaryMaybeStartView()
	return true
}

// reclaimUnverified takes back the prepare of op that our log kept unverified (forgetGaps)
// once the hash chain names it (expectedChecksum), as a repair from our own disk: no peer
// need hold it. It reports whether it did.
func (r *Replica) reclaimUnverified(op uint64) bool {
	_, p, ok := r.log.unverified(op)
	if !ok {
		return false
	}
	m, err := Decode(p, r.cluster)
	return err == nil && r.acceptRepair(m)
}

// checkStuck counts repair rounds without progress while the replica knows it lacks ops
// (the next op to execute is missing, or the primary is ahead of our log). Past a limit the
// ops are presumed compacted away everywhere, and the replica state-syncs.
//
// While the next op to execute is missing, only executing counts as progress: ops appended
// at the head (new prepares, which a primary makes itself) do not bring it closer. Counting
// them kept a primary whose next ops lay below its backups' checkpoint from ever syncing
// while clients kept it busy (swarm seed 20261800: commit 298 of 374 for 9 s, until the
// backups' next checkpoint).
func (r *Replica) checkStuck() {
	_, haveNext := r.log.prepare(r.commitMin + 1)
	nextMissing := r.commitMin < r.commitMax && !haveNext
	lacking := nextMissing || r.repair.wantOp > r.op
	progress := r.commitMin != r.repair.lastCommitMin || (!nextMissing && r.op != r.repair.lastOp)
	r.repair.lastCommitMin, r.repair.lastOp = r.commitMin, r.op
	if !lacking || progress {
		r.repair.stuckRounds = 0
		return
	}
	r.repair.stuckRounds++
	if r.repair.stuckRounds >= RepairStuckRoundsMax && r.hasActivePeer() {
		r.repair.stuckRounds = 0
		to := r.primaryIndex(r.view)
		if to == r.replica {
			to = r.randomActivePeer()
		}
		r.requestSync(to)
	}
}
