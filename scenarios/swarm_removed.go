package scenarios

import (
	"fmt"

	"vopr/cluster/client"
	"vopr/cluster/vsr"
	"vopr/sim"
)

// The lasting membership change (lastingRemoved, swarm_lasting.go). A client finds the
// primary of a view from the membership its replies name: the primary of view v is the
// (v mod active)-th active member, so after a reconfiguration the same view number names
// another replica than it did in the configuration the client started with. The fault phase
// runs its reconfigurations, but the heal restores the formatted membership before the
// liveness phase, where the old and the new mapping agree again, and a client that keeps
// the formatted membership is never seen sending to the wrong replica. Here, once the healed
// cluster has served every client and converged, the operator removes the replica that,
// in the formatted membership, leads the view the next epoch starts in (vsr: the view after
// the one the change executes in), and the membership stays so: the clients must be served
// anew, the members converge, and the requests of a client that has had a reply in the new
// epoch must be answered on their first attempt (removedLatency).
//
// removedAskTicks bounds the wait for the change to be established (asked again every
// reconfigRetryTicks): a refused change leaves the seed fully healed.
const removedAskTicks = 2000

// clientRetryPeriod is how long a client waits for a reply before it sends again, to the
// next replica: cluster/client's default RetryTicks (30), which the simulator's clients keep,
// in ticks of the client's Tick (one per simulated tick).
const clientRetryPeriod = 30 * sim.TickInterval

// takeRemoved removes the drawn replica once the healed cluster has converged, and starts
// the round of service in the new configuration; false if the seed did not draw it or the
// change could not be made.
func (run *swarmRun) takeRemoved() bool {
	if run.lasting != lastingRemoved {
		return false
	}
	c := run.c
	p := c.Primary()
	if p < 0 {
		return false
	}
	_, outside := c.Configuration()
	node := vsr.PrimaryIndex(c.Replica(p).TraceState().View+1, c.ReplicaCount(), outside)
	c.Trace.Emitf(sim.LevelShort, node, "nemesis", "lasting_removed: remove-replica %d, the next view's primary", node)
	run.alerts.unsampled = true // the alert monitor samples the formatted slots: a removed one looks down
	run.load = true
	var awaited uint32
	asked := -reconfigRetryTicks
	tick := 0
	if !run.runChecked(func() bool {
		tick++
		if awaited > 0 && established(c, awaited) {
			return true
		}
		if tick-asked > reconfigRetryTicks {
			if rep, err := ClusterReconfigChange(c, vsr.Change{Kind: vsr.ChangeRemoveReplica, Replica: node}); err == nil {
				awaited, asked = rep.Epoch, tick
			} else if !retriable(err) {
				asked = tick + removedAskTicks // refused: wait out the budget
			}
		}
		return false
	}, removedAskTicks) {
		return false
	}
	run.removed = newRemovedLatency(run.swarm.Clients, c.Loop.Now())
	run.clients.again(c.Loop.Now(), fmt.Sprintf("R%d was removed", node))
	return true
}

// removedLatency: in the healed cluster after the change, a request is answered on its first
// attempt. Its primary commits it within a few message delays and disk writes, far below the
// client's retry period; one that needs a second attempt was sent to a replica that neither
// leads nor forwards (a removed one), or waited behind a stall. A single slow request proves
// little (a checkpoint's writes, a first request to the old primary), so the rule is that of
// the majority: of the requests sent by clients that have had a reply in the new epoch, at
// least half must be answered within the retry period. It applies only where nothing else
// legitimately slows requests: no lasting fault but this one, and no slow disks (the heal
// keeps drawn disk latency).
type removedLatency struct {
	since          sim.Time
	learned        []bool // per client: has had a reply sent after the change
	answered, slow int
	slowest        sim.Duration
}

func newRemovedLatency(clients int, since sim.Time) *removedLatency {
	return &removedLatency{since: since, learned: make([]bool, clients)}
}

// done sees client i's request, sent at sentAt, answered at now.
func (l *removedLatency) done(i int, r client.Result, sentAt, now sim.Time) {
	if l == nil || sentAt < l.since || r.Outcome != client.OK {
		return
	}
	if !l.learned[i] {
		l.learned[i] = true // its first reply of the new epoch teaches it the membership
		return
	}
	l.answered++
	if took := sim.Duration(now - sentAt); took > clientRetryPeriod {
		l.slow++
		l.slowest = max(l.slowest, took)
	}
}

// removedRequestsMin: fewer answered requests than this prove nothing either way;
// removedSampleTicks bounds how long the load goes on, once every client has been served, to
// answer removedRequestsSample of them.
const (
	removedRequestsMin    = 8
	removedRequestsSample = 24
	removedSampleTicks    = 300
)

// removedRound runs the liveness phase's tests in the new configuration: every client served
// anew, then the load goes on until removedLatency has its sample, then, the load stopped,
// the members converge.
func (run *swarmRun) removedRound(livenessTicks int) (progressed, converged bool) {
	progressed = run.runChecked(func() bool { return run.clients.allAnswered() || run.clients.starved != "" },
		run.lastingServeTicks(livenessTicks))
	progressed = progressed && run.clients.starved == ""
	if progressed {
		run.runChecked(func() bool { return run.removed.answered >= removedRequestsSample }, removedSampleTicks)
	}
	run.load = false
	converged = progressed && run.runChecked(run.converged, livenessTicks/2)
	return progressed, converged
}

// verdict returns why the requests after the change were too slow, or "".
func (l *removedLatency) verdict() string {
	if l == nil || l.answered < removedRequestsMin || 2*l.slow <= l.answered {
		return ""
	}
	return fmt.Sprintf("%d of %d requests sent after a reconfiguration by clients that had a reply in the new epoch "+
		"took longer than the client's retry period (%s; slowest %s): their first attempts went where no primary answers them",
		l.slow, l.answered, clientRetryPeriod, l.slowest)
}

// removedVerdict applies removedLatency where it is sound: not on the slow disks the heal
// keeps.
func (run *swarmRun) removedVerdict() string {
	if run.alerts.slowDisks {
		return ""
	}
	return run.removed.verdict()
}
