package invariants

import (
	"math/bits"

	"vopr/cluster/vsr"
)

// The same holds of truncations on nacks (PAR): a new primary drops an uncommitted op from
// its log only on n - quorum + 1 nack_prepares for it, its own counted, each of the view it
// is starting. A nack of an earlier view change may be stale (its sender may have taken the
// prepare since), and counted with the current round's it can truncate an op that a quorum
// now holds. So where the harness shows what the network delivered, a truncation that the
// primary reports as done on nacks (EventTruncate "nack") must have had that many denials of
// the op, of its epoch and view, delivered to it intact, its own vote counted whatever it
// was. A truncation of an op for which an offer (a nack_prepare carrying the header its
// sender holds) was delivered is left alone: a proven offer that does not chain with the op
// below truncates it too, without nacks.

// nackKey names the op a primary heard denied or offered in a view (viewKey).
type nackKey struct {
	view     uint64
	receiver int
	op       uint64
}

// receiveNack takes a nack_prepare the network delivered intact to replica to.
func (q *commitQuorum) receiveNack(to int, h vsr.Header) {
	key := nackKey{viewKey(h.Epoch, h.View), to, h.Op}
	if h.Size != vsr.HeaderSize {
		if q.offers == nil {
			q.offers = map[nackKey]bool{}
		}
		q.offers[key] = true
		return
	}
	if q.nacks == nil {
		q.nacks = map[nackKey]uint16{}
	}
	q.nacks[key] |= 1 << uint(h.Replica)
}

// truncated checks a truncation a primary reports as done on nacks: e.Op is the op it kept,
// the first it dropped is the one above.
func (q *commitQuorum) truncated(atNs int64, e vsr.Event) *Violation {
	key := nackKey{viewKey(e.Epoch, e.View), e.Replica, e.Op + 1}
	outside, known := q.configs[e.Epoch]
	if !q.receiving || !known || q.offers[key] {
		return nil
	}
	members := (uint16(1)<<uint(q.slots) - 1) &^ outside
	active := bits.OnesCount16(members)
	need := active - (active/2 + 1) + 1
	got := bits.OnesCount16((q.nacks[key] | 1<<uint(e.Replica)) & members)
	if got >= need {
		return nil
	}
	return violation(NameCommitQuorum, e.Replica, e.Op+1, e.View, atNs,
		"truncated op %d on nacks in view %d (epoch %d) with nack_prepares of that view delivered to it from %d of the %d members needed (its own counted): an op n - quorum + 1 replicas did not deny in this view may have committed",
		e.Op+1, e.View, e.Epoch, got, need)
}
