package scenarios

import (
	"encoding/binary"
	"fmt"
	"strconv"

	"vopr/cluster/vsr"
	"vopr/sim"
)

// The last change before a failover. A seed that fails over may also run the reconfiguring
// nemesis (faults.Swarm.DrawFailoverReconfig): the fault phase changes the membership, the
// heal restores it, and the region is lost after that. Where a failover meets a change is
// narrower, so in three quarters of those seeds the operator makes one last change just
// before the region is lost (drawn from its own stream, "swarm/failover_change"): the
// removal of an active replica or of a standby other than the one to promote. The region is
// lost at one of three moments:
//
//   - entering: as the standby to promote executes the change or hears of the new epoch.
//     Its link from the region is down for a moment as the new epoch's first primary starts
//     its view, so that the view's log is lost on the way and the standby enters the epoch
//     from a later message: it is between views, waiting for a log nobody is left to send.
//
//   - restart: the same, and the standby's process restarts, stopped a drawn moment after it
//     entered (its new epoch's state write landed or not: a restart with its view above its
//     log view) or, in half the runs, as it executed the change before entering (its disk
//     holds the change and what it wrote of its commit, in the old epoch).
//
//   - served: once the new configuration has served for a moment. In three quarters of
//     these runs one client, idle across the change (so that it has seen no reply of the new
//     configuration; the change then removes slot 0 in half of them, the one slot a client
//     addresses after a failover), has its paths from the region clogged, and the region is
//     lost as the new configuration executes its request: the replies of the lost
//     configuration reach it when the failover is done and it was told the configuration of
//     one replica (client.Reconfigure), naming the change's membership.
//
//   - isolated: in the quarter of those seeds that draws no change above, the operator
//     makes one all the same (drawn from "swarm/failover_kept_change"), having set the
//     heartbeat at its shortest, and isolates the standby (`replica isolate`) as the region
//     fails (isolateStandby). In half the runs that is as the standby executes the change
//     in its old epoch, from the old primary's last heartbeat (which now always goes out
//     before the primary enters the new epoch), with its switch due on a tick that never
//     comes: the promotion keeps a committed change the standby has not entered
//     (failover.kept_change_ahead; a restart cannot leave that state on disk without a
//     superblock write of the old epoch carrying the change's commit, which the swarm
//     issues about once in twenty such heartbeats). In the other half it is as the old
//     primary executes the change, removing slot 0 if it may: the standby never hears the
//     commit, the new configuration serves, and the failover's epoch is the one the clients
//     last heard of, with another membership.
//
// The checks are the failover's own (the promotion goes ahead, standby between views or
// not, and the promoted replica runs, its epoch above every change it keeps; the
// acknowledged ops lost are those above the promotion point), the client's (a reply of a
// configuration a failover replaced is an answer and nothing more: client_routing.go) and
// every checker's after the failover. The old code failed them (seeds in
// swarm_failover_change_test.go): a standby between views was never promoted, and a client
// took a late reply's membership with no member among its slots and crashed.
const (
	// failoverChangeTicks bounds the wait for the change to be taken and entered.
	failoverChangeTicks = 1000
	// failoverServeTicksMax: in the last moment, the region is lost up to this long after
	// the new configuration has a primary.
	failoverServeTicksMax = 100
	// failoverStopMax: restarting, the standby's process stops up to this long after it
	// enters the change's configuration (a state write takes 50 us to 100 ms).
	failoverStopMax = 20 * sim.Millisecond
	// failoverLinkDownMin: the standby's link is down for this long to twice as long as the
	// new epoch's first view starts (longer than a message takes, about a heartbeat).
	failoverLinkDownMin = 60 * sim.Millisecond
	// failoverHeldSlackTicks is what the held client's request may have waited before the
	// loss, and what the promotion may take, within its patience (reaction).
	failoverHeldSlackTicks = 100
	// failoverClogTicks is how long the held client's paths stay clogged at most (the
	// failover releases them before): longer than any failover.
	failoverClogTicks = 100_000
)

// The moments the region may be lost at, relative to the last change.
const (
	lossEntering = iota // as the standby executes the change
	lossRestart         // the same, and the standby's process restarts as it enters
	lossServed          // once the new configuration has served for a moment
	lossIsolated        // the standby isolated as the change executes (not drawn with the others)
	lossMoments
)

var lossMomentNames = [lossMoments]string{"entering", "restart", "served", "isolated"}

// lastChangeState is the last change's part of a failover.
type lastChangeState struct {
	// held is the client whose replies from the active region are clogged (-1: none), and
	// from the nodes of that region.
	held int
	from []int
	// counts for coverage: changes made per moment, standbys promoted between views, late
	// replies of the lost configuration delivered to the held client, standbys isolated.
	made                                                         [lossMoments]uint64
	betweenViews, clogs, heldBusy, keptAhead, executed, isolated uint64
}

// runLastChange runs the operator's last change before the failover of standby, if the seed
// draws one, and returns once the region is lost or to be lost (the caller loses what is
// left of it). It reports whether the standby's process is to restart with the loss.
func (run *swarmRun) runLastChange(seed uint64, standby int) (restart bool) {
	lc := &run.lastChange
	lc.held = -1
	if run.reconfig == nil || run.onReplicaEvent != nil { // the swarm's, not a runbook scenario's
		return false
	}
	c := run.c
	rng := sim.Stream(seed, "swarm/failover_change")
	on, moment, pickClient, firstSlot, pickChange := rng.IntN(4) != 0, rng.IntN(lossIsolated), rng.Int(),
		rng.IntN(2) == 0, rng.Int()
	serve := rng.IntN(failoverServeTicksMax + 1)
	stopAfter := sim.Duration(rng.Int64N(int64(failoverStopMax) + 1))
	stopBefore := rng.IntN(2) == 0
	linkDown := failoverLinkDownMin + sim.Duration(rng.Int64N(int64(failoverLinkDownMin)+1))
	// The quarter that draws no change above makes one at the isolated moment, drawn from
	// its own stream: the seeds of the other moments run as they did.
	behind := sim.Stream(seed, "swarm/failover_kept_change").IntN(2) == 0
	if !on {
		moment = lossIsolated
	}
	held := -1
	if moment == lossServed && pickClient%4 != 0 {
		held = pickClient / 4 % c.ClientCount()
	}
	slot0 := held >= 0 && firstSlot || moment == lossIsolated && behind
	change, ok := lastChangeOf(c, standby, run.reconfig.activeMin, slot0, pickChange)
	if !ok {
		return false
	}
	c.Trace.Emitf(sim.LevelShort, standby, "nemesis", "failover: last change %s %d, the region lost %s (held client: c%d)",
		change.Kind, change.Replica, lossMomentNames[moment], held+1)
	if held >= 0 {
		// Idle across the change, so that the replies it is held from are the first to name
		// the new configuration (swarm_blip.go's limit on the load).
		run.loadClients = func(i int) bool { return i != held }
		defer func() { run.loadClients = nil }()
	}
	if moment == lossIsolated {
		// A DR deployment's heartbeat at its shortest, so that the standby's lag is read
		// fresh: the primary's next tick after executing the change then sends its commit,
		// in the old epoch, before the primary enters the new one.
		if _, err := ConfigSet(c, KeyHeartbeatIntervalMs, strconv.Itoa(tickMs)); err != nil {
			return false
		}
	}
	var epoch uint32
	asked := func() bool {
		rep, err := ClusterReconfigChange(c, change)
		if err == nil {
			epoch = rep.Epoch
			return true
		}
		if !retriable(err) && run.broken == "" {
			if why := refusedValidChange(c, change); why != "" {
				run.broken = fmt.Sprintf("failover: the primary refused %s %d (%v), which its configuration allows: %s",
					change.Kind, change.Replica, err, why)
			}
		}
		return !retriable(err)
	}
	if !run.runChecked(asked, failoverChangeTicks) || epoch == 0 {
		return false
	}
	lc.made[moment]++
	if moment == lossIsolated {
		run.isolateStandby(standby, epoch, behind, serve)
		return false
	}
	if moment == lossServed {
		if !run.runChecked(func() bool { return established(c, epoch) }, failoverChangeTicks) {
			return false
		}
		if held < 0 {
			run.runChecked(func() bool { return false }, serve)
			return false
		}
		// The held client's paths from the region clog, and it sends again; the region is
		// lost as an active replica executes one of its requests, so that the reply is on
		// its way (held) while the request is in flight.
		lc.held = held
		for i := 0; i < c.MemberCount(); i++ {
			if i != standby {
				lc.from = append(lc.from, i)
				c.Network.Clog(i, c.ClientNode(held), sim.Duration(failoverClogTicks)*sim.TickInterval)
			}
		}
		lc.clogs++
		run.loadClients = nil
		lost := false
		run.onReplicaEvent = func(e vsr.Event) {
			if !lost && e.Kind == vsr.EventCommit && e.Replica < c.ReplicaCount() && e.Epoch >= epoch &&
				batchOf(e.Prepare, uint64(held+1)) {
				lost = true
				c.Loop.After(0, func() { run.loseRegion(standby) })
			}
		}
		run.runChecked(func() bool { return lost }, failoverChangeTicks)
		run.onReplicaEvent = nil
		return false
	}
	// The region is lost in the instant the standby executes the change (it enters the new
	// configuration on its next tick, and waits for a view's log nobody is left to send) or
	// hears of the new epoch, whichever comes first. Restarting, its process stops a drawn
	// moment after it enters (its new epoch's state write landed or not), or, in half the
	// runs, in the instant it executes the change, before it enters. Otherwise its link
	// from the region is down for a moment as the new epoch's first primary starts its view:
	// the view's log is lost on the way, and the standby hears of the epoch from a later
	// message (a heartbeat, a prepare), enters it and asks for the log.
	lost, entered, stopped, cut := false, false, false, false
	run.onReplicaEvent = func(e vsr.Event) {
		if e.Replica != standby {
			if sender := c.Replica(e.Replica); !cut && moment == lossEntering && e.Kind == vsr.EventStatus &&
				e.Epoch >= epoch && sender != nil && e.Replica < c.ReplicaCount() {
				if in := sender.InspectState(); in.Status == vsr.StatusNormal && in.Role == vsr.RolePrimary {
					cut = true
					run.cutStandbyLink(standby, linkDown)
				}
			}
			return
		}
		executed := e.Kind == vsr.EventCommit && changeTo(e.Prepare, c.ClusterID(), epoch)
		if !lost && (executed || e.Kind == vsr.EventStatus && e.Epoch >= epoch) {
			lost = true
			c.Loop.After(0, func() { run.loseRegion(standby) })
		}
		if executed && !entered {
			lc.executed++
			if moment == lossRestart && stopBefore {
				// It stops before it enters (the next tick): its disk holds what it had
				// written of the change's commit, in the old epoch.
				entered = true
				c.Loop.After(0, func() { c.CrashReplica(standby); stopped = true })
			}
		}
		if !entered && e.Kind == vsr.EventStatus && e.Epoch >= epoch {
			entered = true
			if moment == lossRestart {
				c.Loop.After(stopAfter, func() { c.CrashReplica(standby); stopped = true })
			}
		}
	}
	run.runChecked(func() bool { return lost && (moment != lossRestart || stopped) }, failoverChangeTicks)
	run.onReplicaEvent = nil
	return moment == lossRestart
}

// isolateStandby runs the isolated moment: the operator isolates the standby (`replica
// isolate`: it drops what it receives and its timers stand still) and the region is lost.
// Not behind, that is in the instant the standby executes the change, in its old epoch (it
// heard the commit from the old primary's last heartbeat), or hears of the new epoch,
// whichever comes first: executed, the standby's switch to the new configuration is due on
// its next tick, which never comes, so the failover promotes a standby of the old epoch
// whose committed prefix holds the change (its epoch must pass the change's). Behind, it
// is isolated in the instant the old primary executes the change, before the standby can
// hear its commit, and the region is lost once the new configuration has served for up to
// serve ticks: the failover promotes a standby of the old epoch, below the epoch the
// clients last heard of, with the change removing slot 0 if it may.
func (run *swarmRun) isolateStandby(standby int, epoch uint32, behind bool, serve int) {
	c := run.c
	lc := &run.lastChange
	due, isolated, lost := false, false, false
	isolate := func() {
		isolated = true
		if ReplicaIsolate(c, standby, "region-failing") == nil {
			lc.isolated++
		}
	}
	run.onReplicaEvent = func(e vsr.Event) {
		if due {
			return
		}
		executed := e.Kind == vsr.EventCommit && changeTo(e.Prepare, c.ClusterID(), epoch)
		switch {
		case behind && executed && e.Replica != standby:
			due = true
			c.Loop.After(0, isolate)
		case !behind && e.Replica == standby && (executed || e.Kind == vsr.EventStatus && e.Epoch >= epoch):
			if executed && e.Epoch < epoch {
				lc.executed++
			}
			due = true
			c.Loop.After(0, func() { isolate(); run.loseRegion(standby); lost = true })
		}
	}
	if !behind {
		run.runChecked(func() bool { return lost }, failoverChangeTicks)
		run.onReplicaEvent = nil
		return
	}
	if run.runChecked(func() bool { return isolated && established(c, epoch) }, failoverChangeTicks) {
		run.runChecked(func() bool { return false }, serve)
	}
	run.onReplicaEvent = nil
}

// cutStandbyLink cuts the paths from the region to standby for d: what is in flight on
// them is lost.
func (run *swarmRun) cutStandbyLink(standby int, d sim.Duration) {
	c := run.c
	for i := 0; i < c.MemberCount(); i++ {
		if i != standby {
			c.Network.Cut(i, standby)
		}
	}
	c.Loop.After(d, func() {
		for i := 0; i < c.MemberCount(); i++ {
			if i != standby {
				c.Network.Uncut(i, standby)
			}
		}
	})
}

// batchOf reports whether prepare's batch (count u16, then per entry: client u64, session
// u64, request u32, operation u8, size u32, payload) holds a request of client.
func batchOf(prepare []byte, client uint64) bool {
	if len(prepare) < vsr.HeaderSize+2 {
		return false
	}
	body := prepare[vsr.HeaderSize:]
	n, body := binary.LittleEndian.Uint16(body), body[2:]
	for ; n > 0 && len(body) >= 25; n-- {
		if binary.LittleEndian.Uint64(body) == client {
			return true
		}
		size := uint64(binary.LittleEndian.Uint32(body[21:]))
		if size > uint64(len(body)-25) {
			return false
		}
		body = body[25+size:]
	}
	return false
}

// changeTo reports whether prepare (an executed prepare, as EventCommit carries it) is a
// membership change to epoch.
func changeTo(prepare []byte, cluster uint64, epoch uint32) bool {
	if len(prepare) < vsr.HeaderSize {
		return false
	}
	h, err := vsr.DecodeHeader(prepare[:vsr.HeaderSize], cluster)
	return err == nil && h.Operation == vsr.OperationReconfigure && h.Epoch+1 >= epoch
}

// reaction is the operator's reaction time: drawn, but with a held client one within the
// time the client waits for its request in flight (it gives up after clientAttemptsMax sends,
// one per clientRetryPeriod), so that the lost configuration's replies find it waiting.
func (lc *lastChangeState) reaction(drawn int) int {
	if lc.held < 0 {
		return drawn
	}
	patience := int(clientAttemptsMax * clientRetryPeriod / sim.TickInterval)
	span := patience - contactSettleTicks - failoverHeldSlackTicks - reactionTicksMin
	return reactionTicksMin + (drawn-reactionTicksMin)%span
}

// releaseHeld ends the held client's clogs: the replies of the lost configuration reach it
// now, after the failover reconfigured it.
func (run *swarmRun) releaseHeld() {
	lc := &run.lastChange
	if lc.held < 0 {
		return
	}
	if run.c.Client(lc.held).Busy() {
		lc.heldBusy++ // a request of the lost configuration in flight: its replies come now
	}
	for _, i := range lc.from {
		run.c.Network.Unclog(i, run.c.ClientNode(lc.held))
	}
	lc.held, lc.from = -1, nil
}

// lastChangeOf draws the last change: the removal of an active member (while more than
// activeMin are left) or of a standby other than the one to promote. With firstSlot, the
// removal of slot 0's replica if it may go: the one slot a client addresses after a
// failover, whose membership a late reply of the lost configuration then contradicts.
func lastChangeOf(c *sim.Cluster, standby, activeMin int, firstSlot bool, pick int) (vsr.Change, bool) {
	active, standbys := c.Members()
	var options []vsr.Change
	if len(active) > max(activeMin, 1) {
		if firstSlot && active[0] == 0 {
			return vsr.Change{Kind: vsr.ChangeRemoveReplica, Replica: 0}, true
		}
		for _, i := range active {
			options = append(options, vsr.Change{Kind: vsr.ChangeRemoveReplica, Replica: i})
		}
	}
	for _, i := range standbys {
		if i != standby {
			options = append(options, vsr.Change{Kind: vsr.ChangeRemoveStandby, Replica: i})
		}
	}
	if len(options) == 0 {
		return vsr.Change{}, false
	}
	return options[pick%len(options)], true
}

func (s lastChangeState) counters(counters map[string]uint64) {
	for m, n := range s.made {
		counters["coverage.mark.failover_change."+lossMomentNames[m]] += n
	}
	counters["coverage.mark.failover_change.between_views"] += s.betweenViews
	counters["coverage.mark.failover_change.held_client"] += s.clogs
	counters["coverage.mark.failover_change.held_in_flight"] += s.heldBusy
	// A promotion whose kept log holds a change past the standby's epoch (a commit durable
	// before the change's epoch): no move aims at that window yet, so it is a counter, not a
	// coverage mark that every batch would list as never reached.
	counters["failover.kept_change_ahead"] += s.keptAhead
	counters["coverage.mark.failover_change.executed"] += s.executed
	counters["coverage.mark.failover_change.standby_isolated"] += s.isolated
}
