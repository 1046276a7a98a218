package scenarios

import (
	"fmt"
	"strings"

	"vopr/cluster/client"
	"vopr/sim"
)

// Client liveness after the heal: every client must be served. The healed cluster commits
// something (the liveness phase's old test) while one client's requests are dropped by every
// replica (a primary that refuses a valid operation of the largest size, a session the
// replicas keep ignoring): the workload's other clients hide it, and its request ends
// indeterminate, which the linearizability checker must accept. So, as Jepsen's availability
// check does per client, the liveness phase waits until every client has had a request that
// it sent after the heal answered with a reply, and a request sent after the heal that its
// client gives up on, while a request another client sent later was answered, is a liveness
// failure: the cluster was serving, just not that request. An eviction is definite but is not
// service: a healed cluster whose client table has room for a re-registered client runs its
// next request, and a client evicted again and again (a session it got wrong, an eviction of
// an older session taken for its own) is starved while the others are served. (A healed cluster may still need seconds to catch up, its primary executing a
// backlog or syncing state; requests that time out while nobody is served are its recovery,
// which the liveness budget bounds.)
//
// "Later" is by arrival at the primary, which orders its queue first come first served, and a
// new primary starts with an empty queue: a request in flight across a view change (the
// reply cut's primary crash) is queued anew by whichever retry reaches the new primary, and a
// request another client sent meanwhile may get there first and be served first, while this
// one waits behind it on a cluster that is slow to commit. So a served request proves a
// dropped one only if it was sent once the latest primary had been in office for a rotation
// of the client's retries over every replica (settledAt): by then the given-up request's
// retry had reached that primary, ahead of it (swarm seed 2038000422).
type clientLiveness struct {
	healed   bool
	healedAt sim.Time
	sentAt   []sim.Time // per client: when its request in flight was first sent
	answered []bool     // per client: a request sent after the heal was answered with a reply
	evicted  []int      // per client: evictions of requests sent after the heal
	givenUp  []int      // per client: requests sent after the heal and given up on
	inFlight []bool     // per client: a request is in flight (sent at sentAt)
	// replies counts the requests sent after the heal and answered with a reply, the last at
	// lastReplyAt: what tells a slow cluster from a stuck one in a failure's text.
	replies     int
	lastReplyAt sim.Time
	// servedSentAt is the latest send time of a request answered with a reply.
	servedSentAt sim.Time
	starved      string // the first request sent after the heal given up on while a later one was served
	// primaryEpoch, primaryView: the latest view with a primary in normal status seen, and
	// settledAt when every client's retry had reached that primary (primary).
	primaryEpoch, primaryView uint32
	settledAt                 sim.Time
	round                     string // what started the second round (again), "" in the first
}

func newClientLiveness(clients int) clientLiveness {
	return clientLiveness{sentAt: make([]sim.Time, clients), answered: make([]bool, clients),
		evicted: make([]int, clients), givenUp: make([]int, clients), inFlight: make([]bool, clients)}
}

// heal marks the start of the liveness phase.
func (l *clientLiveness) heal(now sim.Time) { l.healed, l.healedAt = true, now }

// again starts a second round of the liveness phase at now, after what happened then
// (swarm_lasting.go: a replica taken down once the healed cluster converged): every client
// must be served anew.
func (l *clientLiveness) again(now sim.Time, what string) {
	l.healedAt, l.servedSentAt, l.round = now, 0, what
	l.replies, l.lastReplyAt = 0, 0
	clear(l.answered)
	clear(l.evicted)
	clear(l.givenUp)
}

// sent records that client i sent a new request at now.
func (l *clientLiveness) sent(i int, now sim.Time) { l.sentAt[i], l.inFlight[i] = now, true }

// done records the outcome of client i's request in flight.
func (l *clientLiveness) done(i int, op string, r client.Result, now sim.Time) {
	l.inFlight[i] = false
	if !l.healed || l.sentAt[i] < l.healedAt {
		return
	}
	if r.Outcome != client.Indeterminate {
		if r.Outcome == client.OK {
			l.answered[i] = true
			l.servedSentAt = max(l.servedSentAt, l.sentAt[i])
			l.replies, l.lastReplyAt = l.replies+1, now
		} else {
			l.evicted[i]++
		}
		return
	}
	l.givenUp[i]++
	if l.starved == "" && l.servedSentAt > max(l.sentAt[i], l.settledAt) {
		l.starved = fmt.Sprintf("client c%d gave up at %s on %s, sent at %s after the heal at %s: no replica answered it, while a request sent at %s was answered",
			i+1, now, op, l.sentAt[i], l.healedAt, l.servedSentAt)
	}
}

// primary records a replica seen as the primary, in normal status, of view in epoch at now
// (one of replicas active replicas): a newer view than any seen before starts the settling
// rotation, replicas+1 of the client's retry periods (one for a retry sent just before).
func (l *clientLiveness) primary(epoch, view uint32, now sim.Time, replicas int) {
	if epoch > l.primaryEpoch || epoch == l.primaryEpoch && view > l.primaryView {
		l.primaryEpoch, l.primaryView = epoch, view
		l.settledAt = now + sim.Time(replicas+1)*sim.Time(replyCutRetryPeriod)
	}
}

// allAnswered reports whether every client has had a request sent after the heal answered.
func (l *clientLiveness) allAnswered() bool {
	for _, ok := range l.answered {
		if !ok {
			return false
		}
	}
	return true
}

// unserved names the clients with no request sent after the heal answered with a reply, how
// often each was evicted and gave up meanwhile, and since when its request in flight waits;
// then how many requests of the others were answered since, the last when: a stuck cluster
// answered none, a slow or unfair one some ("" if every client was served).
func (l *clientLiveness) unserved() string {
	var b strings.Builder
	for i, ok := range l.answered {
		if ok {
			continue
		}
		fmt.Fprintf(&b, " c%d (%d evictions", i+1, l.evicted[i])
		if l.givenUp[i] > 0 {
			fmt.Fprintf(&b, ", %d given up", l.givenUp[i])
		}
		if l.inFlight[i] && l.sentAt[i] >= l.healedAt {
			fmt.Fprintf(&b, ", one in flight since %s", l.sentAt[i])
		}
		b.WriteString(")")
	}
	if b.Len() == 0 {
		return ""
	}
	since := "; no request answered since"
	if l.replies > 0 {
		since = fmt.Sprintf("; %d requests answered since, the last at %s", l.replies, l.lastReplyAt)
	}
	if l.round != "" {
		return "clients never served after " + l.round + ":" + b.String() + " (at " + l.healedAt.String() + since + ")"
	}
	return "clients never served after the heal:" + b.String() + " (heal at " + l.healedAt.String() + since + ")"
}

// shortKey is a key without the padding of the long-key workloads (workload_edges.go).
func shortKey(key string) string { return strings.TrimRight(key, "_") }
