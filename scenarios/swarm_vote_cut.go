package scenarios

import (
	"fmt"

	"vopr/cluster/vsr"
	"vopr/sim"
)

// The votes lost in an election. A view change needs a quorum of do_view_change votes at the
// new primary, and a vote sent is not a vote received: a link that drops it (the network
// trouble that took the old primary down often lasts a little longer) leaves the new primary
// short. Each voter must send its vote again, on the view change's resend period, until the
// new view starts; the new primary answers a vote of the view it already leads with
// start_view, which also repairs a start_view lost on the way. A voter that sent its vote
// once and then only repeated its start_view_change would leave the election to the view
// change's timeout, a whole timeout and a new view for every vote lost: elections many times
// slower on a lossy network, which no safety check sees and which the liveness phase, run on a
// whole network, never meets. The fault phase's losses fall at random and its liveness budget
// is generous.
//
// So once the healed cluster has held its view (after the rounds of swarm_isolation.go,
// swarm_deposed.go, swarm_blip.go and swarm_upgrade_cut.go), in every seed with at least
// three active replicas: the primary goes down, and as the first do_view_change of the
// election is sent to the new primary, the new primary is cut off from every node (that vote
// and everything in flight is lost) for one to two resend periods. After the heal, every
// active replica left must be normal in one newer view by the voters' next resend (which
// backs off: resendWaitTicks) and the slack of blipSlackTicks for the messages and disk
// writes, with one message more (swarm seed 2028020859: the first version allowed one
// period, and the second resend came two after the first). The round times
// only seeds where the cut came early enough in the election, and the bound is short enough,
// that the view change's own timeout cannot fire first (a correct cluster never needs it
// here); the others still hold the election to the budget of a convergence. Then the old
// primary restarts and everyone converges. The draw comes from the run's "swarm/vote_cut"
// stream.
func (run *swarmRun) voteCutRound(seed uint64, livenessTicks int) string {
	c := run.c
	active, p, ok := run.roundCluster(livenessTicks, 3)
	if !ok {
		return ""
	}
	cfg := c.Replica(p).Config()
	resend := cfg.ViewChangeResendTicks
	outage := resend + sim.Stream(seed, "swarm/vote_cut").IntN(resend+1)
	slack := run.blipSlackTicks(active, 2) + run.messageSlackTicks()
	budget := run.electionBudget(livenessTicks)
	run.runChecked(run.logsWritten, livenessTicks/4) // nothing acknowledged lives only in memory (swarm_lasting.go)
	view := c.Replica(p).Inspect().View
	v := &run.voteCut
	v.armed, v.taken, v.down, v.target, v.firstSVC = true, true, p, -1, -1
	defer func() { v.armed, v.taken = false, false }()
	c.Trace.Emitf(sim.LevelShort, p, "nemesis", "vote_cut: primary R%d goes down; the new primary is cut off for %d ticks "+
		"as the election's first do_view_change is sent to it", p, outage)
	// A request still in flight from an earlier round may wait out the election; the clients
	// are judged on what they send after it (voteCutEnd).
	run.clients.again(c.Loop.Now(), fmt.Sprintf("the vote_cut round took primary R%d down", p))
	c.CrashReplica(p)
	elected := func() bool { return run.electedAfter(active, p, view) }
	if !run.runChecked(func() bool { return v.target >= 0 || elected() }, budget) {
		return run.voteCutFailure(fmt.Sprintf("with primary R%d of view %d down, no do_view_change reached a new primary's "+
			"link within %d ticks", p, view, budget))
	}
	v.armed = false
	if v.target < 0 {
		return run.voteCutEnd(p, livenessTicks) // elected without a vote over the network: nothing cut
	}
	run.runChecked(func() bool { return false }, outage)
	c.Network.Heal()
	since := int((c.Loop.Now() - v.firstSVC) / sim.Time(sim.TickInterval)) // the election's age at the heal
	limit := resendWaitTicks(resend, since) + slack
	if since+limit+1 >= cfg.ViewChangeTimeoutTicks {
		if !run.runChecked(elected, budget) {
			return run.voteCutFailure(fmt.Sprintf("with primary R%d of view %d down, the active replicas left were not all "+
				"normal in a newer view within %d ticks after a cut of %d ticks", p, view, budget, outage))
		}
		return run.voteCutEnd(p, livenessTicks)
	}
	v.rounds++
	if run.knobs.afterVoteCut != nil {
		run.knobs.afterVoteCut(c, v.target)
	}
	if !run.runChecked(elected, limit) {
		return run.voteCutFailure(fmt.Sprintf("with primary R%d of view %d down, the active replicas left were not all normal "+
			"in a newer view within %d ticks after new primary R%d's cut of %d ticks healed (the first do_view_change to it "+
			"was lost): a voter sends its do_view_change again at each resend (every %d ticks, backing off) until the view starts",
			p, view, limit, v.target, outage, resend))
	}
	return run.voteCutEnd(p, livenessTicks)
}

// resendWaitTicks bounds the wait, from a moment since ticks into a view change, until a
// voter's next resend: the resend fires period (plus up to 2 of jitter) after the view change
// began, and each later firing backs off, two, four, then eight periods after the one before
// (vsr/timeout.go). Firings i come no earlier than (2^i-1) periods in, so by then at most k
// have, the largest k with (2^k-1) periods <= since; the next comes within 2^min(k,3)
// periods of the last, plus its jitter.
func resendWaitTicks(period, since int) int {
	k := 0
	for k < 3 && ((2<<k)-1)*period <= since {
		k++
	}
	return period<<k + 2
}

// messageSlackTicks is one more message's latency bound beyond blipSlackTicks' two: an
// election's start_view_change, do_view_change and start_view follow one another.
func (run *swarmRun) messageSlackTicks() int {
	net := run.c.Network.Options()
	slack := net.OneWayDelayMin + 10*net.OneWayDelayMean
	return int((slack + sim.TickInterval - 1) / sim.TickInterval)
}

// onVoteCutSend watches the round's election as its messages are sent: it notes the first
// start_view_change, and cuts the new primary off as the first do_view_change goes to it
// (before the network takes it, so that vote is lost).
func (run *swarmRun) onVoteCutSend(from, to int, command vsr.Command) {
	v := &run.voteCut
	switch {
	case command == vsr.CommandStartViewChange && v.firstSVC < 0:
		v.firstSVC = run.c.Loop.Now()
	case command == vsr.CommandDoViewChange && v.target < 0 && from != to && v.firstSVC >= 0:
		v.target, v.cutAt = to, run.c.Loop.Now()
		run.c.Trace.Emitf(sim.LevelShort, to, "nemesis", "vote_cut: R%d's do_view_change to R%d is lost; R%d is cut off",
			from, to, to)
		run.c.Network.Isolate(to)
	}
}

// electedAfter reports whether every replica of active but down is normal in one view newer
// than view, under a primary among them.
func (run *swarmRun) electedAfter(active []int, down int, view uint32) bool {
	var newView uint32
	primary := false
	for _, i := range active {
		if i == down {
			continue
		}
		rep := run.c.Replica(i)
		if rep == nil {
			return false
		}
		in := rep.Inspect()
		if in.Status != vsr.StatusNormal || in.View <= view || (newView != 0 && in.View != newView) {
			return false
		}
		newView = in.View
		primary = primary || in.Role == vsr.RolePrimary
	}
	return primary
}

// voteCutFailure heals the network and returns reason, or "" if a safety check failed (the
// run reports that instead).
func (run *swarmRun) voteCutFailure(reason string) string {
	run.c.Network.Heal()
	if run.safety() != "" {
		return ""
	}
	return reason
}

// voteCutEnd serves the clients under the elected primary, then restarts the primary the
// round took down and waits for convergence.
func (run *swarmRun) voteCutEnd(p, livenessTicks int) string {
	c := run.c
	run.load = true
	run.clients.again(c.Loop.Now(), fmt.Sprintf("a new primary was elected with R%d down and a vote lost", p))
	served := run.runChecked(func() bool { return run.clients.allAnswered() || run.clients.starved != "" }, livenessTicks/2)
	run.load = false
	switch {
	case run.safety() != "":
		return ""
	case run.clients.starved != "":
		return run.clients.starved
	case !served:
		return run.clients.unserved()
	}
	c.Trace.Emitf(sim.LevelShort, p, "nemesis", "vote_cut ends: R%d restarts", p)
	c.StartReplica(p)
	run.voteCut.taken = false
	if !run.runChecked(run.converged, livenessTicks/2) {
		return fmt.Sprintf("no convergence within %d ticks after R%d, the primary the vote_cut round took down, restarted",
			livenessTicks/2, p)
	}
	run.idleAfterRound() // a standby's lag counts the election until heartbeats reach it
	return ""
}

// voteCutState is the round's election (while armed), the primary it keeps down, and the
// rounds timed.
type voteCutState struct {
	armed    bool
	taken    bool     // down is kept down
	down     int      // the primary taken down
	target   int      // the new primary cut off, -1 until the first vote to it is sent
	firstSVC sim.Time // the election's first start_view_change, -1 until sent
	cutAt    sim.Time // when the vote was lost
	rounds   uint64
}

// keeps reports whether the round keeps replica i down.
func (v voteCutState) keeps(i int) bool { return v.taken && v.down == i }
