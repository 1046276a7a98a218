package scenarios

import (
	"fmt"

	"vopr/cluster/vsr"
	"vopr/faults"
	"vopr/sim"
)

// swarmPaths are the protocol paths the swarm's coverage reports, reached or not.
var swarmPaths = []string{"view_change", "recovered", "repair", "truncate", "nack_truncation", "state_sync",
	"checkpoint", "eviction", "clock_unsynchronized", "disk_full", "upgrade",
	"standby_new_view", "standby_repair", "standby_state_sync", "standby_recovered", "standby_read",
	"failover", "reconfig_add_replica", "reconfig_remove_replica", "reconfig_replace", "reconfig_add_standby",
	"reconfig_remove_standby", "reply_cut", "reply_cut.primary_crash", "reconfig_twice"}

// finish runs the liveness phase: the nemesis heals everything (every replica up, network
// whole, random faults off, clocks and disks restored); then every client must have a request
// sent after the heal answered with a reply, and none given up on (swarm_clients.go), and,
// with the load stopped, every replica must converge (normal status, same view, commit and
// digest) within the budget, and then the runbook's P0/P1 alerts must clear and stay clear
// (swarmAlerts). Finally the end-of-run checkers run (linearizability); correctness failures
// take precedence over liveness ones.
func (run *swarmRun) finish(o Options, livenessTicks int) Result {
	c := run.c
	r := Result{Scenario: "swarm", Seed: o.Seed, Params: run.swarm.String()}
	if reason := run.safety(); reason != "" {
		return run.result(r, Correctness, reason)
	}
	run.nemesis.Heal(c)
	run.restoreMembership()
	if reason := run.safety(); reason != "" {
		return run.result(r, Correctness, reason)
	}
	if epoch, _ := c.Configuration(); run.reconfig != nil && epoch > 0 {
		// The alert monitor samples the formatted slots: a removed replica looks down.
		run.alerts.unsampled = true
	}
	run.leaveLastingFault(o.Seed, livenessTicks)
	if run.swarm.Failover {
		if reason := run.failover(o.Seed); reason != "" {
			return run.result(r, Correctness, reason)
		}
	}
	run.clients.heal(c.Loop.Now())
	run.drawReplyCut(o.Seed, livenessTicks)
	run.inspect()
	run.alerts.heal()
	progressed, converged := run.serveAndConverge(livenessTicks)
	run.healConverged = converged // the reply cut's primary crash is over by then (swarm_reply_loss.go)
	if converged && (run.lasting == lastingDown || run.lasting == lastingBehind) {
		run.runChecked(run.logsWritten, livenessTicks/4) // a backlog written first (swarm_lasting.go)
	}
	if converged && run.takeLastingDown() {
		progressed, converged = run.serveAndConverge(livenessTicks) // without it
		if converged && run.endLastingDown() {
			converged = run.runChecked(run.converged, livenessTicks/2) // and it catches up
		}
	}
	if converged && run.takeBehind() {
		progressed, converged = run.behind(livenessTicks)
	}
	if converged && run.takeRemoved() {
		progressed, converged = run.removedRound(livenessTicks)
	}
	if converged && run.takePause() {
		progressed, converged = run.pauseRound(livenessTicks)
	}
	if converged {
		run.holdAlerts()
		if run.viewDrift == "" {
			run.roundFailure = run.isolationRounds(o.Seed, livenessTicks)
		}
		if run.viewDrift == "" && run.roundFailure == "" {
			run.roundFailure = run.deposedRound(o.Seed, livenessTicks)
		}
		if run.viewDrift == "" && run.roundFailure == "" {
			run.roundFailure = run.blipRound(o.Seed, livenessTicks)
		}
		if run.viewDrift == "" && run.roundFailure == "" {
			run.roundFailure = run.upgradeCutRound(livenessTicks)
		}
		if run.viewDrift == "" && run.roundFailure == "" {
			run.roundFailure = run.voteCutRound(o.Seed, livenessTicks)
		}
		if run.viewDrift == "" && run.roundFailure == "" {
			run.roundFailure = run.lossyRound(o.Seed, livenessTicks)
		}
		if run.viewDrift == "" && run.roundFailure == "" {
			run.roundFailure = run.configRound(o.Seed, livenessTicks)
		}
		if run.viewDrift == "" && run.roundFailure == "" {
			run.roundFailure = run.clientConfigRound(o.Seed, livenessTicks)
		}
		if run.viewDrift == "" && run.roundFailure == "" {
			run.roundFailure = run.catchUpRound(o.Seed, livenessTicks)
		}
		if run.viewDrift == "" && run.roundFailure == "" {
			run.roundFailure = run.lostSyncRound(o.Seed, livenessTicks)
		}
		if run.viewDrift == "" && run.roundFailure == "" {
			run.roundFailure = run.rejoinRound(o.Seed, livenessTicks)
		}
		if run.viewDrift == "" && run.roundFailure == "" {
			run.roundFailure = run.suffixRound(o.Seed, livenessTicks)
		}
		if run.viewDrift == "" && run.roundFailure == "" {
			run.roundFailure = run.restartRound(o.Seed, livenessTicks)
		}
		if run.viewDrift == "" && run.roundFailure == "" {
			run.roundFailure = run.repairPeerRound(o.Seed, livenessTicks)
		}
		if run.viewDrift == "" && run.roundFailure == "" {
			run.roundFailure = run.slowElectionRound(o.Seed, livenessTicks)
		}
		if run.viewDrift == "" && run.roundFailure == "" {
			run.roundFailure = run.trafficRound(livenessTicks)
		}
		if run.viewDrift == "" && run.roundFailure == "" {
			run.roundFailure = run.checkpointCrashRound(o.Seed, livenessTicks)
		}
		if run.viewDrift == "" && run.roundFailure == "" {
			run.roundFailure = run.epochRejoinRound(o.Seed, livenessTicks)
		}
		if run.viewDrift == "" && run.roundFailure == "" {
			run.roundFailure = run.cutCatchUpRound(o.Seed, livenessTicks)
		}
		if run.viewDrift == "" && run.roundFailure == "" {
			run.roundFailure = run.stuckBackupRound(o.Seed, livenessTicks)
		}
		if run.viewDrift == "" && run.roundFailure == "" {
			run.roundFailure = run.windowEdgeRound(o.Seed, livenessTicks)
		}
	}
	if reason := run.safety(); reason != "" {
		return run.result(r, Correctness, reason)
	}
	if run.clients.starved != "" {
		return run.result(r, Liveness, run.clients.starved+": "+run.describe())
	}
	if !progressed {
		if unserved := run.clients.unserved(); unserved != "" {
			return run.result(r, Liveness, unserved+": "+run.describe())
		}
	}
	if !converged && run.livenessReason != "" {
		return run.result(r, Liveness, run.livenessReason+": "+run.describe())
	}
	if !converged {
		return run.result(r, Liveness, fmt.Sprintf("no convergence within %d ticks after heal (progressed=%t): %s",
			livenessTicks, progressed, run.describe()))
	}
	if run.knobs.beforeFinish != nil {
		run.knobs.beforeFinish(run.suite.History())
	}
	if v := run.suite.Finish(); v != nil {
		return run.result(r, Correctness, v.Error())
	}
	if reason := run.alerts.unhealthy(); reason != "" {
		return run.result(r, Liveness, reason+": "+run.describe())
	}
	if run.viewDrift != "" {
		return run.result(r, Liveness, run.viewDrift+": "+run.describe())
	}
	if run.roundFailure != "" {
		return run.result(r, Liveness, run.roundFailure+": "+run.describe())
	}
	if reason := run.standbysCurrent(); reason != "" {
		return run.result(r, Liveness, reason+": "+run.describe())
	}
	if run.clients.starved != "" { // a request given up on during the alert hold
		return run.result(r, Liveness, run.clients.starved+": "+run.describe())
	}
	if reason := run.removedVerdict(); reason != "" {
		return run.result(r, Liveness, reason+": "+run.describe())
	}
	if run.traffic.forwardAgain != "" {
		return run.result(r, Liveness, run.traffic.forwardAgain)
	}
	return run.result(r, Pass, "")
}

// holdAlerts runs the converged, idle cluster for alertSettle+alertHold, during which the
// alert check of swarmAlerts applies.
func (run *swarmRun) holdAlerts() {
	run.alerts.converged(run.c.Loop.Now())
	if run.knobs.afterConverged != nil {
		run.knobs.afterConverged(run.c)
	}
	view := run.viewsAt()
	clocks, agree := run.clockHoldAt(view) // swarm_clock_verdict.go
	run.runChecked(func() bool { return false }, int((alertSettle+alertHold)/sim.TickInterval))
	run.checkPersistedCommits() // persisted_commit.go: idle, every superblock write landed
	run.viewDrift = run.viewHeld(view)
	run.checkClockVerdicts(clocks, agree)
}

// standbysCurrent checks what each standby reports of its own lag once the converged cluster
// has been held idle (holdAlerts): a standby that has executed every committed op is current
// whatever the wall clock says, so it must report a lag within the runbook's bound and be
// eligible for promotion. A lag that keeps growing on an idle cluster would have a DR failover
// refuse the one standby that holds everything (runbook scenario 4: "standby replicas marked
// ineligible"). The harness knows the truth from the converged states, not from the
// standby's own bookkeeping. It returns "" when every standby is current.
func (run *swarmRun) standbysCurrent() string {
	var commit uint64
	for i := 0; i < run.c.MemberCount(); i++ {
		if rep := run.c.Replica(i); rep != nil && run.c.IsMember(i) && !run.gone[i] {
			commit = max(commit, rep.Inspect().CommitMax)
		}
	}
	for i := 0; i < run.c.MemberCount(); i++ {
		rep := run.c.Replica(i)
		if rep == nil || run.gone[i] || !run.c.IsMember(i) {
			continue
		}
		in := rep.Inspect()
		if in.Role != vsr.RoleStandby || in.Status != vsr.StatusNormal || in.CommitMin < commit {
			continue
		}
		if in.StandbyLagNs > vsr.StandbyLagMaxNs || !in.StandbyEligible {
			return fmt.Sprintf("standby R%d executed every committed op (%d) but reports a lag of %s (known=%t, eligible=%t) "+
				"after %s idle", i, in.CommitMin, sim.Duration(in.StandbyLagNs), in.StandbyLagKnown, in.StandbyEligible,
				sim.Duration(alertSettle+alertHold))
		}
	}
	return ""
}

// roundCluster returns the active replicas and the primary of the healed cluster, and whether
// a round after the alert hold may take it apart: the swarm's alerts run, no lasting clock
// fault or failover, at least minActive active replicas, every one up, a primary, the
// default liveness budget, and the cluster converged.
func (run *swarmRun) roundCluster(livenessTicks, minActive int) (active []int, p int, ok bool) {
	c := run.c
	active, _ = c.Members()
	p = c.Primary()
	if run.alerts == nil || run.lasting == lastingClock || run.swarm.Failover || len(active) < minActive || p < 0 ||
		livenessTicks < swarmLivenessTicksDefault || !run.converged() {
		return nil, -1, false
	}
	for _, i := range active {
		if c.Replica(i) == nil {
			return nil, -1, false
		}
	}
	return active, p, true
}

// electionBudget is what a round gives a view change and the service after it: half the
// liveness budget, or one and a half where the disks are slow (a new primary may rewrite its
// log on a slow disk).
func (run *swarmRun) electionBudget(livenessTicks int) int {
	if run.alerts.slowDisks {
		return 3 * livenessTicks / 2
	}
	return livenessTicks / 2
}

// convergedAfterRound ends a round: the cluster must converge within half the liveness
// budget, and with standbys an idle time follows (idleAfterRound). "" or the failure, which
// names what came before ("after ...").
func (run *swarmRun) convergedAfterRound(after string, livenessTicks int) string {
	if !run.runChecked(run.converged, livenessTicks/2) {
		return fmt.Sprintf("no convergence within %d ticks after %s", livenessTicks/2, after)
	}
	if run.c.StandbyCount() > 0 {
		run.idleAfterRound() // the end-of-run check reads each standby's lag after an idle time
	}
	return ""
}

// idleAfterRound ends a round that disturbed the cluster with the idle time of the alert hold:
// the end-of-run standby check (standbysCurrent) judges each standby's lag after that long
// idle, and a standby's lag counts the time it did not hear the primary.
func (run *swarmRun) idleAfterRound() {
	run.runChecked(func() bool { return false }, int((alertSettle+alertHold)/sim.TickInterval))
	run.checkPersistedCommits() // persisted_commit.go: idle, every superblock write landed
}

// runChecked runs tick by tick, inspecting every replica, until done, a violation, or the
// budget.
func (run *swarmRun) runChecked(done func() bool, ticksMax int) bool {
	for i := 0; i < ticksMax; i++ {
		if run.safety() != "" {
			return false
		}
		if done() {
			return true
		}
		run.exact.observe(run.c) // the lasting faults change clocks between ticks
		run.c.RunFor(sim.TickInterval)
		run.inspect()
		if !run.alertsClosed {
			run.alerts.observe()
		}
	}
	return done()
}

// safety returns the first correctness failure: a checker's violation or a replica's
// fail-stop (its own assertion, or a panic).
func (run *swarmRun) safety() string {
	if v := run.suite.Violation(); v != nil {
		return v.Error()
	}
	if run.durability != "" {
		return "durability: " + run.durability
	}
	if run.broken != "" {
		return run.broken
	}
	explained := false
	for _, f := range run.c.Failures() {
		if !explained && run.explained != nil && run.explained(f) {
			explained = true // the one fail-stop the harness injected on purpose
			continue
		}
		reason := fmt.Sprintf("replica %d fail-stopped at %s (assertion=%t): %s", f.Node, f.At, f.Assertion, f.Message)
		if run.explained != nil {
			reason += " (not explained by the injected fault)"
		}
		return reason
	}
	return ""
}

func (run *swarmRun) converged() bool {
	var first *vsr.Inspection
	for i := 0; i < run.c.MemberCount(); i++ { // standbys catch up too
		if run.gone[i] || i == run.lastingDownReplica() || run.deposed.keeps(i) || run.voteCut.keeps(i) {
			continue // lost with its region in a failover, or kept down (swarm_lasting.go)
		}
		rep := run.c.Replica(i)
		if rep == nil {
			return false
		}
		if !run.c.IsMember(i) {
			continue // removed (stopped), or a slot still outside (silent)
		}
		in := rep.Inspect()
		if in.Status != vsr.StatusNormal || in.CommitMin != in.CommitMax {
			return false
		}
		if first == nil {
			first = &in
		} else if in.CommitMin != first.CommitMin || in.Digest != first.Digest || in.View != first.View {
			return false
		}
	}
	return true
}

func (run *swarmRun) describe() string {
	s := ""
	for i := 0; i < run.c.MemberCount(); i++ {
		if run.gone[i] {
			s += fmt.Sprintf("[R%d gone] ", i)
			continue
		}
		rep := run.c.Replica(i)
		if rep == nil {
			s += fmt.Sprintf("[R%d down] ", i)
			continue
		}
		in := rep.Inspect()
		s += fmt.Sprintf("[R%d %s %s v%d op=%d commit=%d/%d ckpt=%d digest=%04x] ", i, in.Status, in.Role, in.View, in.Op,
			in.CommitMin, in.CommitMax, in.CheckpointOp, in.Digest.Low64()&0xffff)
	}
	return s
}

// result fills in the fingerprint and the counters: coverage of every fault kind, protocol
// path and mark (zero when not reached, so a batch can list what it never reached), the
// nemesis's actions, and the workload.
// serveAndConverge runs the liveness phase's two tests: every client served (under load),
// then, the load stopped, every replica converged.
func (run *swarmRun) serveAndConverge(livenessTicks int) (progressed, converged bool) {
	progressed = run.runChecked(func() bool { return run.clients.allAnswered() || run.clients.starved != "" },
		run.lastingServeTicks(livenessTicks))
	progressed = progressed && run.clients.starved == ""
	run.load = false
	converged = progressed && run.runChecked(run.converged, livenessTicks/2)
	return progressed, converged
}

func (run *swarmRun) result(r Result, outcome Outcome, reason string) Result {
	c := run.c
	r.Outcome, r.Reason = outcome, reason
	r.TraceHash, r.Events, r.SimTime, r.Trace = c.Trace.Hash(), c.Trace.Count(), c.Loop.Now(), c.Trace.Detach()
	r.Counters = map[string]uint64{"requests_acked": uint64(run.acked), "replica.restarts": c.Restarts(),
		"node.fail_stops": uint64(len(c.Failures()))}
	for kind, n := range faults.KindHits(run.swarm, c, run.nemesis) {
		r.Counters["coverage.fault."+string(kind)] = n
	}
	for _, path := range swarmPaths {
		r.Counters["coverage.path."+path] = run.paths[path]
	}
	for action, n := range run.nemesis.Counts() {
		r.Counters["nemesis."+action] = n
	}
	run.nemesis.Marks().Report(r.Counters)
	if run.swarm.Failover {
		r.Counters["failover.lost_acked_ops"] = run.failoverLost
		if run.failoverSkipped {
			r.Counters["failover.skipped"]++
		}
		run.lastChange.counters(r.Counters)
	}
	run.lastingCounters(r.Counters)
	if run.alerts != nil { // the swarm's isolation rounds
		run.isolation.counters(r.Counters)
		r.Counters["coverage.mark.deposed.round"] += run.deposed.rounds
		r.Counters["coverage.mark.blip.round"] += run.blip.rounds
		r.Counters["coverage.mark.upgrade_cut.round"] += run.upgradeCut.rounds
		r.Counters["coverage.mark.upgrade_cut.returned"] += run.upgradeCut.returned
		r.Counters["coverage.mark.vote_cut.round"] += run.voteCut.rounds
		r.Counters["coverage.mark.lossy.round"] += run.lossy.rounds
		r.Counters["coverage.mark.config.round"] += run.config.rounds
		run.clientConfig.counters(r.Counters)
		run.catchUp.counters(r.Counters)
		run.cutCatchUp.counters(r.Counters)
		run.windowEdge.counters(r.Counters)
		r.Counters["coverage.mark.stuck_backup.round"] += run.stuckBackup.rounds
		r.Counters["coverage.mark.stuck_backup.judged"] += run.stuckBackup.judged
		run.lostSync.counters(r.Counters)
		run.rejoin.counters(r.Counters)
		run.restart.counters(r.Counters)
		run.suffix.counts.report(r.Counters)
		run.repairPeer.counters(r.Counters)
		run.slowElection.counters(r.Counters)
		run.traffic.counters(r.Counters)
		run.checkpointCrash.counters(r.Counters)
		run.epochRejoin.counters(r.Counters)
	}
	run.storage.counters(c, r.Counters)
	run.work.counters(r.Counters)
	if run.alerts != nil { // the swarm's, not a runbook scenario's
		run.alerts.mon.Counters(r.Counters)
		run.operator.counters(r.Counters)
	}
	return r
}

// Health in alert terms: the runbook's alert rules (metrics.go) run over the whole swarm run,
// sampled every 100 ms of simulated time, and their firings are the Result's alert.*
// counters. The fault phase may raise any alert (that is what the faults are for); a healthy
// cluster is one that raises no P0 or P1 alert once it has recovered:
//
//   - (a) Once the healed cluster has converged (at time T), every P0/P1 alert must be
//     resolved by T+alertSettle and stay resolved until the end of the run,
//     T+alertSettle+alertHold, with the load stopped (the liveness phase has already shown
//     that requests commit; the hold watches the recovered cluster). alertSettle is one
//     `for` (DefaultFor): every P0/P1 condition but the view-change rate reads the newest
//     sample only, so it clears at the first sample after convergence (six seeds of 1..100
//     still show replication lag at convergence, from the sample before it); alertHold is
//     two `for` durations, long enough for a condition that comes back to fire.
//   - (b) A run whose swarm draws no fault kind at all raises no P0/P1 alert at any time.
//
// The view-change storm rule counts view changes over a 30 s window (ViewChangeWindow),
// about as long as the fault phase, so with the rule as written the nemesis's view changes
// would keep it firing for up to 30 s after the heal however healthy the cluster is: waiting
// that out would double each run. So (a) evaluates the P0/P1 rules again over the samples
// from the heal on (the last sample before it included, so no view change after the heal is
// missed), in a second Monitor: the storm's window is then clipped at the heal and counts
// only view changes the healed cluster made by itself, which is what "the storm has
// stopped" means. The other rules see the same samples and give the same verdict there,
// since their `for` (at most DefaultFor) is no longer than alertSettle. (b) uses the whole
// run's Monitor, unclipped. Over seeds 1..100 the unclipped rule would still be firing at
// the end of the hold for seeds 10, 29 and 35, from fault-phase view changes only, while no
// replica made more than one view change after the heal.
const (
	alertSettle = DefaultFor
	alertHold   = 2 * DefaultFor
)

// swarmAlerts is the swarm's Monitor and the check of health after heal.
type swarmAlerts struct {
	mon *Monitor // the whole run
	// postHeal re-evaluates the P0/P1 rules over the samples from the heal on (it only
	// receives samples, through Add: it has no cluster).
	postHeal  *Monitor
	faultFree bool // the swarm drew no fault kind: (b) applies
	// longPause: the nemesis's long pause stops a replica for up to 40 s even where the
	// swarm drew no fault kind, and the resumed replica's lag may fire the replication-lag
	// alert at once (swarm seed 2047000373: r0 resumed 29.8 s behind). Such a run is not
	// fault-free, so (b) does not apply; (a), after the heal, still does. faultFree itself
	// stays as drawn: moves draw on it, and their traces must not change.
	longPause bool
	// slowDisks: the swarm drew high disk latency, a setting the heal keeps (it is the
	// disks the cluster runs on, not a fault the nemesis injected); (a) then leaves out the
	// replication-lag rule, which such disks trip legitimately (a checkpoint's writes at a
	// 100 ms mean latency hold a backup more than a second behind; swarm seed 2068).
	slowDisks   bool
	unsampled   bool // a failover or a reconfiguration left the configuration the monitor samples: no alert checks
	convergedAt sim.Time
	isConverged bool
	violation   string // the first breach of (a)
}

func newSwarmAlerts(c *sim.Cluster, faultFree, slowDisks bool) *swarmAlerts {
	return &swarmAlerts{mon: NewMonitor(c), faultFree: faultFree, slowDisks: slowDisks}
}

// observe samples the metrics when an interval has passed, and after the heal evaluates
// the new sample again for (a).
func (a *swarmAlerts) observe() {
	if a == nil {
		return
	}
	n := len(a.mon.Samples())
	a.mon.Observe()
	if len(a.mon.Samples()) > n {
		a.sampled(a.mon.Samples()[n])
	}
}

// sampled evaluates a sample the whole run's Monitor has just taken again for (a).
func (a *swarmAlerts) sampled(s Sample) {
	if a.postHeal == nil || a.unsampled {
		return
	}
	a.postHeal.Add(s)
	if a.violation == "" && a.isConverged && s.At >= a.convergedAt+sim.Time(alertSettle) {
		a.violation = a.firing(s.At)
	}
}

// heal starts the post-heal evaluation with the last sample taken before the heal.
func (a *swarmAlerts) heal() {
	var rules []AlertRule
	for _, rule := range RunbookAlerts() {
		if rule.Severity <= P1 && !(a.slowDisks && rule.Name == AlertReplicationLag) {
			rules = append(rules, rule)
		}
	}
	a.postHeal = &Monitor{Interval: a.mon.Interval, Rules: rules, pendingSince: map[string]sim.Time{},
		firing: map[string]bool{}}
	if samples := a.mon.Samples(); len(samples) > 0 {
		a.postHeal.Add(samples[len(samples)-1])
	}
}

// converged records when the healed cluster converged: alertSettle from then on, (a) holds.
func (a *swarmAlerts) converged(at sim.Time) {
	a.convergedAt, a.isConverged = at, true
}

// firing names the first P0/P1 alert (in rule order) firing after the heal, if any.
func (a *swarmAlerts) firing(at sim.Time) string {
	for _, rule := range a.postHeal.Rules {
		if !a.postHeal.Firing(rule.Name) {
			continue
		}
		var last AlertEvent
		for _, e := range a.postHeal.Events() {
			if e.Rule == rule.Name && !e.Resolved {
				last = e
			}
		}
		return fmt.Sprintf("%s alert %s (%s) firing at %s, at least %s after the cluster converged at %s "+
			"(fired at %s, value %g, replica %d)", rule.Severity, rule.Name, rule.Expr, at, alertSettle,
			a.convergedAt, last.At, last.Value, last.Replica)
	}
	return ""
}

// unhealthy returns why the run was not healthy in alert terms, or "".
func (a *swarmAlerts) unhealthy() string {
	if a.unsampled {
		return ""
	}
	if a.violation != "" {
		return a.violation
	}
	if fired := a.mon.FiredAtOrAbove(P1); a.faultFree && !a.longPause && len(fired) > 0 {
		return fmt.Sprintf("alert in a swarm without faults: %s", fired[0])
	}
	return ""
}

// others returns the replicas of active but p (the backups, when p is the primary), in slot
// order.
func others(active []int, p int) []int {
	var rest []int
	for _, i := range active {
		if i != p {
			rest = append(rest, i)
		}
	}
	return rest
}
