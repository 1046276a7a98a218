package scenarios

import (
	"fmt"

	"vopr/sim"
)

// A member left behind in an ended epoch, whose views ran ahead there, rejoining the new
// configuration in a view change. A log is named by its epoch and view together (vsr's
// reconfig.go): views of two epochs may share numbers, and a replica cut off in the old
// epoch runs up view numbers of its own there (its election timeouts fire, its view changes
// never complete), above the views the new configuration runs. When it comes back it joins
// the new epoch with the log it has, which ends at the change at the latest and holds none of
// the ops the new configuration committed since, and its view, far ahead, takes the cluster
// into a view change at once. If that view change took its log for the newest (its view
// number, or its current epoch, for the log's), the ops committed after the change would be
// truncated: acknowledged writes lost (acked_survive, committed_prefix, and a read of them,
// linearizability). The rejoin round (swarm_rejoin.go) brings such a member back into a
// settled view and asks only for convergence; here the view change it forces is one its
// do_view_change must count in: the new configuration's primary goes down as it comes back,
// so the quorum of that view change includes it.
//
// So in seeds with the reconfiguring nemesis, one in epochRejoinOdds, last of the rounds: a
// backup X is cut off from every other member, either before the change is asked or (one
// round in two) as soon as it holds the change's prepare, before it learns the change
// committed; the operator makes the change rejoinChange draws (a standby removed, or another
// backup where four or more active replicas let the rest keep a quorum without X). The new
// configuration settles without X, and the clients write in it until they have
// 2*clients more replies and X's view is epochRejoinAhead views past the new primary's (or
// the budget ends). Then the writes drained and written, X's links heal and the new primary
// goes down at the same moment; the rest must elect a view with X, the clients write in it,
// and the old primary restarts; the cluster must converge. The membership stays as the round
// leaves it. The draws come from the run's "swarm/epoch_rejoin" stream.
const (
	epochRejoinOdds  = 3
	epochRejoinAhead = 2
)

// epochRejoinState counts the rounds, those whose change was established without X
// (changed), those where X held the change's prepare when cut off (holding), those where X
// came back with a view above the new primary's (ahead) and with a log view above the new
// primary's log view (logAhead: its log's view number, in the old epoch, the newer), and
// those whose view change with X was elected.
type epochRejoinState struct {
	rounds, changed, holding, ahead, logAhead, elected uint64
}

func (s epochRejoinState) counters(counters map[string]uint64) {
	counters["coverage.mark.epoch_rejoin.round"] += s.rounds
	counters["coverage.mark.epoch_rejoin.changed"] += s.changed
	counters["coverage.mark.epoch_rejoin.holding"] += s.holding
	counters["coverage.mark.epoch_rejoin.ahead"] += s.ahead
	counters["coverage.mark.epoch_rejoin.log_ahead"] += s.logAhead
	counters["coverage.mark.epoch_rejoin.elected"] += s.elected
}

func (run *swarmRun) epochRejoinRound(seed uint64, livenessTicks int) string {
	c := run.c
	if run.reconfig == nil {
		return ""
	}
	active, p, ok := run.roundCluster(livenessTicks, 3)
	if !ok || c.ClientCount() == 0 {
		return ""
	}
	r := sim.Stream(seed, "swarm/epoch_rejoin")
	on, pickX, pickZ, holding := r.IntN(epochRejoinOdds) == 0, r.Int(), r.Int(), r.IntN(2) == 0
	if !on {
		return ""
	}
	backups := others(active, p)
	x := backups[pickX%len(backups)]
	change, ok := run.rejoinChange(active, backups, x, pickZ)
	if !ok {
		return ""
	}
	run.epochRejoin.rounds++
	budget := run.electionBudget(livenessTicks)
	down := -1
	end := func() string {
		c.Network.Heal()
		if down >= 0 && c.Replica(down) == nil {
			c.StartReplica(down)
		}
		run.load = false
		return run.convergedAfterRound(fmt.Sprintf("the epoch_rejoin round brought R%d back from an ended epoch", x),
			livenessTicks)
	}
	run.runChecked(run.pipelineDrained, budget)
	run.runChecked(run.logsWritten, livenessTicks/4) // nothing acknowledged lives only in memory (swarm_lasting.go)
	head := c.Replica(p).TraceState().Op
	c.Trace.Emitf(sim.LevelShort, x, "nemesis", "epoch_rejoin: R%d cut off %s the change %s %d (op %d); the new "+
		"configuration writes while its views run ahead, then it comes back as the new primary goes down",
		x, map[bool]string{true: "once it holds", false: "before"}[holding], change.Kind, change.Replica, head+1)
	run.alerts.unsampled = true // the alert monitor samples the formatted slots: a removed one looks down
	members := make([]int, c.MemberCount())
	for i := range members {
		members[i] = i
	}
	cut := false
	if !holding {
		run.cutOff(x, members)
		cut = true
	}
	// The change: X is cut off before it learns the change committed (at once, in a round
	// that waits for it to hold the prepare).
	epoch, _ := c.Configuration()
	var awaited uint32
	asked, tick := -reconfigRetryTicks, 0
	done := run.runChecked(func() bool {
		tick++
		if !cut {
			if in := c.Replica(x).InspectState(); in.Op > head {
				run.cutOff(x, members)
				cut = true
				if in.CommitMin <= head && in.Epoch == epoch {
					run.epochRejoin.holding++
				}
			}
		}
		if awaited > 0 && established(c, awaited) {
			return cut
		}
		if tick-asked > reconfigRetryTicks {
			if rep, err := ClusterReconfigChange(c, change); err == nil {
				awaited, asked = rep.Epoch, tick
			} else if !retriable(err) {
				asked = tick + removedAskTicks // refused: wait out the budget
			}
		}
		return false
	}, removedAskTicks)
	if !cut {
		run.cutOff(x, members)
	}
	if !done || !run.runChecked(func() bool { return run.settledWithout(x) }, budget) {
		return end()
	}
	run.epochRejoin.changed++
	// The new configuration writes while X's views run ahead in the old epoch.
	acked := run.acked
	run.clients.again(c.Loop.Now(), fmt.Sprintf("the epoch_rejoin round's change %s %d", change.Kind, change.Replica))
	run.load = true
	run.runChecked(func() bool {
		q := c.Primary()
		rep := c.Replica(x)
		return q >= 0 && rep != nil && run.acked >= acked+2*c.ClientCount() &&
			rep.TraceState().View >= c.Replica(q).TraceState().View+epochRejoinAhead
	}, budget)
	run.load = false
	if !run.runChecked(func() bool { return run.pipelineDrained() && run.logsWritten() }, budget) {
		return end()
	}
	q := c.Primary()
	if q < 0 || q == x || c.Replica(x) == nil {
		return end()
	}
	back, now := c.Replica(x).InspectState(), c.Replica(q).InspectState()
	if back.Epoch < now.Epoch && back.View > now.View {
		run.epochRejoin.ahead++
	}
	if back.Epoch < now.Epoch && back.LogView > now.LogView {
		run.epochRejoin.logAhead++
	}
	c.Trace.Emitf(sim.LevelShort, x, "nemesis", "epoch_rejoin: R%d back from epoch %d (view %d, log view %d); the "+
		"new primary R%d of epoch %d (view %d, log view %d) goes down", x, back.Epoch, back.View, back.LogView, q,
		now.Epoch, now.View, now.LogView)
	down = q
	c.CrashReplica(q)
	c.Network.Heal()
	newActive, _ := c.Members()
	rest := others(newActive, q)
	if !run.runChecked(func() bool { return run.normalTogether(rest) }, budget) {
		return end()
	}
	run.epochRejoin.elected++
	// The clients write in the view elected with X: the checkers read what it kept.
	acked = run.acked
	run.clients.again(c.Loop.Now(), fmt.Sprintf("the epoch_rejoin round elected a view of %v", rest))
	run.load = true
	run.runChecked(func() bool { return run.acked >= acked+2*c.ClientCount() }, budget)
	run.load = false
	run.runChecked(run.pipelineDrained, budget)
	return end()
}
