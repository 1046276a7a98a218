package scenarios

import (
	"vopr/sim"
)

// Lost replies after the heal. A client whose reply is lost sends its request again, and the
// cluster must answer the retry of a request it already executed from its client table
// (VRR section 4.1: the primary, or a backup that executed it, resends the reply it kept).
// In the fault phase a retry that is never answered ends indeterminate, which the
// linearizability checker must accept, so a cluster that drops such retries (a reply table
// read wrongly, a duplicate taken for a stale request) passes there; and the heal cures
// packet loss, so in the liveness phase every first reply arrives. In three seeds in four the heal
// therefore cuts, for a few of the client's retry periods, every path from the replicas to
// one client: its request sent after the heal commits, and every reply to it is lost. Once
// the cut ends, a retry must be answered; a client that gives up while another client's later
// request was served fails the seed (clientLiveness.starved).
//
// In half those seeds the primary also crashes during the cut, once every active replica has
// executed past the op the primary had reached a moment after the request was sent (so the
// request has most likely committed and been executed everywhere), and restarts as the cut
// ends: the retry then reaches a new primary that executed the request as a backup, whose
// client table holds the reply it never sent (kept unencoded until asked for). Without the
// crash every retry went to the primary that had sent the reply, and a table that lost a
// backup's replies passed.

// replyCutRetryPeriod is the client's retry period (client.Options.RetryTicks' default,
// which the simulated clients keep); a cut lasts replyCutPeriodsMin to replyCutPeriodsMax of
// them, well inside the client's 20 attempts.
const (
	replyCutRetryPeriod = 30 * sim.TickInterval
	replyCutPeriodsMin  = 2
	replyCutPeriodsMax  = 7
)

// replyCut is the seed's cut: the client it starves of replies, how long, and whether it
// is still to start (at that client's first request after the heal).
type replyCut struct {
	client  int
	length  sim.Duration
	pending bool
	// crashPrimary: the primary crashes during the cut (restarted at its end, ends).
	crashPrimary bool
	ends         sim.Time
}

// replyCutSettle is how long after the cut starts the primary's op is taken as the one the
// request will have been prepared by.
const replyCutSettle = 100 * sim.Millisecond

// drawReplyCut arms the cut, in three seeds in four with two clients or more (a draw of the
// seed's own stream, so that its other draws are unchanged). Not with a liveness phase
// shorter than the default (--ticks-max), which the cut could outlast.
func (run *swarmRun) drawReplyCut(seed uint64, livenessTicks int) {
	c := run.c
	rng := sim.Stream(seed, "swarm_reply_loss")
	if c.ClientCount() < 2 || livenessTicks < swarmLivenessTicksDefault || rng.IntN(4) == 0 {
		return
	}
	periods := replyCutPeriodsMin + rng.IntN(replyCutPeriodsMax-replyCutPeriodsMin+1)
	run.replyCut = replyCut{client: rng.IntN(c.ClientCount()), length: sim.Duration(periods) * replyCutRetryPeriod, pending: true}
	// Drawn after the cut, so that the cut's draws are unchanged. Only where a view change
	// without the primary can complete (f >= 1); the lasting faults act once the healed
	// cluster has converged, after the primary is back.
	// Never in a swarm drawn without faults, where any alert fails the seed.
	active, _ := c.Members()
	run.replyCut.crashPrimary = rng.IntN(2) == 0 && len(active) >= 3 && (run.alerts == nil || !run.alerts.faultFree)
}

// onClientSent starts the armed cut when its client sends its first request after the heal:
// every path from a replica to it is cut, until the cut's length has passed.
func (run *swarmRun) onClientSent(i int) {
	if !run.replyCut.pending || i != run.replyCut.client {
		return
	}
	c := run.c
	node := c.ClientNode(i)
	run.replyCut.pending = false
	for r := 0; r < c.MemberCount(); r++ {
		c.Network.Cut(r, node)
	}
	run.paths["reply_cut"]++
	c.Loop.After(run.replyCut.length, func() {
		for r := 0; r < c.MemberCount(); r++ {
			c.Network.Uncut(r, node)
		}
	})
	run.replyCut.ends = c.Loop.Now() + sim.Time(run.replyCut.length)
	if run.replyCut.crashPrimary {
		c.Loop.After(replyCutSettle, run.armPrimaryCrash)
	}
}

// armPrimaryCrash takes the primary's op as the request's bound, then crashes the primary
// once every active replica has executed up to it, if that happens while the cut lasts.
func (run *swarmRun) armPrimaryCrash() {
	c := run.c
	p := c.Primary()
	if p < 0 {
		return
	}
	target := c.Replica(p).Inspect().Op
	var poll func()
	poll = func() {
		if run.activeExecuted(target) {
			run.crashPrimaryInCut()
			return
		}
		if c.Loop.Now()+sim.Time(sim.TickInterval) < run.replyCut.ends {
			c.Loop.After(sim.TickInterval, poll)
		}
	}
	poll()
}

// activeExecuted reports whether every running active replica has executed op.
func (run *swarmRun) activeExecuted(op uint64) bool {
	active, _ := run.c.Members()
	for _, i := range active {
		if r := run.c.Replica(i); r != nil && r.Inspect().CommitMin < op {
			return false
		}
	}
	return true
}

// crashPrimaryInCut crashes the primary during the reply cut and restarts it as the cut
// ends, so that the client's retry after the cut reaches a new primary.
func (run *swarmRun) crashPrimaryInCut() {
	c := run.c
	p := c.Primary()
	if p < 0 || c.Replica(p) == nil || run.healConverged || (run.alerts != nil && run.alerts.isConverged) {
		return // not once the healed cluster has converged: the lasting faults and the idle alert hold start there
	}
	c.Trace.Emitf(sim.LevelShort, p, "nemesis", "reply_cut: the primary crashes during the cut")
	c.CrashReplica(p)
	run.paths["reply_cut.primary_crash"]++
	c.Loop.After(sim.Duration(run.replyCut.ends-c.Loop.Now()), func() {
		if c.Replica(p) == nil && p != run.lastingDownReplica() {
			c.StartReplica(p)
		}
	})
}
