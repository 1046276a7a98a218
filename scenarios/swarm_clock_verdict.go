package scenarios

import (
	"fmt"

	"vopr/cluster/vsr"
	"vopr/sim"
)

// The clock verdict of a healthy cluster. A replica's clock verdict (ClockSynchronized: what
// `replica clock-offset` and `cluster status` show, and the clock-unsync metric counts) is
// its own conclusion from the clock samples it takes by pinging its peers every PingTicks.
// The clock_sync checker holds the conclusion to the samples the replica holds, so a replica
// that stops sampling, and concludes "unsynchronised" from the samples it has left, passes
// it. The harness knows better: it knows the true clocks. Over the alert hold the healed
// cluster is idle and converged, the network whole, and no clock is off true time by more
// than an eighth of the tolerance (so any two agree within a quarter of it, and every sample
// a replica takes, widened by half the tolerance, holds the truth: Marzullo's sweep over a
// quorum of them agrees). Three seconds of that are some thirty ping periods: every active
// member that stayed up and normal in one view throughout must then report its clock
// synchronised. An operator who sees a healthy cluster report unsynchronised clocks chases a
// clock fault that is not there (and a primary that believes it must stop timestamping).
//
// Where every clock reads true time exactly (the heal set them so; nothing has moved one
// since), the offset each replica reports (`replica clock-offset`'s cluster offset) is 0:
// every sample it holds was taken in the hold, and each holds the true offset, 0, so each
// sample's widened interval holds the replica's own, the region the sweep agrees on is that
// interval and its midpoint is 0 (swarm_clock_exact.go shows the rounding). A replica that
// reports an offset there reports drift that is not there.

// clockVerdictTolerance is how far off true time a clock may be for the rule to hold.
const clockVerdictTolerance = vsr.ClockToleranceNs / 8

// clockHold is the cluster as the alert hold began: the active members' processes, or none
// if the rule does not apply.
type clockHold struct {
	procs []*vsr.Replica // by node; nil where not an active member
	view  uint32
	exact bool // every clock reads true time exactly
}

// clockHoldAt returns the cluster as the hold begins in view; ok is false where the rule does
// not apply (a clock off, the network not whole, an active member down, paused, isolated or
// not normal in view).
func (run *swarmRun) clockHoldAt(view uint32) (hold clockHold, ok bool) {
	c := run.c
	if run.lasting == lastingClock || c.Network.FaultsEnabled() {
		return clockHold{}, false
	}
	hold = clockHold{procs: make([]*vsr.Replica, c.MemberCount()), view: view, exact: true}
	for i := 0; i < c.MemberCount(); i++ {
		o := c.Nodes[i].Clock.Options()
		err := c.Nodes[i].Clock.ErrorNs()
		if o.DriftPPM != 0 || o.PeriodicErrorNs != 0 || max(err, -err) > clockVerdictTolerance {
			return clockHold{}, false
		}
		hold.exact = hold.exact && err == 0
	}
	active, _ := c.Members()
	for _, i := range active {
		r := c.Replica(i)
		if r == nil || c.Nodes[i].Status() != sim.NodeUp {
			return clockHold{}, false
		}
		in := r.InspectState()
		if in.Status != vsr.StatusNormal || in.View != view || in.Isolated || in.Role == vsr.RoleStandby {
			return clockHold{}, false
		}
		for _, j := range active {
			if i != j && (!c.Network.Connected(i, j) || c.Network.Clogged(i, j)) {
				return clockHold{}, false
			}
		}
		hold.procs[i] = r
	}
	return hold, true
}

// checkClockVerdicts checks, at the end of the hold that began as start (applies: the rule
// applied then), the verdicts of a checked run: a violation is a correctness failure.
func (run *swarmRun) checkClockVerdicts(start clockHold, applies bool) {
	if run.checked && run.broken == "" && applies && run.viewDrift == "" {
		run.broken = run.clockVerdicts(start)
	}
}

// clockVerdicts checks, at the end of the hold that began as start, that every active member
// reports its clock synchronised, if the rule applied throughout (the same conditions at the
// end, the same processes, no view change). It returns a violation, or "".
func (run *swarmRun) clockVerdicts(start clockHold) string {
	end, ok := run.clockHoldAt(start.view)
	if !ok {
		return ""
	}
	for i, r := range start.procs {
		if r != end.procs[i] {
			return "" // a member changed: not the same cluster
		}
	}
	run.metrics.clockHolds++
	for i, r := range start.procs {
		if r == nil {
			continue
		}
		in := r.InspectState()
		if !in.ClockSynchronized {
			return fmt.Sprintf("clock: replica %d reports its clock unsynchronised (offset %s, samples from %016b) after "+
				"%s idle on a whole network with every clock within %s of true time: a quorum of its peers' clocks agrees "+
				"with it", i, sim.Duration(in.ClockOffsetNs), in.ClockSamples, sim.Duration(alertSettle+alertHold),
				sim.Duration(clockVerdictTolerance))
		}
		if start.exact && end.exact && in.ClockOffsetNs != 0 {
			return fmt.Sprintf("clock: replica %d reports a cluster clock offset of %s after %s idle on a whole network "+
				"with every clock reading true time: the offset is 0", i, sim.Duration(in.ClockOffsetNs),
				sim.Duration(alertSettle+alertHold))
		}
	}
	return ""
}
