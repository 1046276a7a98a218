package scenarios

import (
	"fmt"

	"vopr/cluster/vsr"
	"vopr/sim"
)

// A member that missed a reconfiguration. A membership change commits in the old
// configuration and the new one starts in a view change among the members that took part; a
// member down or cut off meanwhile comes back into a configuration it never saw. It must
// learn the new epoch from the first message of it (a heartbeat, a ping answering one of its
// own) and take the log from the primary of the view the new configuration runs, then be a
// voting member again; until then the cluster runs a replica short, and if it starts an
// election of its own instead, a healthy cluster goes through a needless view change. The
// reconfiguring nemesis (swarm_reconfig.go) changes the membership under random faults and
// the liveness phase only asks that everyone converge in the end, which a member that rejoins
// late, or by forcing an election, also does (the mutant vsr.epoch_joiner_never_asks_for_view
// left such a member in view change until its timeout moved the cluster to the next view).
//
// So in seeds with the reconfiguring nemesis, one in rejoinOdds, after the lost_sync round: a
// backup Y goes down (one round in two) or is cut off by the network, and the operator
// removes a standby (if there is one), or else another backup where four or more active
// replicas let the others keep a quorum without Y (no more than the nemesis would: its
// activeMin, and never a sole holder of an intact entry, faults.Nemesis.SoleHolder). Once
// every other member is normal in the new configuration's view, and what that view sent Y
// has landed (messageSlackTicks), Y restarts or its links heal: while a member is still in
// the view change, Y's own votes would take it into the view without asking, and so would a
// start_view still in flight. If Y's view is then no newer than the new configuration's (a
// replica cut off long enough runs up views of its own, and then has a reason to start an
// election), the view must hold, and Y must be normal in it, in the new epoch, with every op
// the others committed executed, within rejoinTicks; then the cluster must converge and the
// view still hold two election timeouts and four heartbeats later (rejoinHeld). Otherwise
// the cluster must only converge. The membership stays as the round leaves it. The draws
// come from the run's "swarm/rejoin" stream.
const (
	// rejoinOdds: the round runs in one eligible seed in rejoinOdds (its CPU: a change, a
	// view change and the hold after it).
	rejoinOdds = 2
	// rejoinTrips are the round trips a rejoin takes: the heartbeat or ping of the new epoch
	// reaching Y, its request for the view's log and the start_view answering it, the repair
	// of the ops it missed (the change's among them) and the commit that executes them.
	rejoinTrips = 6
)

// rejoinState counts the rounds, and those whose view was held.
type rejoinState struct{ rounds, strict uint64 }

func (s rejoinState) counters(counters map[string]uint64) {
	counters["coverage.mark.rejoin.round"] += s.rounds
	counters["coverage.mark.rejoin.strict"] += s.strict
}

func (run *swarmRun) rejoinRound(seed uint64, livenessTicks int) string {
	c := run.c
	if run.reconfig == nil {
		return ""
	}
	active, p, ok := run.roundCluster(livenessTicks, 3)
	if !ok {
		return ""
	}
	r := sim.Stream(seed, "swarm/rejoin")
	on, pickY, pickZ, down := r.IntN(rejoinOdds) == 0, r.Int(), r.Int(), r.IntN(2) == 0
	if !on {
		return ""
	}
	backups := others(active, p)
	k := rejoinCase{y: backups[pickY%len(backups)], down: down}
	if k.change, ok = run.rejoinChange(active, backups, k.y, pickZ); !ok {
		return ""
	}
	run.runChecked(run.logsWritten, livenessTicks/4) // nothing acknowledged lives only in memory (swarm_lasting.go)
	c.Trace.Emitf(sim.LevelShort, k.y, "nemesis", "rejoin: backup R%d is %s while the operator makes the change %s %d",
		k.y, k.how(), k.change.Kind, k.change.Replica)
	run.alerts.unsampled = true // the alert monitor samples the formatted slots: a removed one looks down
	if down {
		c.CrashReplica(k.y)
	} else {
		c.Network.Isolate(k.y)
	}
	back := func() {
		if down {
			c.StartReplica(k.y)
		} else {
			c.Network.Heal()
		}
	}
	if !run.changeEstablished(k.change, removedAskTicks) ||
		!run.runChecked(func() bool { return run.settledWithout(k.y) }, run.electionBudget(livenessTicks)) {
		back()
		return run.rejoinEnd(k.y, livenessTicks)
	}
	run.runChecked(func() bool { return false }, run.messageSlackTicks()) // what the new view sent Y has arrived or been lost
	k.epoch, _ = c.Configuration()
	k.view, k.cfg = c.Replica(c.Primary()).TraceState().View, c.Replica(c.Primary()).Config()
	strict := true
	if rep := c.Replica(k.y); rep != nil {
		strict = rep.TraceState().View <= k.view
	}
	back()
	if down {
		// The bound counts from the end of Open, which reads the whole log back: a scan that
		// grows with the log and the disk's latency, not with the protocol (swarm seed
		// 2031950487: Y's Open read 54 segments for 1.6 s, past the whole bound; the restart
		// round's seed 2030900032 is the same class).
		run.runChecked(func() bool { return run.opened(k.y) }, livenessTicks/4)
	}
	k.back = c.Loop.Now()
	run.rejoin.rounds++
	if !strict || run.safety() != "" {
		return run.rejoinEnd(k.y, livenessTicks)
	}
	run.rejoin.strict++
	if run.knobs.afterRejoinReturn != nil {
		run.knobs.afterRejoinReturn(c, k.y)
	}
	if reason := run.rejoinTimed(k); reason != "" {
		return reason
	}
	return run.rejoinHeld(k, livenessTicks)
}

// rejoinCase is the round's backup Y, away (down, or else cut off) while change made
// configuration epoch, which runs view with the timeouts of cfg.
type rejoinCase struct {
	y      int
	down   bool
	change vsr.Change
	epoch  uint32
	view   uint32
	cfg    vsr.Config
	back   sim.Time // when Y restarted or its links healed
}

func (k rejoinCase) how() string {
	if k.down {
		return "down"
	}
	return "cut off"
}

// rejoinTimed holds Y, just back, to being normal in the view, in the new epoch, with what
// the others committed executed, within rejoinTicks, and the view to holding meanwhile. It
// returns why not, or "".
func (run *swarmRun) rejoinTimed(k rejoinCase) string {
	c := run.c
	limit := run.rejoinTicks(k.cfg)
	target := run.committedBesides(k.y)
	rejoined := func() bool {
		rep := c.Replica(k.y)
		if rep == nil {
			return false
		}
		in := rep.InspectState()
		return in.Epoch == k.epoch && in.Status == vsr.StatusNormal && in.View == k.view && in.CommitMin >= target
	}
	if run.runChecked(func() bool { return run.viewsAt() != k.view || rejoined() }, limit) && run.viewsAt() == k.view {
		return ""
	}
	switch {
	case run.safety() != "":
		return ""
	case run.viewsAt() != k.view:
		return run.rejoinElection(k)
	}
	state, returned := "down", "was reconnected"
	if k.down {
		returned = "restarted"
	}
	if rep := c.Replica(k.y); rep != nil {
		in := rep.InspectState()
		state = fmt.Sprintf("%s in epoch %d view %d, executed to op %d", in.Status, in.Epoch, in.View, in.CommitMin)
	}
	return fmt.Sprintf("%s, was not normal in that view with op %d executed %d ticks after it %s at %s (%s): a member "+
		"that missed a change hears the new epoch's next heartbeat (every %d ticks) or a ping, and asks that view's "+
		"primary for its log (about %d round trips of %d ticks)", k.what(), target, limit, returned, k.back, state,
		k.cfg.HeartbeatTicks, rejoinTrips, ticksOf(run.roundTrip()))
}

// rejoinHeld waits for the cluster to converge with Y back, then holds the view for two
// election timeouts and four heartbeats (as after an isolation round, swarm_isolation.go),
// or with standbys for the idle time the end-of-run standby check wants (idleAfterRound),
// if longer. It returns why not, or "".
func (run *swarmRun) rejoinHeld(k rejoinCase, livenessTicks int) string {
	return run.holdView(k.view, k.cfg, livenessTicks,
		func() string { return run.rejoinEnd(k.y, livenessTicks) }, func() string { return run.rejoinElection(k) })
}

// holdView waits for the cluster to converge in view, then holds the view for two election
// timeouts and four heartbeats (the longest an election deadline can be, and a few
// heartbeats), or with standbys for the idle time the end-of-run standby check wants
// (idleAfterRound), if longer. It returns end() if the cluster did not converge, moved() if
// the view changed, or "" (also on a safety failure, which the run reports).
func (run *swarmRun) holdView(view uint32, cfg vsr.Config, livenessTicks int, end, moved func() string) string {
	if !run.runChecked(func() bool { return run.viewsAt() != view || run.converged() }, livenessTicks/2) {
		return end() // its reason, or a safety failure's
	}
	hold := 2*cfg.ElectionTimeoutTicks + 4*cfg.HeartbeatTicks
	if run.c.StandbyCount() > 0 {
		hold = max(hold, int((alertSettle+alertHold)/sim.TickInterval))
	}
	if run.viewsAt() == view && !run.runChecked(func() bool { return run.viewsAt() != view }, hold) {
		return ""
	}
	if run.safety() != "" {
		return ""
	}
	return moved()
}

// rejoinElection says that the view moved after Y came back.
func (run *swarmRun) rejoinElection(k rejoinCase) string {
	return fmt.Sprintf("%s, came back at %s with a view no newer than the cluster's, and the view changed to %d at %s: "+
		"a member rejoining a newer configuration takes the view the cluster runs, it forces no election",
		k.what(), k.back, run.viewsAt(), run.c.Loop.Now())
}

func (k rejoinCase) what() string {
	return fmt.Sprintf("backup R%d, %s while the change %s %d made configuration epoch %d (view %d)", k.y, k.how(),
		k.change.Kind, k.change.Replica, k.epoch, k.view)
}

// rejoinTicks bounds a rejoin: the new epoch's first message reaches Y within a heartbeat
// period (the primary's commit heartbeats), or, after a restart, the answer to its first
// request to its old view's primary (the recover timeout, 2*RepairTicks and 2 of jitter) or
// to its pings (PingTicks); then rejoinTrips round trips, tripled for the tail of a sum of
// exponential delays (as catchUpTicks); and catchUpDiskOps disk operations for the log read
// back at a restart, the view and log made durable, and the ops repaired.
func (run *swarmRun) rejoinTicks(cfg vsr.Config) int {
	return cfg.HeartbeatTicks + cfg.PingTicks + 2*cfg.RepairTicks + 2 + 3*rejoinTrips*ticksOf(run.roundTrip()) +
		run.catchUpDiskTicks()
}

// rejoinChange is the change the round makes while backup y is away: the removal of a
// standby, or of another backup where the active replicas left without y are still a quorum
// of the new configuration (four or more active, no fewer left than the reconfiguring
// nemesis leaves, and not the sole holder of an intact entry).
func (run *swarmRun) rejoinChange(active, backups []int, y, pick int) (vsr.Change, bool) {
	if _, standbys := run.c.Members(); len(standbys) > 0 {
		return vsr.Change{Kind: vsr.ChangeRemoveStandby, Replica: standbys[pick%len(standbys)]}, true
	}
	if len(active) < 4 || len(active)-1 < run.reconfig.activeMin {
		return vsr.Change{}, false
	}
	var others []int
	for _, i := range backups {
		if i != y && !run.nemesis.SoleHolder(run.c, i) {
			others = append(others, i)
		}
	}
	if len(others) == 0 {
		return vsr.Change{}, false
	}
	return vsr.Change{Kind: vsr.ChangeRemoveReplica, Replica: others[pick%len(others)]}, true
}

// changeEstablished asks the primary for change (again every reconfigRetryTicks while it is
// not established) until a primary runs the configuration it leads to, within ticks.
func (run *swarmRun) changeEstablished(change vsr.Change, ticks int) bool {
	var awaited uint32
	asked, tick := -reconfigRetryTicks, 0
	return run.runChecked(func() bool {
		tick++
		if awaited > 0 && established(run.c, awaited) {
			return true
		}
		if tick-asked > reconfigRetryTicks {
			if rep, err := ClusterReconfigChange(run.c, change); err == nil {
				awaited, asked = rep.Epoch, tick
			} else if !retriable(err) {
				asked = tick + ticks // refused: wait out the budget
			}
		}
		return false
	}, ticks)
}

// settledWithout reports whether the newest configuration runs normally without member y:
// every other member is normal in it, in the view of its primary.
func (run *swarmRun) settledWithout(y int) bool {
	c := run.c
	p := c.Primary()
	if p < 0 {
		return false
	}
	epoch, _ := c.Configuration()
	view := c.Replica(p).TraceState().View
	for i := 0; i < c.MemberCount(); i++ {
		rep := c.Replica(i)
		if i == y || !c.IsMember(i) {
			continue
		}
		if rep == nil {
			return false
		}
		if in := rep.InspectState(); in.Epoch != epoch || in.Status != vsr.StatusNormal || in.View != view {
			return false
		}
	}
	return true
}

// rejoinEnd waits for the cluster to converge.
func (run *swarmRun) rejoinEnd(y, livenessTicks int) string {
	return run.convergedAfterRound(fmt.Sprintf("backup R%d came back into a changed configuration", y), livenessTicks)
}

// catchUpDiskTicks is catchUpDiskOps disk operations at their mean latency on the slowest
// disk, in ticks (as catchUpTicks counts them).
func (run *swarmRun) catchUpDiskTicks() int {
	d := run.swarm.Disk
	slow := 1
	for i := 0; i < run.c.MemberCount(); i++ {
		slow = max(slow, run.c.Nodes[i].Disk.SlowMultiplier())
	}
	op := d.WriteLatencyMin + d.WriteLatencyMean + d.ReadLatencyMin + d.ReadLatencyMean
	return ticksOf(catchUpDiskOps * sim.Duration(slow) * op)
}
