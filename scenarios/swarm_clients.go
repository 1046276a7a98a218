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
type clientLiveness struct {
	healed   bool
	healedAt sim.Time
	sentAt   []sim.Time // per client: when its request in flight was first sent
	answered []bool     // per client: a request sent after the heal was answered with a reply
	evicted  []int      // per client: evictions of requests sent after the heal
	// servedSentAt is the latest send time of a request answered with a reply.
	servedSentAt sim.Time
	starved      string // the first request sent after the heal given up on while a later one was served
	round        string // what started the second round (again), "" in the first
}

func newClientLiveness(clients int) clientLiveness {
	return clientLiveness{sentAt: make([]sim.Time, clients), answered: make([]bool, clients),
		evicted: make([]int, clients)}
}

// heal marks the start of the liveness phase.
func (l *clientLiveness) heal(now sim.Time) { l.healed, l.healedAt = true, now }

// again starts a second round of the liveness phase at now, after what happened then
// (swarm_lasting.go: a replica taken down once the healed cluster converged): every client
// must be served anew.
func (l *clientLiveness) again(now sim.Time, what string) {
	l.healedAt, l.servedSentAt, l.round = now, 0, what
	clear(l.answered)
	clear(l.evicted)
}

// sent records that client i sent a new request at now.
func (l *clientLiveness) sent(i int, now sim.Time) { l.sentAt[i] = now }

// done records the outcome of client i's request in flight.
func (l *clientLiveness) done(i int, op string, r client.Result, now sim.Time) {
	if !l.healed || l.sentAt[i] < l.healedAt {
		return
	}
	if r.Outcome != client.Indeterminate {
		if r.Outcome == client.OK {
			l.answered[i] = true
			l.servedSentAt = max(l.servedSentAt, l.sentAt[i])
		} else {
			l.evicted[i]++
		}
		return
	}
	if l.starved == "" && l.servedSentAt > l.sentAt[i] {
		l.starved = fmt.Sprintf("client c%d gave up at %s on %s, sent at %s after the heal at %s: no replica answered it, while a request sent at %s was answered",
			i+1, now, op, l.sentAt[i], l.healedAt, l.servedSentAt)
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

// unserved names the clients with no request sent after the heal answered with a reply, and
// how often each was evicted meanwhile ("" if every client was served).
func (l *clientLiveness) unserved() string {
	var b strings.Builder
	for i, ok := range l.answered {
		if !ok {
			fmt.Fprintf(&b, " c%d (%d evictions)", i+1, l.evicted[i])
		}
	}
	if b.Len() == 0 {
		return ""
	}
	if l.round != "" {
		return "clients never served after " + l.round + ":" + b.String() + " (at " + l.healedAt.String() + ")"
	}
	return "clients never served after the heal:" + b.String() + " (heal at " + l.healedAt.String() + ")"
}

// shortKey is a key without the padding of the long-key workloads (workload_edges.go).
func shortKey(key string) string { return strings.TrimRight(key, "_") }
