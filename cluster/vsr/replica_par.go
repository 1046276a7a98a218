package vsr

import (
	"vopr/cluster/checksum"
	"vopr/internal/assert"
)

// Protocol-aware recovery of the uncommitted suffix (PAR, Alagappan et al., FAST 2018, as
// TigerBeetle applies it to VSR). A new primary has adopted the best log of a quorum, but it
// may lack the bodies of some uncommitted ops, and possibly nobody has them. It must not
// start the view with a hole it can never fill, and it must not drop an op that may have
// committed. So, before start_view, it asks every replica for each missing body:
//
//   - a replica that holds the prepare sends it (the repair path);
//   - a replica that has never seen it (no intact copy, and no unreadable entry for that op
//     on its disk) answers nack_prepare;
//   - a replica whose disk holds an unreadable entry for the op stays silent: it may have
//     acknowledged it ("seen but corrupt"), so it blocks truncation.
//
// An op committed in some view was acknowledged by a replication quorum, so at most
// n - quorum replicas can nack it. Once n - quorum + 1 nacks are in, the op cannot have
// committed, and the primary truncates the log from it.

// nackThreshold is the number of nacks proving an op never committed.
func (r *Replica) nackThreshold() int { return r.activeCount() - r.quorum() + 1 }

// primaryMaybeStartView starts the view once every op above commit_number has its body, after
// truncating from the lowest op that enough replicas never saw.
func (r *Replica) primaryMaybeStartView() {
	if r.status != StatusViewChange || !r.isPrimary() || !r.viewChange.installed {
		return
	}
	if !r.primaryNameCommitted() {
		return
	}
	for op := r.commitMax + 1; op <= r.op; op++ {
		if _, ok := r.log.prepare(op); ok {
			continue
		}
		if r.reclaimUnverified(op) {
			return // acceptRepair went on from there
		}
		if h, ok := r.provenOffer(op); ok && r.expectedChecksum(op).IsZero() {
			if prev, known := r.parentOf(op); known && prev == h.Parent {
				r.log.setHeader(h) // the only prepare of op that can have committed
				r.viewChange.asked[op%LogSlotsMax] = false
				op-- // and fetch its body (or take back our own copy)
				continue
			} else if known {
				// It does not chain with the op below, the only prepare that can have
				// committed there (our log's): nothing of op committed.
				r.metrics.NackTruncations++
				r.truncate(op - 1)
				break
			}
		}
		if popcount(r.viewChange.nacks[op%LogSlotsMax]) >= r.nackThreshold() {
			assert.That(op > r.commitMax, "truncating a committed op on nacks")
			r.metrics.NackTruncations++
			r.truncate(op - 1)
			break
		}
		r.requestSuffix(op)
		return
	}
	r.viewChange.nacks = [LogSlotsMax]uint64{}
	r.transitionToNormalPrimary()
}

// primaryNameCommitted names each committed op above commit_min whose identity the chosen
// log lost (no header, and no header above it naming it as parent: the head op, damaged past
// its record on the replicas of that log view), by the same offers as an uncommitted op of
// unknown identity: the one prepare of op that can have committed is the committed one. A
// committed op is never truncated, so without a proof the primary keeps asking. Starting the
// view without its identity left every replica unable to execute it or ask for it by
// checksum, while two of them held it intact, kept unverified (swarm seed 1432). It reports
// whether every such op is named, and false as well when a reclaimed copy went on (through
// acceptRepair) from there.
func (r *Replica) primaryNameCommitted() bool {
	for op := max(r.commitMin, r.checkpointOp) + 1; op <= min(r.commitMax, r.op); op++ {
		if _, ok := r.log.prepare(op); ok || !r.expectedChecksum(op).IsZero() {
			continue
		}
		h, proven := r.provenOffer(op)
		if prev, known := r.parentOf(op); proven && (!known || prev == h.Parent) {
			r.log.setHeader(h)
			r.viewChange.asked[op%LogSlotsMax] = false
			if r.reclaimUnverified(op) {
				return false
			}
			continue // named: repair fetches its body by checksum
		}
		r.requestSuffix(op)
		return false
	}
	return true
}

// requestSuffix asks every replica for op's prepare, with nack_prepare wanted, and counts our
// own nack when we deny it too (judged on our log as our do_view_change described it). It
// asks once per repair round (viewChangeState.asked): nacks and repairs only tell it which
// op is next. A zero checksum asks about an op no do_view_change could name (see denies).
func (r *Replica) requestSuffix(op uint64) {
	sum := r.expectedChecksum(op)
	if r.viewChange.asked[op%LogSlotsMax] {
		return
	}
	r.viewChange.asked[op%LogSlotsMax] = true
	if own := r.viewChange.dvcs[r.replica]; own != nil && r.denies(op, sum, own.op) {
		r.viewChange.nacks[op%LogSlotsMax] |= 1 << uint(r.replica)
	} else if h, ok := r.heldIdentity(op); ok && sum.IsZero() {
		r.viewChange.offers[r.replica] = h
	}
	h := r.header(CommandRequestPrepare)
	h.Op, h.Parent, h.Request = op, sum, requestWantsNack
	r.sendToOthers(Encode(h, nil))
}

// requestWantsNack in a request_prepare's Request field asks for nack_prepare when the
// replica never saw the prepare.
const requestWantsNack = 1

// denies reports whether we may answer nack_prepare for op's prepare with checksum sum,
// given that our log ends at op logOp: we cannot have acknowledged it. A prepare_ok goes out
// only for a durable entry, and a durable entry comes back from a restart intact or faulty,
// never silently gone (its redundant record), so:
//   - a known checksum is denied unless we hold that prepare, or a damaged entry for op
//     that may be it (log.seen);
//   - a zero checksum (a head op whose header every do_view_change lost: damaged past its
//     record on the replicas that had it) is denied only if we hold no prepare of op (our
//     log never reached op, or it reached op without ever holding a prepare there) and our
//     disk holds no damaged entry for it: any prepare of op we hold might be the one.
//
// A log that reached op by a log install alone (a head op of unknown identity, taken as a
// hole from the chosen do_view_change) holds nothing of op: like a header we hold with no
// body (the known-checksum case), it proves no acknowledgement. Counting the log's reach
// made every replica that installed such a head unable to deny it, and the faulty replica
// whose recovery read it from rot past its torn last append could not either: no nack
// quorum ever formed and no view change completed again (swarm seed 2026952061: R1's
// recovery took damaged unwritten records for ops 43-44, and op 44, never prepared,
// blocked views 11 to 28 once R2 and R0 had installed logs reaching it).
//
// An op at or below commit_min is in our state (perhaps only in a checkpoint): never denied.
//
// A replica added by a reconfiguration, with an empty disk, denies nothing before its first
// state sync (or first executed op): its log never reaching op proves nothing of ops
// committed before it was a member. The nack threshold counts on every denier being a
// member of the configuration whose quorum could have committed the op; a new member's
// nack, with the kept offer of a replica left behind, made a "proof" that named that
// replica's stale prepare for an op two replicas of the old configuration had committed
// (swarm seed 2027056525: op 503 of epoch 1, named after replica 1 joined in epoch 2).
// Denying nothing is always safe: a nack only lets a primary truncate.
func (r *Replica) denies(op uint64, sum checksum.Sum, logOp uint64) bool {
	if op <= r.commitMin || r.holdsNothingAsJoiner() {
		return false
	}
	if sum.IsZero() {
		if r.log.isFaulty(op) {
			return false
		}
		_, held := r.log.prepare(op)
		_, _, kept := r.log.unverified(op)
		return logOp < op || (!held && !kept)
	}
	return !r.log.seen(op, sum)
}

// holdsNothingAsJoiner reports whether the replica joined from an empty disk (formatted to
// join, then added) and holds nothing yet: no checkpoint, nothing executed. A replica that
// was a member from the start is never exempt: its denials count as they always did (an
// empty original member's, in an epoch after the first, are needed for truncations; swarm
// seed 2027054619 stalled when they were withheld).
func (r *Replica) holdsNothingAsJoiner() bool {
	return r.joinedEmpty && r.commitMin == 0 && r.checkpointOp == 0
}

func (r *Replica) sendNackPrepare(to int, op uint64, sum checksum.Sum) {
	h := r.header(CommandNackPrepare)
	h.Op, h.Parent = op, sum
	r.bus.SendToReplica(to, Encode(h, nil))
}

// An op whose header no do_view_change of the chosen log view could name (its identity lost
// on every replica of that log view: damaged past its record, or forgotten by a log install
// that could not verify it) can be neither repaired by checksum nor denied by replicas whose
// logs reach it: they may have acknowledged the prepare the log meant. Each of those that
// knows which prepare of op its log and disk hold answers the zero-checksum request with
// that prepare's header (an offer): "if a prepare of op that I acknowledged committed, it is
// this one". A replica that acknowledged a committed prepare keeps its identity until it is
// damaged (never an other prepare of op: every later log names the committed one), so once
// n - quorum + 1 replicas have either denied op or offered the same prepare x, no prepare of
// op but x can have committed (a commit quorum meets them), and the new primary adopts x.
// Swarm seed 20262737: the primary of view 5 lost ops 195-197 past their records, and every
// other replica, holding them intact from log view 4, could neither serve nor deny them.

// parentOf is the checksum op's prepare must name as its parent, if our log knows it: the op
// below's, or zero for op 1, the first prepare of the cluster (swarm seed 2026120774: the
// registration at op 1 lost its identity on the log view's only replica, and the offers for
// it waited forever for a checksum of op 0 that no log holds).
func (r *Replica) parentOf(op uint64) (checksum.Sum, bool) {
	if op == 1 {
		return checksum.Sum{}, true
	}
	return r.log.checksumOf(op - 1)
}

// heldIdentity returns the header of the prepare of op that our log names and our disk may
// hold, when we know it: an intact or kept-unverified copy, or a header whose entry is
// faulty with that same checksum (named by its redundant record, and kept by log.forget when
// a new log forgot op). An entry of unknown identity (or of another checksum than the
// header's) may be any prepare: no offer.
func (r *Replica) heldIdentity(op uint64) (Header, bool) {
	s := r.log.slotOf(op)
	if s.header.Op != op || s.header.Checksum.IsZero() || (s.faulty && s.faultyChecksum != s.header.Checksum) {
		return Header{}, false
	}
	if !s.present && s.prepare == nil && !s.faulty {
		return Header{}, false
	}
	return s.header, true
}

// sendOffer answers a zero-checksum request for op with the header of the prepare we hold.
func (r *Replica) sendOffer(to int, op uint64, held Header) {
	h := r.header(CommandNackPrepare)
	h.Op = op
	body := make([]byte, HeaderSize)
	putHeader(body, &held) // the same bytes the header was decoded from
	r.bus.SendToReplica(to, Encode(h, body))
}

// provenOffer returns the prepare of op that replicas offered, when together with the
// replicas that denied op they are n - quorum + 1: no other prepare of op can have committed.
func (r *Replica) provenOffer(op uint64) (Header, bool) {
	for _, x := range r.viewChange.offers {
		if x.Op != op || x.Checksum.IsZero() {
			continue
		}
		agree := r.viewChange.nacks[op%LogSlotsMax]
		for i, y := range r.viewChange.offers {
			if y.Op == op && y.Checksum == x.Checksum {
				agree |= 1 << uint(i)
			}
		}
		if popcount(agree) >= r.nackThreshold() {
			return x, true
		}
	}
	return Header{}, false
}

func (r *Replica) onNackPrepare(m Message) {
	h := m.Header
	if r.status != StatusViewChange || !r.isPrimary() || !r.viewChange.installed || h.View != r.view {
		return
	}
	if h.Op <= r.commitMin || h.Op > r.op || r.expectedChecksum(h.Op) != h.Parent {
		return // not a prepare the view needs (a zero checksum: while it still has none)
	}
	if len(m.Body) > 0 {
		offer, err := DecodeHeader(m.Body, r.cluster)
		if err != nil || len(m.Body) != HeaderSize || offer.Command != CommandPrepare || offer.Op != h.Op || !h.Parent.IsZero() {
			return
		}
		r.viewChange.offers[h.Replica] = offer
	} else {
		r.viewChange.nacks[h.Op%LogSlotsMax] |= 1 << uint(h.Replica)
	}
	r.primaryMaybeStartView()
}
