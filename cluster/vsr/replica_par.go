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
func (r *Replica) nackThreshold() int { return r.count - r.quorum() + 1 }

// primaryMaybeStartView starts the view once every op above commit_number has its body, after
// truncating from the lowest op that enough replicas never saw.
func (r *Replica) primaryMaybeStartView() {
	if r.status != StatusViewChange || !r.isPrimary() || !r.viewChange.installed {
		return
	}
	for op := r.commitMax + 1; op <= r.op; op++ {
		if _, ok := r.log.prepare(op); ok {
			continue
		}
		if r.reclaimUnverified(op) {
			return // acceptRepair went on from there
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
//     record on the replicas that had it) is denied only if our log never reached op and
//     our disk holds no damaged entry for it: any prepare of op we hold might be the one.
//
// An op at or below commit_min is in our state (perhaps only in a checkpoint): never denied.
func (r *Replica) denies(op uint64, sum checksum.Sum, logOp uint64) bool {
	if op <= r.commitMin {
		return false
	}
	if sum.IsZero() {
		return logOp < op && !r.log.isFaulty(op)
	}
	return !r.log.seen(op, sum)
}

func (r *Replica) sendNackPrepare(to int, op uint64, sum checksum.Sum) {
	h := r.header(CommandNackPrepare)
	h.Op, h.Parent = op, sum
	r.bus.SendToReplica(to, Encode(h, nil))
}

func (r *Replica) onNackPrepare(m Message) {
	h := m.Header
	if r.status != StatusViewChange || !r.isPrimary() || !r.viewChange.installed || h.View != r.view {
		return
	}
	if h.Op <= r.commitMax || h.Op > r.op || r.expectedChecksum(h.Op) != h.Parent {
		return // not the prepare the suffix needs (a zero checksum: while it still has none)
	}
	r.viewChange.nacks[h.Op%LogSlotsMax] |= 1 << uint(h.Replica)
	r.primaryMaybeStartView()
}
