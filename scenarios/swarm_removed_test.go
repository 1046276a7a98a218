package scenarios

import (
	"strings"
	"testing"

	"vopr/cluster/client"
	"vopr/sim"
)

// feedRemoved gives a removedLatency, started at 1 s, each client's first reply (which only
// teaches it the membership) and then n requests per client that each took took.
func feedRemoved(clients, n int, took sim.Duration) *removedLatency {
	start := sim.Time(sim.Second)
	l := newRemovedLatency(clients, start)
	now := start
	for i := 0; i < clients; i++ {
		l.done(i, client.Result{Outcome: client.OK}, now, now+sim.Time(took))
	}
	for k := 0; k < n; k++ {
		for i := 0; i < clients; i++ {
			now += sim.Time(took)
			l.done(i, client.Result{Outcome: client.OK}, now, now+sim.Time(took))
		}
	}
	return l
}

// TestRemovedLatencyFiresOnRetriedRequests: a history whose requests each waited out the
// client's retry period (the first attempt went to a replica that dropped it) fails the check.
func TestRemovedLatencyFiresOnRetriedRequests(t *testing.T) {
	l := feedRemoved(4, 4, clientRetryPeriod+sim.Millisecond)
	if v := l.verdict(); !strings.Contains(v, "16 of 16 requests") {
		t.Fatalf("verdict = %q, want 16 of 16 slow requests", v)
	}
}

// TestRemovedLatencyQuietOnAHealthyCluster: requests answered within the retry period, a
// minority of slow ones, too few requests, the clients' first replies (sent before they
// learned the membership), requests sent before the change and indeterminate ones pass.
func TestRemovedLatencyQuietOnAHealthyCluster(t *testing.T) {
	if v := feedRemoved(4, 4, 5*sim.Millisecond).verdict(); v != "" {
		t.Fatalf("fast requests: %q", v)
	}
	if v := feedRemoved(1, removedRequestsMin-1, sim.Second).verdict(); v != "" {
		t.Fatalf("too few requests: %q", v)
	}
	l := feedRemoved(4, 4, 5*sim.Millisecond)
	now := sim.Time(10 * sim.Second)
	for i := 0; i < 8; i++ { // as many slow as fast: not a majority
		l.done(i%4, client.Result{Outcome: client.OK}, now, now+sim.Time(sim.Second))
	}
	l.done(0, client.Result{Outcome: client.OK}, 0, now)                                     // sent before the change
	l.done(1, client.Result{Outcome: client.Indeterminate}, now, now+sim.Time(9*sim.Second)) // given up: starvation's business
	if v := l.verdict(); v != "" {
		t.Fatalf("half slow: %q", v)
	}
	var none *removedLatency // a seed without the lasting removal
	none.done(0, client.Result{Outcome: client.OK}, 0, sim.Time(sim.Second))
	if v := none.verdict(); v != "" {
		t.Fatalf("nil: %q", v)
	}
}
