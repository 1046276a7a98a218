package scenarios

import (
	"fmt"
	"strconv"

	"vopr/cluster/vsr"
	"vopr/sim"
)

// The operator's configuration in force. `cluster config set` changes a running cluster: the
// runbook raises election-timeout-ms to stop a view-change storm (view_change_storm step 4)
// and relies on the new timeout holding at once, without a restart. A replica that stores the
// new value but goes on timing with the old one until its next restart, or that stops a
// running timer as it takes the change, reads back right (`cluster config get`) and behaves
// wrong: the fix does nothing, or a primary's failure is never noticed. The fault phase never
// changes the configuration, and no other check looks at what a change does.
//
// So in one seed of configRoundOneIn, once the other rounds are over, with at least two
// active replicas, all up and converged:
//
//   - (a) the operator raises election-timeout-ms from its boot value E0 to a drawn E, and
//     the primary's process stops (a pause) for longer than any E0 timeout can run (2*E0
//     with its jitter, under the worst drift, after a heartbeat still in flight) but well
//     short of E: no replica may start a view change during the pause, nor until the
//     resumed primary's heartbeat has reached every backup;
//   - (b) the operator sets it back to E0 and the primary stops again: a backup must start a
//     view change within the longest E0 timeout (again after a heartbeat in flight, under
//     the worst drift); then the primary resumes and the cluster converges in a newer view.
//
// The bounds come from the settings `cluster config get` reads, the election timeout's
// design (a backup waits the setting plus a random jitter of up to as much again, whatever
// the setting) and the network's latency; E is drawn from the run's "swarm/config" stream.
const configRoundOneIn = 3

// tickMs is a tick in the milliseconds of `cluster config set|get`.
const tickMs = int(sim.TickInterval / sim.Millisecond)

func (run *swarmRun) configRound(seed uint64, livenessTicks int) string {
	r := sim.Stream(seed, "swarm/config")
	if r.IntN(configRoundOneIn) != 0 {
		return ""
	}
	extra := r.IntN(101) // E's draw above its least value, in ticks
	active, p, ok := run.roundCluster(livenessTicks, 2)
	if !ok {
		return ""
	}
	c := run.c
	e0, hb, ok := run.bootTimeouts(active)
	if !ok {
		return ""
	}
	t := newTimeoutProbe(e0, hb, run.messageSlackTicks())
	e := t.leastRaised + extra
	run.config.rounds++

	// (a) Raised: a pause no E0 timeout survives, well short of E, starts no election.
	if reason := run.configSet(active, e, true); reason != "" {
		return reason
	}
	view := c.Replica(p).TraceState().View
	c.Trace.Emitf(sim.LevelShort, p, "nemesis", "config: election-timeout-ms raised from %d to %d; primary R%d pauses for %d ticks",
		tickMs*e0, tickMs*e, p, t.pause)
	moved := func() bool { return run.viewMoved(active, view) >= 0 }
	c.Nodes[p].Pause()
	run.runChecked(moved, t.pause)
	c.Nodes[p].Unpause()
	run.runChecked(moved, t.heard)
	if run.safety() != "" {
		return ""
	}
	if b := run.viewMoved(active, view); b >= 0 {
		return fmt.Sprintf("replica R%d started a view change (view %d) with election-timeout-ms raised from %d to %d by "+
			"`cluster config set`: %s", b, c.Replica(b).TraceState().View, tickMs*e0, tickMs*e, t.raisedBreach(p, e))
	}

	// (b) Back to E0: the primary's stop is noticed within an E0 timeout.
	if reason := run.configSet(active, e0, false); reason != "" {
		return reason
	}
	c.Trace.Emitf(sim.LevelShort, p, "nemesis", "config: election-timeout-ms back to %d; primary R%d pauses", tickMs*e0, p)
	c.Nodes[p].Pause()
	started := run.runChecked(moved, t.noticed)
	c.Nodes[p].Unpause()
	if run.safety() != "" {
		return ""
	}
	if !started {
		return fmt.Sprintf("no backup started a view change within %d ticks of primary R%d's stop with election-timeout-ms set back "+
			"from %d to %d by `cluster config set` (a backup times out within %d ticks of the primary's last heartbeat): the change "+
			"is not in force on the running replicas", t.noticed, p, tickMs*e, tickMs*e0, driftUp(2*e0))
	}
	if !run.runChecked(run.converged, run.electionBudget(livenessTicks)) {
		return fmt.Sprintf("no convergence within %d ticks after primary R%d resumed from the config round's stop",
			run.electionBudget(livenessTicks), p)
	}
	if c.StandbyCount() > 0 {
		run.idleAfterRound() // a standby's lag counts the primary's stops
	}
	return ""
}

// bootTimeouts reads, as `cluster config get` does, the election timeout and heartbeat
// interval (in ticks) every active replica runs with; false if one does not answer or they
// differ.
func (run *swarmRun) bootTimeouts(active []int) (election, heartbeat int, ok bool) {
	elections, err1 := ConfigGet(run.c, KeyElectionTimeoutMs)
	heartbeats, err2 := ConfigGet(run.c, KeyHeartbeatIntervalMs)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	for _, i := range active {
		if i >= len(elections) || elections[i] <= 0 || heartbeats[i] <= 0 ||
			elections[i] != elections[active[0]] || heartbeats[i] != heartbeats[active[0]] {
			return 0, 0, false
		}
	}
	return elections[active[0]] / tickMs, heartbeats[active[0]] / tickMs, true
}

// configSet is the operator's `cluster config set election-timeout-ms`, to ticks, which must
// change every active replica.
func (run *swarmRun) configSet(active []int, ticks int, raised bool) string {
	c := run.c
	ms := strconv.Itoa(ticks * tickMs)
	changed, err := ConfigSet(c, KeyElectionTimeoutMs, ms)
	if err != nil {
		return fmt.Sprintf("cluster config set %s %s refused: %v", KeyElectionTimeoutMs, ms, err)
	}
	for _, i := range active {
		found := false
		for _, j := range changed {
			found = found || i == j
		}
		if !found {
			return fmt.Sprintf("cluster config set %s %s did not change running replica R%d (changed %v)",
				KeyElectionTimeoutMs, ms, i, changed)
		}
	}
	if run.knobs.afterConfigSet != nil {
		run.knobs.afterConfigSet(c, raised)
	}
	return ""
}

// viewMoved returns an active replica that has left the normal status of view, or -1.
func (run *swarmRun) viewMoved(active []int, view uint32) int {
	for _, i := range active {
		if rep := run.c.Replica(i); rep != nil {
			if s := rep.TraceState(); s.Status != vsr.StatusNormal || s.View != view {
				return i
			}
		}
	}
	return -1
}

// timeoutProbe times a primary's stop against an election timeout of e0 ticks (heartbeats
// every hb ticks, a message delivered within msg): every backup's timeout (e0 plus a jitter
// of up to e0, under the worst drift) runs out within driftUp(2*e0) ticks of its last reset,
// and a backup's last reset before the primary stops at T comes after T-hb-1 (the last
// heartbeat sent) and by T+msg (a heartbeat in flight).
//
//   - pause: a stop that outlasts every e0 timeout, from a reset at T+msg;
//   - heard: the time after the stop ends within which a heartbeat reaches every backup;
//   - leastRaised: the least raised timeout that still holds through the pause, the heard
//     time and a heartbeat's worth before T, under the worst drift, with two ticks to spare;
//   - noticed: the time after a stop at T within which a backup must start a view change
//     when the timeout is e0.
type timeoutProbe struct{ e0, hb, pause, heard, leastRaised, noticed int }

func newTimeoutProbe(e0, hb, msg int) timeoutProbe {
	t := timeoutProbe{e0: e0, hb: hb, pause: msg + driftUp(2*e0) + 1, heard: hb + msg + 2, noticed: msg + driftUp(2*e0) + 2}
	t.leastRaised = driftTicksAtLeast(t.pause + t.heard + hb + 3)
	return t
}

// raisedBreach explains a view change during the probe of a raised timeout of e ticks.
func (t timeoutProbe) raisedBreach(p, e int) string {
	return fmt.Sprintf("primary R%d stopped for %d ticks, at most %d ticks without a heartbeat reaching a backup, while a "+
		"timeout of %d ticks runs %d at least (the stop outlasts every timeout of the old value, %d ms): the change is not "+
		"in force on the running replicas", p, t.pause, t.pause+t.heard+t.hb+1, e, driftDown(e), tickMs*t.e0)
}

// driftUp is the most true ticks n ticks of a node's clock can take (its drift is at most
// sim.DriftPPMMax), and driftDown the fewest; driftTicksAtLeast is the least n whose
// driftDown(n) is at least ticks.
func driftUp(n int) int   { return n + n*sim.DriftPPMMax/1_000_000 + 1 }
func driftDown(n int) int { return n - n*sim.DriftPPMMax/1_000_000 - 1 }
func driftTicksAtLeast(ticks int) int {
	n := ticks
	for driftDown(n) < ticks {
		n++
	}
	return n
}

// configRoundState counts the config rounds run.
type configRoundState struct{ rounds uint64 }
