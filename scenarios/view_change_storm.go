package scenarios

import (
	"fmt"

	"vopr/sim"
)

// The view_change_storm scenario is the runbook's Scenario 3 (View Change Storm). From the
// seed: 3 or 5 replicas, 1-3 clients running swarm's random key/value workload, the clock
// desync (every replica but one has its wall clock stepped by a distinct multiple of an
// offset of 1-3 s, so that no quorum of clocks agrees within vsr.ClockToleranceNs and every
// primary in turn stops timestamping and abdicates, cluster/vsr/clock_sync.go), whether the
// network's RTT is also raised above 100 ms (Network.SetDelay), and the load before the
// fault.
//
//  1. Load runs on a healthy cluster.
//  2. Fault: the clocks are desynchronised (and maybe the RTT raised). View changes repeat;
//     the alert ViewChangeStorm (increase(view_changes_total[30s]) > 10, metrics.go) must
//     fire within vcsStormBound.
//  3. Diagnosis: `replica clock-offset` (the node's offset from true time) shows a replica
//     beyond 500 ms.
//  4. Resolution, as the runbook: the clocks are resynchronised (Clock.SetOffset(0), chronyd
//     restarted), the network restored, and `cluster config set election-timeout-ms 2000`.
//     Before it the operator checks the command against the config rules
//     (checkElectionTimeoutRules): an election timeout within two heartbeats, or a heartbeat
//     of half the election timeout, is refused and changes nothing; one a tick above two
//     heartbeats is accepted.
//  5. Outcome: commits resume (a new write acknowledged) within vcsCommitBound of the fix,
//     and view changes stop: some window of vcsQuietWindow with no new view change on any
//     replica starts within vcsQuietBound of the fix; the alert resolves; with the load
//     stopped every replica converges.
//  6. The raised timeout is in force on the running replicas, not only read back: the
//     primary's process stops for longer than any election timeout of the old value can
//     run (with its jitter, under the worst drift, after a heartbeat in flight) and well
//     short of the new one; no replica may start a view change, through the stop and until
//     the resumed primary's heartbeats are back (timeoutProbe, swarm_config_round.go). Then
//     every replica converges.
//
// Every invariant of the Suite runs throughout (and the durability check of prepare_oks).
func init() {
	register(Scenario{
		Name:    "view_change_storm",
		Runbook: "Scenario 3: View Change Storm",
		Summary: "clock offsets > 500 ms (and maybe RTT > 100 ms) make view changes repeat; the view-change alert fires; resync clocks, restore network, election-timeout-ms=2000 => view changes stop, commits resume",
		Params:  func(seed uint64) string { return drawViewChangeStorm(seed).String() },
		Run:     func(o Options) Result { return runViewChangeStorm(o, viewChangeStormKnobs{}) },
	})
}

// Bounds the scenario asserts, in ticks of sim.TickInterval (10 ms).
const (
	vcsStormBound   = 3000 // the alert fires within 30 s of the fault
	vcsCommitBound  = 500  // a write is acknowledged within 5 s of the fix
	vcsQuietBound   = 1000 // a quiet window starts within 10 s of the fix
	vcsQuietWindow  = 1000 // 10 s without any new view change
	vcsResolveBound = 3500 // the storm alert resolves within 35 s of the fix
	vcsTicksDefault = 12000
)

type viewChangeStormParams struct {
	Replicas, Clients int
	OffsetMs          int  // the desync step: replica k (k>0 from the anchor) is off by ±k*OffsetMs
	Anchor            int  // the replica whose clock stays right
	SlowNetwork       bool // also raise the RTT above 100 ms
	OneWayMeanMs      int  // the raised one-way delay mean (RTT = 2x)
	LoadTicks         int
	DelayMean         sim.Duration
}

func drawViewChangeStorm(seed uint64) viewChangeStormParams {
	r := sim.Stream(seed, "view_change_storm")
	p := viewChangeStormParams{Replicas: 3 + 2*r.IntN(2), Clients: 1 + r.IntN(3)}
	p.OffsetMs = 1000 + r.IntN(2001)
	p.Anchor = r.IntN(p.Replicas)
	p.SlowNetwork = r.IntN(2) == 0
	p.OneWayMeanMs = 60 + r.IntN(90)
	p.LoadTicks = 100 + r.IntN(200)
	p.DelayMean = sim.Duration(1+r.IntN(3)) * sim.Millisecond
	return p
}

func (p viewChangeStormParams) String() string {
	rtt := "normal"
	if p.SlowNetwork {
		rtt = fmt.Sprintf("%dms", 2*p.OneWayMeanMs)
	}
	return fmt.Sprintf("anchor=%d clients=%d clock_offset=%dms load_ticks=%d net.delay=%s replicas=%d rtt=%s",
		p.Anchor, p.Clients, p.OffsetMs, p.LoadTicks, p.DelayMean, p.Replicas, rtt)
}

// offsetNs is the injected offset of replica i.
func (p viewChangeStormParams) offsetNs(i int) int64 {
	k := (i - p.Anchor + p.Replicas) % p.Replicas
	step := int64((k+1)/2) * int64(p.OffsetMs) * int64(sim.Millisecond)
	if k%2 == 1 {
		return step
	}
	return -step
}

// viewChangeStormKnobs change the procedure, for the tests that show the scenario is not
// vacuous.
type viewChangeStormKnobs struct {
	skipFix bool // the operator never applies the runbook's fix
	// oldTimeoutOnBackup: one backup's timers keep the old election timeout after the fix,
	// as if the change had not reached them.
	oldTimeoutOnBackup bool
}

// viewChanges is the cluster's view-change count: the sum of every replica's folded
// view_changes_total at the newest sample.
func (run *runbookRun) viewChanges() uint64 {
	samples := run.mon.Samples()
	if len(samples) == 0 {
		return 0
	}
	var n uint64
	for _, r := range samples[len(samples)-1].Replicas {
		n += r.ViewChangesTotal
	}
	return n
}

func runViewChangeStorm(o Options, knobs viewChangeStormKnobs) Result {
	p := drawViewChangeStorm(o.Seed)
	run := newRunbookRun(o, p.Replicas, p.Clients, vcsTicksDefault, 2000, runbookWorld(p.DelayMean, sim.DiskOptions{}))
	outcome, reason := run.finish(viewChangeStormProcedure(run, p, knobs))
	return run.result(o, "view_change_storm", p.String(), outcome, reason,
		"view_change", "repair", "truncate", "state_sync", "clock_unsynchronized")
}

func viewChangeStormProcedure(run *runbookRun, p viewChangeStormParams, knobs viewChangeStormKnobs) (Outcome, string) {
	c := run.c
	// 1. Load on a healthy cluster.
	if !run.until(func() bool { return run.ticks >= p.LoadTicks && run.acked > 0 }, p.LoadTicks+2000) {
		return run.fail(Liveness, "no request acknowledged before the fault")
	}
	if run.mon.Fired(AlertViewChangeStorm) {
		return run.fail(Correctness, "alert %s fired on a healthy cluster", AlertViewChangeStorm)
	}
	// 2. Fault: clock desync (and maybe a slow network).
	for i := 0; i < p.Replicas; i++ {
		if off := p.offsetNs(i); off != 0 {
			c.Nodes[i].Clock.SetOffset(off)
			run.counts["fault.clock_offset"]++
		}
	}
	if p.SlowNetwork {
		mean := sim.Duration(p.OneWayMeanMs) * sim.Millisecond
		c.Network.SetDelay(mean/2, mean)
		run.counts["fault.network_delay"]++
	}
	viewsAtFault, faultTick := run.viewChanges(), run.ticks
	if !run.until(func() bool { return run.mon.Firing(AlertViewChangeStorm) }, vcsStormBound) {
		return run.fail(Correctness, "alert %s did not fire within %d ticks of the fault (%d view changes)",
			AlertViewChangeStorm, vcsStormBound, run.viewChanges()-viewsAtFault)
	}
	run.counts["storm.ticks_to_alert"] = uint64(run.ticks - faultTick)
	// Let the storm rage a little longer, as it would before an operator gets to it.
	run.until(func() bool { return false }, 300)
	run.counts["storm.view_changes"] = run.viewChanges() - viewsAtFault

	// 3. Diagnosis: `cluster view-changes --since 10m` lists the storm, and `replica
	// clock-offset` finds a replica beyond 500 ms.
	views := run.op.ViewChanges(10 * 60 * sim.Second)
	if uint64(views.Started) < run.counts["storm.view_changes"] {
		return run.fail(Correctness, "cluster view-changes: %d started, the replicas counted %d since the fault",
			views.Started, run.counts["storm.view_changes"])
	}
	run.counts["diagnosis.view_changes_listed"] = uint64(views.Started)
	desynced := 0
	for i := 0; i < p.Replicas; i++ {
		if off, err := ReplicaClockOffset(c, i); err == nil && off.Desync {
			desynced++
		}
	}
	if desynced == 0 {
		return run.fail(Correctness, "replica clock-offset: no replica beyond 500 ms")
	}
	run.counts["diagnosis.clock_desync_replicas"] = uint64(desynced)

	if knobs.skipFix {
		// Without the fix the storm goes on: the alert must still be firing after the
		// window the fix is given.
		run.until(func() bool { return false }, vcsResolveBound)
		if run.mon.Firing(AlertViewChangeStorm) {
			return run.fail(Liveness, "fix skipped: alert %s still firing", AlertViewChangeStorm)
		}
		return Pass, ""
	}

	// 4. Resolution: resync clocks, restore the network, raise the election timeout.
	for i := 0; i < p.Replicas; i++ {
		c.Nodes[i].Clock.SetOffset(0)
	}
	if p.SlowNetwork {
		c.Network.SetDelay(sim.Millisecond/2, p.DelayMean)
	}
	// The value in force before the fix, which the fix must replace (step 6).
	old, err := ConfigGet(c, KeyElectionTimeoutMs)
	if err != nil {
		return run.fail(Correctness, "cluster config get election-timeout-ms: %v", err)
	}
	// Before relying on `cluster config set`, the operator holds it to the config rules:
	// settings they forbid are refused and change nothing, a legal one is taken.
	if problem := checkElectionTimeoutRules(simConfigCommands(c), p.Replicas); problem != "" {
		return run.fail(Correctness, "%s", problem)
	}
	run.counts["fix.config_rules_checked"]++
	changed, err := ConfigSet(c, KeyElectionTimeoutMs, "2000")
	if err != nil || len(changed) != p.Replicas {
		return run.fail(Correctness, "cluster config set election-timeout-ms 2000: changed %v, %v", changed, err)
	}
	if values, err := ConfigGet(c, KeyElectionTimeoutMs); err != nil || values[0] != 2000 {
		return run.fail(Correctness, "cluster config get election-timeout-ms: %v, %v", values, err)
	}
	run.counts["fix.applied"]++
	fixTick := run.ticks

	// 5. Commits resume within the bound.
	acked := run.acked
	if !run.until(func() bool { return run.acked > acked }, vcsCommitBound) {
		return run.fail(Liveness, "no write acknowledged within %d ticks of the fix", vcsCommitBound)
	}
	run.counts["fix.ticks_to_commit"] = uint64(run.ticks - fixTick)
	// View changes stop: a quiet window starts within the bound.
	quietFrom, quietViews := run.ticks, run.viewChanges()
	quiet := func() bool {
		if v := run.viewChanges(); v != quietViews {
			quietFrom, quietViews = run.ticks, v
		}
		return run.ticks-quietFrom >= vcsQuietWindow
	}
	if !run.until(quiet, vcsQuietBound+vcsQuietWindow) || quietFrom-fixTick > vcsQuietBound {
		return run.fail(Liveness, "view changes did not stop: no %d-tick quiet window starting within %d ticks of the fix (last view change at +%d)",
			vcsQuietWindow, vcsQuietBound, quietFrom-fixTick)
	}
	run.counts["fix.ticks_to_quiet"] = uint64(quietFrom - fixTick)
	if !run.until(func() bool { return !run.mon.Firing(AlertViewChangeStorm) }, vcsResolveBound-(run.ticks-fixTick)) {
		return run.fail(Liveness, "alert %s still firing %d ticks after the fix", AlertViewChangeStorm, run.ticks-fixTick)
	}
	if run.viewChanges() != quietViews {
		return run.fail(Liveness, "view changes resumed after the quiet window")
	}
	acked = run.acked
	if !run.until(func() bool { return run.acked > acked }, vcsCommitBound) {
		return run.fail(Liveness, "no write acknowledged after the quiet window")
	}
	run.load = false
	if !run.until(run.converged, 2000) {
		return run.fail(Liveness, "no convergence after the fix")
	}
	// 6. The raised timeout is in force: a stop of the primary shorter than it, and longer
	// than any old one, starts no election.
	if outcome, reason := vcsRaisedTimeoutHolds(run, p, old[0]/tickMs, 2000/tickMs, knobs); outcome != Pass {
		return outcome, reason
	}
	if !run.until(run.converged, 2000) {
		return run.fail(Liveness, "no convergence after the primary's stop")
	}
	return Pass, ""
}

// vcsRaisedTimeoutHolds stops the primary's process for a time every election timeout of
// e0 ticks (the value before the fix) runs out in, and well short of one of e ticks (the
// fix): no replica may start a view change until its heartbeats are back.
func vcsRaisedTimeoutHolds(run *runbookRun, p viewChangeStormParams, e0, e int, knobs viewChangeStormKnobs) (Outcome, string) {
	c := run.c
	hb, err := ConfigGet(c, KeyHeartbeatIntervalMs)
	primary := c.Primary()
	if err != nil || primary < 0 {
		return run.fail(Liveness, "no primary to stop after convergence (%v)", err)
	}
	t := newTimeoutProbe(e0, hb[primary]/tickMs, run.messageSlackTicks())
	if e0 <= 0 || e < t.leastRaised {
		run.counts["fix.in_force_untimed"]++ // no old value read, or a network too slow for the bound
		return Pass, ""
	}
	if knobs.oldTimeoutOnBackup {
		rep := c.Replica((primary + 1) % p.Replicas)
		cfg := rep.Config()
		cfg.ElectionTimeoutTicks = e0
		if err := rep.SetConfig(cfg); err != nil {
			panic("view_change_storm: knob: " + err.Error())
		}
	}
	active := make([]int, p.Replicas)
	for i := range active {
		active[i] = i
	}
	view := c.Replica(primary).TraceState().View
	moved := func() bool { return run.viewMoved(active, view) >= 0 }
	c.Trace.Emitf(sim.LevelShort, primary, "nemesis", "primary R%d pauses for %d ticks: the raised election timeout must hold",
		primary, t.pause)
	c.Nodes[primary].Pause()
	run.until(moved, t.pause)
	c.Nodes[primary].Unpause()
	run.until(moved, t.heard)
	if b := run.viewMoved(active, view); b >= 0 {
		return run.fail(Liveness, "replica R%d started a view change (view %d) after `cluster config set election-timeout-ms %d`: %s",
			b, c.Replica(b).TraceState().View, tickMs*e, t.raisedBreach(primary, e))
	}
	run.counts["fix.in_force_checked"]++
	return Pass, ""
}
