package scenarios

import (
	"fmt"

	"vopr/cluster/vsr"
	"vopr/sim"
)

// A backup left behind by exactly the log window. A replica's log holds the ops from its
// commit number up to vsr.LogSlotsMax ops above it (four checkpoint intervals): a
// start_view, a prepare or a repair answer whose op is at or past that edge needs a state
// sync first, one below it is installed in place. The rounds that leave a backup behind
// (catchup, cut_catchup, behind) leave it far past the edge or well within it, so a window
// check off by one op (an op at the edge taking the slot of the executed op whose checkpoint
// is still due) is never met: the fault phase reaches the edge exactly about never.
//
// So in one eligible seed in windowEdgeOdds (three or more active replicas, a load that gets
// a log window past the backup in time), after every other round (last, so that it changes
// no other round's trace): a backup X is isolated, still running (it times out into views
// of its own), while the clients write until the others' head is windowEdgeSlack ops short
// of X's commit number plus the window plus an offset drawn from -1, 0 (half the time) and
// +1; then a single client writes, one request at a time, until the head reaches that op
// exactly, and the load stops. At the heal X's views take the cluster through a view change
// whose start_view (or, if X leads it, whose do_view_changes) puts a head at the edge before
// X; the load waits for it. X must then be normal with every op committed at the heal
// executed within cutCatchUpTicks while the clients write again, and the cluster must converge; a replica's
// own window assertions fail-stop it on the way. The draws come from the run's
// "swarm/window_edge" stream.
const (
	// windowEdgeOdds: the round runs in one eligible seed in windowEdgeOdds (its CPU: a log
	// window of load with X cut off, and the catch-up).
	windowEdgeOdds = 4
	// windowEdgeSlack is how far short of the edge the whole load stops and one client
	// takes over: more than the requests all clients may have in flight.
	windowEdgeSlack = 24
	// windowEdgeStepTicks bounds the single client's walk to the edge.
	windowEdgeStepTicks = 2000
)

// windowEdgeState counts the rounds, those whose head landed exactly on the drawn op, and
// those that landed on the edge itself (commit number plus the window).
type windowEdgeState struct{ rounds, landed, edge uint64 }

func (s windowEdgeState) counters(counters map[string]uint64) {
	counters["coverage.mark.window_edge.round"] += s.rounds
	counters["coverage.mark.window_edge.landed"] += s.landed
	counters["coverage.mark.window_edge.edge"] += s.edge
}

func (run *swarmRun) windowEdgeRound(seed uint64, livenessTicks int) string {
	c := run.c
	active, p, ok := run.roundCluster(livenessTicks, 3)
	if !ok {
		return ""
	}
	r := sim.Stream(seed, "swarm/window_edge")
	on, pick, offset := r.IntN(windowEdgeOdds) == 0, r.Int(), windowEdgeOffset(r.IntN(4))
	if !on || vsr.LogSlotsMax/vsr.CheckpointInterval*run.checkpointTicks() > catchUpBehindTicksMax {
		return "" // a load too slow to get a window past X in time: the round would only cost CPU
	}
	backups := others(active, p)
	x := backups[pick%len(backups)]
	run.runChecked(run.logsWritten, livenessTicks/4) // nothing acknowledged lives only in memory (swarm_lasting.go)
	run.windowEdge.rounds++
	c.Network.Isolate(x)
	// X executes what it learned before the cut (its disk may lag); the edge is drawn from
	// its commit number once it has.
	run.runChecked(func() bool { return run.quietAt(x) }, livenessTicks/4)
	commit := c.Replica(x).TraceState().CommitMin
	target := commit + vsr.LogSlotsMax + uint64(offset)
	c.Trace.Emitf(sim.LevelShort, x, "nemesis", "window_edge: backup R%d is cut off at commit %d; the others write to op %d "+
		"(the window's edge %+d)", x, commit, target, offset)
	run.load = true
	run.clients.again(c.Loop.Now(), fmt.Sprintf("the window_edge round cut off backup R%d", x))
	passed := run.runChecked(func() bool { return run.headBesides(x)+windowEdgeSlack >= target }, catchUpBehindTicksMax)
	run.load = false
	if passed {
		passed = run.walkToEdge(x, target)
	}
	land := run.headBesides(x)
	if passed && land == target {
		run.windowEdge.landed++
		run.windowEdge.edge += uint64(boolInt(offset == 0))
	}
	c.Network.Heal()
	if run.knobs.afterWindowEdgeHeal != nil {
		run.knobs.afterWindowEdgeHeal(c, x)
	}
	c.Trace.Emitf(sim.LevelShort, x, "nemesis", "window_edge: R%d's partition heals with the others' head at op %d (drawn %d)",
		x, land, target)
	if passed && run.safety() == "" {
		// The load waits for X's view change: a head moved on by then would put X past the
		// edge, not at it.
		run.runChecked(func() bool { return run.isNormal(x) }, run.electionBudget(livenessTicks))
		if run.safety() != "" {
			return "" // the run's verdict (a replica's window assertion fail-stops it)
		}
		run.load = true
		run.clients.again(c.Loop.Now(), fmt.Sprintf("the window_edge round healed backup R%d's partition", x))
		limit := run.cutCatchUpTicks(seed, x)
		if target, from, ok := run.waitExecuted(x, limit, "window_edge", "executed"); !ok && run.safety() == "" {
			run.load = false
			return fmt.Sprintf("backup R%d, cut off until the others' head was op %d, the edge of its log window %+d, had not "+
				"executed op %d (committed when its partition healed at %s) %d ticks later while the clients kept writing (%s)",
				x, land, offset, target, from, limit, run.catchUpState(x))
		}
	}
	run.load = false
	return run.convergedAfterRound(fmt.Sprintf("backup R%d, cut off at the edge of its log window, caught up", x), livenessTicks)
}

// windowEdgeOffset maps a draw of four to the offset from the edge: the edge itself half
// the time, one op short or past it otherwise.
func windowEdgeOffset(draw int) int {
	return [...]int{0, 0, -1, 1}[draw]
}

// walkToEdge lets the in-flight requests finish, then has one client write, one request at
// a time, until the others' head reaches target, and stops. It reports whether the head
// got there (it may overshoot by the requests that were in flight).
func (run *swarmRun) walkToEdge(x int, target uint64) bool {
	c := run.c
	if !run.runChecked(func() bool { return run.quietAt(-1) && run.clientsIdle() }, windowEdgeStepTicks) {
		return false
	}
	client := -1
	for i := 0; i < c.ClientCount(); i++ {
		if cl := c.Client(i); cl != nil && cl.Registered() {
			client = i
			break
		}
	}
	if client < 0 {
		return false
	}
	run.load, run.loadClients = true, func(i int) bool { return i == client }
	defer func() { run.load, run.loadClients = false, nil }()
	return run.runChecked(func() bool { return run.headBesides(x) >= target }, windowEdgeStepTicks)
}

// headBesides is the highest op any active replica other than x holds.
func (run *swarmRun) headBesides(x int) uint64 {
	return run.highestBesides(x, func(s vsr.TraceState) uint64 { return s.Op })
}

// quietAt reports whether replica x (every active replica, for -1) has executed every op it
// holds.
func (run *swarmRun) quietAt(x int) bool {
	active, _ := run.c.Members()
	for _, i := range active {
		if rep := run.c.Replica(i); rep != nil && (x < 0 || i == x) {
			s := rep.TraceState()
			if s.CommitMin < s.CommitMax {
				return false
			}
		}
	}
	return true
}
