package invariants

import (
	"math/bits"

	"vopr/cluster/checksum"
	"vopr/cluster/vsr"
)

// NameCommitQuorum checks that every op, when it is first executed anywhere, had been
// acknowledged by a majority of the active members of one configuration: in one epoch and
// view, the prepare_oks its backups sent for that prepare and the primary's own durable
// vote, counted only from replicas the configuration of that epoch names as active members
// (a standby's vote, a removed replica's, or a quorum sized by another configuration does
// not make one). The configurations are learnt from the headers the replicas send (each
// names its epoch and membership); one epoch named with two memberships is a violation too
// (configuration agreement). Votes are what replicas sent, a superset of what any primary
// received, so a correct primary always passes.
//
// The same holds of view changes: a primary sends start_view for a view only once a majority
// of the active members of the view's configuration had sent it a do_view_change for that
// view (its own counts; view 0 begins without one). Where the harness shows what the
// network delivered (OnReceive), the do_view_changes must have reached the primary intact,
// not only have been sent: one still in flight, lost or corrupted was never counted by a
// correct primary. A primary that started the view from do_view_changes of an earlier
// round, or from its own log alone, may install a log that lacks committed ops.
const NameCommitQuorum = "commit_quorum"

// selfVote stands for the primary's own vote (EventVoteSelf) in a vote set: the primary is
// always a member of its configuration (the replica asserts it), whatever its index.
const selfVote = 1 << 15

type voteKey struct {
	sum   checksum.Sum
	epoch uint32
	view  uint32
}

type commitQuorum struct {
	slots   int                // active replica slots, as formatted
	configs map[uint32]uint16  // epoch -> the slots outside it
	votes   map[uint64][]tally // op -> the votes for each prepare of it (a handful at most)
	spare   [][]tally          // arrays of checked ops' votes, for reuse (a map per op cost two allocations)
	checked uint64             // ops up to here had their first execution checked
	armed   bool               // the harness passes the replicas' messages (OnMessage)
	// dvcs holds, per view (viewKey), the replicas that sent a do_view_change for it; a
	// view's do_view_changes all go to its primary.
	dvcs map[uint64]uint16
	// heard holds, per view and receiving replica (heardKey), the replicas whose
	// do_view_change for that view the network delivered to it intact; used once the
	// harness passes deliveries (receiving).
	heard     map[heardKey]uint16
	receiving bool
	// nacks and offers hold, per view, receiving primary and op (nackKey), the replicas whose
	// denial of the op the network delivered to it intact, and whether an offer of one was
	// (commit_quorum_nacks.go).
	nacks  map[nackKey]uint16
	offers map[nackKey]bool
}

type heardKey struct {
	view     uint64 // viewKey
	receiver int
}

// receive takes a header the network delivered intact to replica to.
func (q *commitQuorum) receive(to int, h vsr.Header) {
	if h.Command == vsr.CommandNackPrepare {
		q.receiveNack(to, h)
		return
	}
	if h.Command != vsr.CommandDoViewChange {
		return
	}
	if q.heard == nil {
		q.heard = map[heardKey]uint16{}
	}
	q.heard[heardKey{viewKey(h.Epoch, h.View), to}] |= 1 << uint(h.Replica)
}

// message learns a configuration from any header, and a vote from a prepare_ok.
func (q *commitQuorum) message(atNs int64, h vsr.Header) *Violation {
	if h.Command == vsr.CommandRequest {
		return nil // a client's request a backup forwards: its header is the client's
	}
	q.armed = true
	if v := q.config(atNs, int(h.Replica), h.Epoch, h.Outside); v != nil {
		return v
	}
	switch h.Command {
	case vsr.CommandPrepareOK:
		if h.Op > q.checked {
			q.vote(h.Op, voteKey{sum: h.Parent, epoch: h.Epoch, view: h.View}, 1<<uint(h.Replica))
		}
	case vsr.CommandDoViewChange:
		if q.dvcs == nil {
			q.dvcs = map[uint64]uint16{}
		}
		q.dvcs[viewKey(h.Epoch, h.View)] |= 1 << uint(h.Replica)
	case vsr.CommandStartView:
		return q.startView(atNs, h)
	}
	return nil
}

// startView checks that the primary sending h had a quorum of its view's do_view_changes.
func (q *commitQuorum) startView(atNs int64, h vsr.Header) *Violation {
	outside, known := q.configs[h.Epoch]
	if !known || h.View == 0 {
		return nil // view 0 begins without a view change
	}
	members := (uint16(1)<<uint(q.slots) - 1) &^ outside
	dvcs, how := q.dvcs[viewKey(h.Epoch, h.View)], "sent"
	if q.receiving {
		dvcs, how = q.heard[heardKey{viewKey(h.Epoch, h.View), int(h.Replica)}], "delivered to it"
	}
	got := bits.OnesCount16((dvcs | 1<<uint(h.Replica)) & members)
	if need := bits.OnesCount16(members)/2 + 1; got < need {
		return violation(NameCommitQuorum, int(h.Replica), h.Op, h.View, atNs,
			"sent start_view for view %d (epoch %d) with do_view_changes for that view %s from %d of the %d members needed (its own counted)",
			h.View, h.Epoch, how, got, need)
	}
	return nil
}

func (q *commitQuorum) config(atNs int64, replica int, epoch uint32, outside uint16) *Violation {
	if q.configs == nil {
		q.configs = map[uint32]uint16{}
	}
	known, ok := q.configs[epoch]
	if !ok {
		q.configs[epoch] = outside
		return nil
	}
	if known != outside {
		return violation(NameCommitQuorum, replica, 0, 0, atNs,
			"sent a message of configuration epoch %d with membership outside=%#x, where another replica named it outside=%#x",
			epoch, outside, known)
	}
	return nil
}

// tally is the voters for one prepare (key) of an op.
type tally struct {
	key    voteKey
	voters uint16
}

func (q *commitQuorum) vote(op uint64, key voteKey, voter uint16) {
	if q.votes == nil {
		q.votes = map[uint64][]tally{}
	}
	tallies, ok := q.votes[op]
	if !ok && len(q.spare) > 0 {
		tallies = q.spare[len(q.spare)-1]
		q.spare = q.spare[:len(q.spare)-1]
	}
	for i := range tallies {
		if tallies[i].key == key {
			tallies[i].voters |= voter
			return
		}
	}
	q.votes[op] = append(tallies, tally{key: key, voters: voter})
}

// forget drops op's votes, keeping their array for another op's.
func (q *commitQuorum) forget(op uint64) {
	if tallies, ok := q.votes[op]; ok {
		q.spare = append(q.spare, tallies[:0])
		delete(q.votes, op)
	}
}

// event takes the primary's own votes and checks first executions.
func (q *commitQuorum) event(atNs int64, e vsr.Event) *Violation {
	switch {
	case e.Kind == vsr.EventTruncate && e.Text == "nack":
		return q.truncated(atNs, e)
	case e.Kind == vsr.EventVoteSelf && e.Op > q.checked:
		q.vote(e.Op, voteKey{sum: e.Checksum, epoch: e.Epoch, view: e.View}, selfVote)
	case e.Kind == vsr.EventCommit && e.Op > q.checked && q.armed:
		next := e.Op == q.checked+1
		q.checked = e.Op
		v := q.check(atNs, e)
		if next {
			q.forget(e.Op) // votes are kept only above checked: e.Op's were the lowest
		} else {
			for op := range q.votes { // a first execution past a gap (a state sync)
				if op <= e.Op {
					q.forget(op)
				}
			}
		}
		return v
	}
	return nil
}

// check looks for a quorum of one configuration among the votes for e's prepare.
func (q *commitQuorum) check(atNs int64, e vsr.Event) *Violation {
	best, bestNeed := 0, 0
	for _, t := range q.votes[e.Op] {
		key, voters := t.key, t.voters
		if key.sum != e.Checksum {
			continue
		}
		outside, known := q.configs[key.epoch]
		if !known {
			return nil // a configuration nobody described: nothing to judge by
		}
		members := (uint16(1)<<uint(q.slots) - 1) &^ outside
		active := bits.OnesCount16(members)
		got := bits.OnesCount16(voters & members)
		if voters&selfVote != 0 {
			got++
		}
		need := active/2 + 1
		if got >= need {
			return nil
		}
		if got > best || bestNeed == 0 {
			best, bestNeed = got, need
		}
	}
	return unacknowledged(atNs, e, best, bestNeed)
}

// unacknowledged is check's violation. Apart from check, so that check's event stays off the
// heap: slicing its checksum for the message made every call allocate a copy of it.
func unacknowledged(atNs int64, e vsr.Event, best, bestNeed int) *Violation {
	sum := e.Checksum
	return violation(NameCommitQuorum, e.Replica, e.Op, e.View, atNs,
		"executed op %d (checksum %x), which no configuration's quorum acknowledged: at most %d of the %d votes needed in one epoch and view",
		e.Op, sum[:4], best, max(bestNeed, 1))
}

// rewind forgets the votes and checks above op (a restore or a failover cut the history),
// and the configurations: a failover's epoch follows the one its standby knew, which the
// lost configuration may have moved past.
func (q *commitQuorum) rewind(op uint64) {
	q.checked = min(q.checked, op)
	q.configs = nil
	for o := range q.votes {
		if o > op {
			delete(q.votes, o)
		}
	}
}
