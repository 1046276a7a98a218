package scenarios

import (
	"fmt"

	"vopr/cluster/vsr"
	"vopr/sim"
)

// An election on a slow network. A view change is a chain of messages: the start_view_change
// that draws the other backups in, their start_view_changes back (a quorum must have started
// before anyone votes), the do_view_changes to the new primary and its start_view: four
// one-way delays end to end, plus the disk writes that make each vote's view durable. The
// configuration gives a view change ViewChangeTimeoutTicks (each replica jitters it up to
// twice that) before it is abandoned for the next view, and resends its messages every
// ViewChangeResendTicks meanwhile; on a fast network the exchange ends long before the first
// resend, so nothing tells a view change abandoned after a resend period, or a limit that
// restarts at each resend, from a correct one. Across regions (an RTT of a few hundred
// milliseconds, which the default configuration's one-second view-change timeout is meant to
// absorb), such a view change never completes: every replica gives up on the view before the
// votes arrive, moves to the next, and the cluster serves nothing while elections churn. The
// fault phase's delays are a few milliseconds, its faults end elections at random, and the
// liveness phase's budget is generous; the view_change_storm scenario slows the network but
// breaks the clocks too, and only asks that view changes stop after the fix.
//
// So in one eligible seed in slowElectionOdds, after the other rounds, on the idle healed
// cluster: the network's one-way delay is raised to a floor D (with a small exponential
// spread, slowElectionMeanMax at most), D drawn between the resend period and the largest
// delay for which the election's bound (slowElectionTicks) stays within three quarters of
// the view-change timeout, and at least half that largest one. The cluster must keep its
// view for an election timeout on the slow network (its heartbeats still arrive, only
// later). Then the primary goes down, and:
//
//   - a backup starts the view change within D (the last heartbeat in flight), two
//     election timeouts (the timeout and its jitter) on a clock up to 1% slow, and two
//     ticks to see it;
//   - from then, every active replica left is normal in view v+1, the very next view,
//     within slowElectionTicks. One increment exactly: every active replica goes to v+1 when
//     it starts (a timeout or a start_view_change, whoever comes first), v+1's primary is one
//     of them, and only a view-change timeout moves a replica to v+2, which cannot fire
//     before ViewChangeTimeoutTicks (less 1% for a fast clock) of its own view change, later
//     than the bound.
//
// The delay is restored, the old primary restarts and everyone converges. The draws come
// from the run's "swarm/slow_election" stream.
const (
	slowElectionOdds    = 2
	slowElectionMeanMax = 3 * sim.Millisecond
	slowElectionHops    = 4 // start_view_change, start_view_change back, do_view_change, start_view
)

// slowElectionState counts the rounds run.
type slowElectionState struct{ rounds uint64 }

func (s slowElectionState) counters(counters map[string]uint64) {
	counters["coverage.mark.slow_election.round"] += s.rounds
}

func (run *swarmRun) slowElectionRound(seed uint64, livenessTicks int) string {
	c := run.c
	active, p, ok := run.roundCluster(livenessTicks, 3)
	if !ok {
		return ""
	}
	rng := sim.Stream(seed, "swarm/slow_election")
	if rng.IntN(slowElectionOdds) != 0 {
		return ""
	}
	in := c.Replica(p).Inspect()
	view := in.View
	next := vsr.PrimaryIndex(view+1, c.ReplicaCount(), in.Outside)
	resend, limit, election := 0, 0, 0
	for _, i := range active {
		cfg := c.Replica(i).Config()
		resend, election = max(resend, cfg.ViewChangeResendTicks), max(election, cfg.ElectionTimeoutTicks)
		if limit == 0 || cfg.ViewChangeTimeoutTicks < limit {
			limit = cfg.ViewChangeTimeoutTicks
		}
	}
	var top uint64 // the highest op held: the new primary fetches what it lacks below it
	for _, i := range active {
		top = max(top, c.Replica(i).Inspect().Op)
	}
	fetch := 0
	if next != p && c.Replica(next) != nil {
		fetch = int(min(top-min(top, c.Replica(next).Inspect().Op), vsr.PipelinePrepareMax))
	}
	mean := sim.Millisecond + sim.Duration(rng.Int64N(int64(slowElectionMeanMax-sim.Millisecond)+1))
	hi := 0 // the largest floor, in ticks, whose bound fits three quarters of the timeout
	for d := 1; run.slowElectionTicks(active, sim.Duration(d)*sim.TickInterval, mean, fetch) <= 3*limit/4; d++ {
		hi = d
	}
	lo := max(resend, (hi+1)/2)
	if next == p || c.Replica(next) == nil || hi < lo {
		return "" // a network or disks too slow for the bound to mean anything
	}
	delay := sim.Duration(lo+rng.IntN(hi-lo+1)) * sim.TickInterval
	bound := run.slowElectionTicks(active, delay, mean, fetch)
	saved := c.Network.Options()
	run.runChecked(run.logsWritten, livenessTicks/4) // nothing acknowledged lives only in memory (swarm_lasting.go)
	c.Trace.Emitf(sim.LevelShort, p, "nemesis", "slow_election: one-way delay %s (+exp %s), %d-tick resend, %d-tick "+
		"view-change timeout: an election bound of %d ticks", delay, mean, resend, limit, bound)
	c.Network.SetDelay(delay, mean)
	slowed := true
	restore := func() {
		if slowed {
			c.Network.SetDelay(saved.OneWayDelayMin, saved.OneWayDelayMean)
			slowed = false
		}
	}
	defer restore()
	run.runChecked(func() bool { return false }, election)
	if run.safety() != "" {
		return ""
	}
	if now := run.viewsAt(); now != view {
		return fmt.Sprintf("slow_election: the idle cluster moved from view %d to %d within %d ticks of the one-way delay "+
			"rising to %s: the primary's heartbeats (every %d ticks) still arrive", view, now, election, delay,
			c.Replica(p).Config().HeartbeatTicks)
	}
	run.clients.again(c.Loop.Now(), fmt.Sprintf("the slow_election round took primary R%d down", p))
	c.CrashReplica(p)
	if run.knobs.duringSlowElection != nil {
		run.knobs.duringSlowElection(c, next)
	}
	crashed := c.Loop.Now()
	begun := func() bool {
		for _, i := range active {
			if r := c.Replica(i); i != p && r != nil && (r.Inspect().Status != vsr.StatusNormal || r.Inspect().View != view) {
				return true
			}
		}
		return false
	}
	startBound := ticksOf(delay) + (2*election*101+99)/100 + 2
	if !run.runChecked(begun, startBound) {
		if run.safety() != "" {
			return ""
		}
		return fmt.Sprintf("slow_election: with primary R%d of view %d down, no backup started a view change within %d "+
			"ticks (a %s delay and two %d-tick election timeouts)", p, view, startBound, delay, election)
	}
	start := c.Loop.Now()
	elected := run.runChecked(func() bool { return run.electedAfter(active, p, view) }, bound)
	if run.safety() != "" {
		return ""
	}
	ticks := int((c.Loop.Now() - start) / sim.Time(sim.TickInterval))
	newView := c.Replica(next).Inspect().View
	if !elected || newView != view+1 {
		return fmt.Sprintf("slow_election: with primary R%d of view %d down (crashed at %s) and a one-way delay of %s, "+
			"the active replicas left were not all normal in view %d within %d ticks of the view change's start at %s "+
			"(elected=%t, R%d in view %d): the exchange needs %d one-way delays and a few disk writes, and a view "+
			"change may not be abandoned before its %d-tick timeout; it resends every %d ticks meanwhile",
			p, view, crashed, delay, view+1, bound, start, elected, next, newView, slowElectionHops, limit, resend)
	}
	run.slowElection.rounds++
	c.Trace.Emitf(sim.LevelShort, next, "nemesis", "slow_election: view %d elected %d ticks after the view change began "+
		"(bound %d)", view+1, ticks, bound)
	restore()
	c.Trace.Emitf(sim.LevelShort, p, "nemesis", "slow_election ends: R%d restarts", p)
	c.StartReplica(p)
	return run.convergedAfterRound(fmt.Sprintf("the slow_election round restarted R%d", p), livenessTicks)
}

// slowElectionTicks bounds, in ticks, a correct election on the round's network, from the
// first replica in view change to every active replica left normal in the new view:
// slowElectionHops one-way delays in sequence, two more for each op the new primary fetches
// (a request and its answer), each a floor of delay and an exponential draw of mean, whose
// sum of m exceeds 2m+16 means with probability below e^-12 (as in suffixElectionTicks);
// six disk writes on the slowest disk likewise (each voter's view durable before it votes,
// the new primary's log view before it starts the view, one queued behind another); a tick
// to see the view change begin and one for clocks up to 1% slow.
func (run *swarmRun) slowElectionTicks(active []int, delay, mean sim.Duration, fetch int) int {
	m := sim.Duration(slowElectionHops + 2*fetch)
	msgs := m*delay + (2*m+16)*mean
	slow := 1
	for _, i := range active {
		slow = max(slow, run.c.Nodes[i].Disk.SlowMultiplier())
	}
	d, w := run.swarm.Disk, sim.Duration(6)
	disk := sim.Duration(slow) * (w*d.WriteLatencyMin + (2*w+16)*d.WriteLatencyMean)
	return ticksOf(msgs) + ticksOf(disk) + 2
}
