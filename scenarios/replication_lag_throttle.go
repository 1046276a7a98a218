package scenarios

import (
	"fmt"

	"vopr/cluster/client"
	"vopr/cluster/kv"
	"vopr/invariants"
	"vopr/sim"
)

// The throttle check of replication_lag: `standby throttle --replica-id 100 --max-qps N`
// held to its exact effect, N stale reads served per second of the standby's monotonic
// clock and not one more. The runbook's 1000 is far above anything the scenario sends, so
// the operator verifies the command the way it can be seen, with a small limit:
//
//  1. With the load stopped and the standby normal and caught up (the cluster converged),
//     every client idle: `standby throttle --max-qps N`, N drawn from the seed (1..5).
//  2. A quiet second of the standby's monotonic clock with no read sent to it: the
//     throttle's window (vsr readThrottle) is then anchored at the burst's first read.
//  3. The burst: every client reads from the standby, each read sent as soon as the
//     previous one is answered, until each client has a read that is not answered (it was
//     dropped: the client waits to retry it, 300 ms later). That is N + clients reads, more
//     than N. Once every client waits on a dropped read, and before the standby's clock has
//     gone a second past the burst's start, the standby must have served exactly N
//     (StaleReads), dropped the others (StaleReadsDropped, one per client), and the clients
//     must have been answered exactly N times.
//  4. `standby throttle --max-qps 1000` again; the clients' dropped reads are answered on
//     their retry and every client is idle again.
//
// A burst that does not reach its end within the second (a read the standby did not take:
// it was not normal) proves nothing either way: the operator tries again, up to
// rlThrottleAttempts times, and fails only if no attempt is conclusive.

const (
	rlThrottleMaxQPSMax = 5
	rlThrottleAttempts  = 3
	rlThrottleIdleBound = 1000 // ticks for the clients to go idle (a dropped read's retries)
)

// drawThrottleQPS is the small limit the throttle check sets, from its own stream.
func drawThrottleQPS(seed uint64) int {
	return 1 + sim.Stream(seed, "replication_lag.throttle").IntN(rlThrottleMaxQPSMax)
}

// throttleBurst is what one burst saw: the standby's counters' increase over it, and the
// clients' answers.
type throttleBurst struct {
	MaxQPS   int
	Clients  int
	Served   uint64 // StaleReads
	Dropped  uint64 // StaleReadsDropped
	Behind   uint64 // StaleReadsBehind
	Answered int    // reads answered to the clients
	Ns       int64  // standby monotonic time from the burst's start to when it was judged
}

// judgeThrottleBurst holds a conclusive burst (every client waiting on a dropped read,
// within a second of the standby's clock) to the throttle's effect: exactly MaxQPS served
// and answered, one dropped per client, none refused as behind.
func judgeThrottleBurst(b throttleBurst) string {
	command := fmt.Sprintf("standby throttle --max-qps %d", b.MaxQPS)
	switch {
	case b.Served != uint64(b.MaxQPS) || b.Answered != b.MaxQPS:
		return fmt.Sprintf("%s: a burst of %d stale reads from %d clients within one second (%d ms) after a quiet second: the standby served %d and the clients were answered %d times; want exactly %d (the rest dropped, %d were)",
			command, b.Served+b.Dropped, b.Clients, b.Ns/1_000_000, b.Served, b.Answered, b.MaxQPS, b.Dropped)
	case b.Dropped != uint64(b.Clients):
		return fmt.Sprintf("%s: a burst from %d clients, each reading until one read was not answered: the standby dropped %d reads; want %d (one per client)",
			command, b.Clients, b.Dropped, b.Clients)
	case b.Behind != 0:
		return fmt.Sprintf("%s: the caught-up standby refused %d reads of the burst as behind the clients' floor; want 0",
			command, b.Behind)
	}
	return ""
}

// lagThrottleCheck runs the check on the converged cluster (load stopped).
func lagThrottleCheck(run *runbookRun, maxQPS int) (Outcome, string) {
	standby := run.c.ReplicaCount()
	if !run.until(run.clientsIdle, rlThrottleIdleBound) {
		return run.fail(Liveness, "throttle check: clients still busy %d ticks after the load stopped", rlThrottleIdleBound)
	}
	if outcome, reason := applyThrottle(run, standby, maxQPS); outcome != Pass {
		return outcome, reason
	}
	run.counts["throttle.max_qps"] = uint64(maxQPS)
	for attempt := 1; ; attempt++ {
		burst, conclusive, outcome, reason := run.throttleBurst(standby, maxQPS)
		if outcome != Pass {
			return outcome, reason
		}
		run.counts["throttle.attempts"]++
		if conclusive {
			if problem := judgeThrottleBurst(burst); problem != "" {
				return run.fail(Correctness, "%s", problem)
			}
			run.counts["throttle.checked"]++
			run.counts["throttle.burst_reads"] = burst.Served + burst.Dropped
			break
		}
		if attempt == rlThrottleAttempts {
			return run.fail(Liveness, "standby throttle --max-qps %d: in %d attempts no burst of stale reads had every client waiting on a dropped read within a second (the last: served %d, dropped %d, answered %d)",
				maxQPS, attempt, burst.Served, burst.Dropped, burst.Answered)
		}
		if !run.until(run.clientsIdle, rlThrottleIdleBound) {
			return run.fail(Liveness, "throttle check: clients still busy %d ticks after a burst", rlThrottleIdleBound)
		}
	}
	if outcome, reason := applyThrottle(run, standby, rlStandbyMaxQPS); outcome != Pass {
		return outcome, reason
	}
	if !run.until(run.clientsIdle, rlThrottleIdleBound) {
		return run.fail(Liveness, "standby throttle --max-qps %d: the dropped stale reads not answered within %d ticks",
			rlStandbyMaxQPS, rlThrottleIdleBound)
	}
	return Pass, ""
}

// clientsIdle reports whether no client has a request in flight.
func (run *runbookRun) clientsIdle() bool {
	for i := 0; i < run.c.ClientCount(); i++ {
		if run.c.Client(i).Busy() {
			return false
		}
	}
	return true
}

// throttleBurst waits a quiet second of the standby's clock, then sends the burst (every
// client idle) and steps until every client waits on a dropped read or the standby's clock
// has gone a second past the start. conclusive says the former.
func (run *runbookRun) throttleBurst(standby, maxQPS int) (b throttleBurst, conclusive bool, outcome Outcome, reason string) {
	c := run.c
	clock := c.Nodes[standby].Clock
	metrics := func() (served, dropped, behind uint64, ok bool) {
		r, err := runningReplica(c, standby)
		if err != nil {
			return 0, 0, 0, false
		}
		m := r.Inspect().Metrics
		return m.StaleReads, m.StaleReadsDropped, m.StaleReadsBehind, true
	}
	// The quiet second: no read reaches the standby (every client idle, none sent).
	s0, d0, h0, ok := metrics()
	quietFrom := clock.Monotonic()
	run.until(func() bool { return clock.Monotonic()-quietFrom > 1_000_000_000 }, 200)
	s1, d1, h1, ok1 := metrics()
	if !ok || !ok1 || s1 != s0 || d1 != d0 || h1 != h0 || clock.Monotonic()-quietFrom <= 1_000_000_000 {
		outcome, reason := run.fail(Liveness, "throttle check: no quiet second on standby 100 (reads served/dropped/behind %d/%d/%d -> %d/%d/%d)",
			s0, d0, h0, s1, d1, h1)
		return b, false, outcome, reason
	}
	b = throttleBurst{MaxQPS: maxQPS, Clients: c.ClientCount()}
	stopped := false
	var read func(i int)
	read = func(i int) {
		op := kv.Op{Kind: kv.KindGet, Key: "throttle-check"}
		c.Client(i).ReadStale(standby, kv.EncodeOp(op), func(r client.Result) {
			if r.Outcome != client.OK || stopped {
				return
			}
			b.Answered++
			if result, err := kv.DecodeResult(r.Reply); err == nil && run.checked {
				run.suite.OnStandbyRead(int64(c.Loop.Now()), invariants.StandbyRead{Client: i, Standby: standby,
					Key: op.Key, Op: r.Op, Result: result})
			}
			read(i)
		})
	}
	start := clock.Monotonic()
	for i := 0; i < c.ClientCount(); i++ {
		read(i)
	}
	judge := func() bool {
		served, dropped, behind, ok := metrics()
		b.Served, b.Dropped, b.Behind, b.Ns = served-s1, dropped-d1, behind-h1, clock.Monotonic()-start
		return ok && b.Dropped >= uint64(b.Clients) && uint64(b.Answered) == b.Served
	}
	conclusive = run.until(func() bool { return judge() || clock.Monotonic()-start >= 1_000_000_000 }, 200) && judge() &&
		b.Ns < 1_000_000_000
	stopped = true
	if reason := run.safety(); reason != "" {
		return b, false, Correctness, reason
	}
	return b, conclusive, Pass, ""
}

// applyThrottle is the runbook's `standby throttle --replica-id 100 --max-qps N` on standby
// i, held to showing in `replica status`.
func applyThrottle(run *runbookRun, i, maxQPS int) (Outcome, string) {
	if err := StandbyThrottle(run.c, i, maxQPS); err != nil {
		return run.fail(Correctness, "standby throttle --replica-id 100 --max-qps %d: %v", maxQPS, err)
	}
	s := ReplicaStatus(run.c, i)
	if s.Standby == nil || s.Standby.ReadsMaxQPS != maxQPS {
		return run.fail(Correctness, "replica status after standby throttle --max-qps %d: %s", maxQPS, s)
	}
	// The operator reaches the standby by the id the runbook gives it: replica status must
	// show that id, or the next command goes to another node.
	if id := replicaID(run.c, i); s.Standby.ID != id {
		return run.fail(Correctness, "replica status --replica-id %d shows the standby as id %d: %s", id, s.Standby.ID, s)
	}
	return Pass, ""
}
