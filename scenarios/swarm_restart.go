package scenarios

import (
	"fmt"

	"vopr/cluster/vsr"
	"vopr/sim"
)

// A replica restarted into a healthy cluster. Restarting a replica is the most common thing
// an operator does (an upgrade, a kernel patch, a crash the supervisor restarts), and the
// runbook's first scenario. A restarted replica comes back in view change (a backup in its
// own view, a primary in the next one, which the others have usually elected by then) and
// must take the log of the view the cluster runs from that view's primary as soon as it
// hears from it: a prepare, or on an idle cluster only the primary's commit heartbeats. If
// it waits for its view change to time out instead, it starts an election of its own and
// drags the healthy cluster through a view change, a write outage, at every restart. The
// liveness phase only asks that everyone converge in the end, which a cluster that went
// through one needless election also does (a restarted replica ignored the heartbeats of the
// view it was changing to: every idle restart of a primary forced an election).
//
// So in one eligible seed in restartOdds, after the other rounds, with the load stopped: a
// backup goes down for up to an election timeout, or else the primary goes down until the
// others have elected a view without it and what that view sent it has landed. Then it
// restarts. If the view it comes back in is no newer than the cluster's, the view must hold,
// and the replica must be normal in it with every op the others committed executed, within
// rejoinTicks from the end of its recovery from disk (a heartbeat, the answer to its
// requests, a few round trips and disk operations); then the cluster must converge and the view still hold two election
// timeouts and four heartbeats later. The draws come from the run's "swarm/restart" stream.
const restartOdds = 2

// restartState counts the rounds, those that restarted a primary, and those whose view was
// held.
type restartState struct{ rounds, primaries, strict uint64 }

func (s restartState) counters(counters map[string]uint64) {
	counters["coverage.mark.restart.round"] += s.rounds
	counters["coverage.mark.restart.primary"] += s.primaries
	counters["coverage.mark.restart.strict"] += s.strict
}

// restartCase is the round's replica y, restarted at back into the cluster running view.
type restartCase struct {
	y       int
	primary bool
	view    uint32
	cfg     vsr.Config
	back    sim.Time
}

func (k restartCase) what() string {
	role := "backup"
	if k.primary {
		role = "primary"
	}
	return fmt.Sprintf("%s R%d, restarted at %s into the cluster running view %d", role, k.y, k.back, k.view)
}

func (run *swarmRun) restartRound(seed uint64, livenessTicks int) string {
	c := run.c
	active, p, ok := run.roundCluster(livenessTicks, 3)
	if !ok {
		return ""
	}
	r := sim.Stream(seed, "swarm/restart")
	on, primary, pick, downTicks := r.IntN(restartOdds) == 0, r.IntN(2) == 0, r.Int(), r.Int()
	if !on {
		return ""
	}
	k := restartCase{y: p, primary: primary}
	if !primary {
		backups := others(active, p)
		k.y = backups[pick%len(backups)]
	}
	k.cfg = c.Replica(k.y).Config()
	run.runChecked(run.logsWritten, livenessTicks/4) // nothing acknowledged lives only in memory (swarm_lasting.go)
	c.Trace.Emitf(sim.LevelShort, k.y, "nemesis", "restart round: R%d goes down (primary: %v)", k.y, primary)
	c.CrashReplica(k.y)
	if primary {
		if !run.runChecked(func() bool { return run.settledWithout(k.y) }, run.electionBudget(livenessTicks)) {
			c.StartReplica(k.y)
			return run.restartEnd(k, livenessTicks)
		}
		run.runChecked(func() bool { return false }, run.messageSlackTicks()) // what the new view sent it has arrived or been lost
	} else {
		run.runChecked(func() bool { return false }, 1+downTicks%k.cfg.ElectionTimeoutTicks)
	}
	k.view = c.Replica(c.Primary()).TraceState().View
	c.StartReplica(k.y)
	// The bound counts from the end of Open, which reads the whole log back: a scan that grows
	// with the log and the disk's latency, not with the protocol (swarm seed 2030900032: 50
	// segments at a 12.5 ms mean read took 1.4 s).
	run.runChecked(func() bool { return run.opened(k.y) }, livenessTicks/4)
	k.back = c.Loop.Now()
	run.restart.rounds++
	run.restart.primaries += uint64(boolInt(primary))
	if rep := c.Replica(k.y); rep == nil || rep.TraceState().View > k.view || run.safety() != "" {
		return run.restartEnd(k, livenessTicks)
	}
	run.restart.strict++
	if run.knobs.afterRestart != nil {
		run.knobs.afterRestart(c, k.y)
	}
	if reason := run.restartTimed(k); reason != "" {
		return reason
	}
	return run.restartHeld(k, livenessTicks)
}

// restartTimed holds the restarted replica to being normal in the cluster's view with what
// the others committed executed, within rejoinTicks, and the view to holding meanwhile.
func (run *swarmRun) restartTimed(k restartCase) string {
	c := run.c
	limit := run.rejoinTicks(k.cfg)
	target := run.committedBesides(k.y)
	back := func() bool {
		rep := c.Replica(k.y)
		if rep == nil {
			return false
		}
		in := rep.InspectState()
		return in.Status == vsr.StatusNormal && in.View == k.view && in.CommitMin >= target
	}
	if run.runChecked(func() bool { return run.viewsAt() != k.view || back() }, limit) && run.viewsAt() == k.view {
		return ""
	}
	switch {
	case run.safety() != "":
		return ""
	case run.viewsAt() != k.view:
		return run.restartElection(k)
	}
	state := "down"
	if rep := c.Replica(k.y); rep != nil {
		in := rep.InspectState()
		state = fmt.Sprintf("%s in view %d, executed to op %d", in.Status, in.View, in.CommitMin)
	}
	return fmt.Sprintf("%s, was not normal in that view with op %d executed %d ticks later (%s): a restarted replica "+
		"hears the view's next heartbeat (every %d ticks) and asks its primary for the log", k.what(), target, limit, state,
		k.cfg.HeartbeatTicks)
}

// restartHeld waits for the cluster to converge, then holds the view for two election
// timeouts and four heartbeats (with standbys, the idle time the end-of-run standby check
// wants, if longer).
func (run *swarmRun) restartHeld(k restartCase, livenessTicks int) string {
	return run.holdView(k.view, k.cfg, livenessTicks,
		func() string { return run.restartEnd(k, livenessTicks) }, func() string { return run.restartElection(k) })
}

func (run *swarmRun) restartElection(k restartCase) string {
	return fmt.Sprintf("%s, and the view changed to %d at %s: a replica restarted into a healthy cluster takes the view "+
		"the cluster runs, it forces no election", k.what(), run.viewsAt(), run.c.Loop.Now())
}

func (run *swarmRun) restartEnd(k restartCase, livenessTicks int) string {
	return run.convergedAfterRound(fmt.Sprintf("the restart round restarted R%d", k.y), livenessTicks)
}

// opened reports whether replica x, restarted, has read its disk back: it runs and is no
// longer recovering, or it reported its checkpoint lost (it stays recovering until a state
// sync). Open's scan grows with the log and the disk's latency, so the rounds' protocol
// bounds count from here.
func (run *swarmRun) opened(x int) bool {
	rep := run.c.Replica(x)
	return rep != nil && (rep.TraceState().Status != vsr.StatusRecovering || rep.Inspect().CheckpointLost)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
