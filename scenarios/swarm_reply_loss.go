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
}

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
}
