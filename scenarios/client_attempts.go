package scenarios

import (
	"fmt"

	"vopr/cluster/vsr"
)

// The client attempt budget check holds every client to the number of sends its contract
// gives a request (cluster/client: Options.AttemptsMax "is how many sends a request gets
// before it is reported indeterminate", and Tick "gives up after AttemptsMax sends"). The
// simulator's clients keep the default budget (clientAttemptsMax), so:
//
//   - no request (a register, an operation, a stale read) is sent more than
//     clientAttemptsMax times: the harness counts the sends of each request number, as the
//     network carried them from the client (sim.ClusterOptions.OnClientSend), and a send past
//     the budget is a violation at once; the first transmission counts as an attempt (an
//     application that sets the budget to 1 expects one send and no retry);
//   - an operation the client reports indeterminate was sent exactly clientAttemptsMax times:
//     fewer is a client that gave up early (an indeterminate result the cluster was never
//     given its whole retry budget to avoid), more is caught above.
//
// An application sizes its own timeout from this budget (AttemptsMax sends, one per
// RetryTicks): a client that retries once more than configured reports indeterminate a retry
// period later than promised, and keeps a request alive on the network for longer than its
// caller believes. No other check bounds it: the extra retry is safe (the client table
// executes a request once) and is only latency. Copies of requests that the stale-requests
// nemesis (faults/stale_requests.go) replays are the network's, not the client's sends, and
// are not counted.
//
// It is the harness's own count: it decodes the request headers itself and shares nothing
// with the client's bookkeeping.
type clientAttempts struct {
	cluster uint64
	budget  int
	clients []attemptCount
	judged  uint64 // give-ups judged (coverage)
}

// attemptCount is one client's request in flight as the harness saw it leave.
type attemptCount struct {
	stale   bool   // a stale read: numbered apart from the session's requests
	request uint32 // its number
	sends   int    // how many times it left the client
}

func newClientAttempts(cluster uint64, clients, budget int) clientAttempts {
	return clientAttempts{cluster: cluster, budget: budget, clients: make([]attemptCount, clients)}
}

// onSend counts a send of client's; "" or the violation.
func (a *clientAttempts) onSend(client int, msg []byte) string {
	if client < 0 || client >= len(a.clients) || len(msg) < vsr.HeaderSize {
		return ""
	}
	h, err := vsr.DecodeHeader(msg[:vsr.HeaderSize], a.cluster)
	if err != nil || h.Command != vsr.CommandRequest {
		return ""
	}
	st := &a.clients[client]
	stale := h.Operation == vsr.OperationReadStale
	if st.sends == 0 || st.stale != stale || st.request != h.Request {
		*st = attemptCount{stale: stale, request: h.Request}
	}
	st.sends++
	if st.sends > a.budget {
		what := "request"
		if stale {
			what = "stale read"
		}
		return fmt.Sprintf("client c%d sent %s %d %d times: a client gives a request at most AttemptsMax = %d sends "+
			"(its first transmission among them) before it reports it indeterminate", client+1, what, h.Request,
			st.sends, a.budget)
	}
	return ""
}

// onGiveUp judges client's report of its request in flight (not a stale read) as
// indeterminate; "" or the violation.
func (a *clientAttempts) onGiveUp(client int) string {
	if client < 0 || client >= len(a.clients) {
		return ""
	}
	st := &a.clients[client]
	if st.stale || st.sends == 0 {
		return ""
	}
	a.judged++
	sends := st.sends
	st.sends = 0
	if sends < a.budget {
		return fmt.Sprintf("client c%d reported request %d indeterminate after %d sends: a client gives a request "+
			"AttemptsMax = %d sends before it gives up on it", client+1, st.request, sends, a.budget)
	}
	return ""
}
