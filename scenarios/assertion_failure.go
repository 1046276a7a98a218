package scenarios

import (
	"fmt"

	"vopr/internal/assert"
	"vopr/sim"
)

// The assertion_failure scenario is the runbook's Scenario 5 (Assertion Failure). From the
// seed: 3 or 5 replicas, 1-3 clients running swarm's random key/value workload, the victim
// (the primary or a backup), when the fault is injected and how long the victim stays down.
//
// The replica exposes no API to corrupt its in-memory state, so "memory corruption" is
// modelled as a fault the harness injects and records: on the victim's node, Guard runs a
// panic of *assert.Failure whose message names the injected fault (injectedMessage). The
// node fail-stops exactly as it does on one of the replica's own assertions. DESIGN.md
// section 3 applies: a fail-stop explained by an injected fault beyond the fault model is
// expected; every other fail-stop (any other message, node, or time) is a correctness bug.
// This scenario therefore classifies failures itself (safety below) instead of using the
// swarm's safety, which treats every fail-stop as a bug.
//
//  1. Load runs; the victim is chosen from the current primary.
//  2. `debug dump-state`: the victim's last status before the fault goes into the counters.
//  3. The fault is injected: the victim fail-stops with Assertion=true, the node is crashed,
//     assertion_failures_total counts it, the P0 alert fires, and the other replicas keep
//     acknowledging writes.
//  4. Resolution: `storage verify` of the stopped replica, its backup (`storage export`,
//     taken while it is stopped, verified by Backup), `storage restore` from it, a clean
//     full verify, restart (recovering -> normal), catch-up and
//     convergence with the load stopped.
//
// Every invariant of the Suite runs throughout (and the durability check of prepare_oks).
// Outcome: Correctness on any violation, on an unexplained fail-stop, or on a runbook outcome
// that does not hold (no alert, a failed restore or verify); Liveness when writes stop with
// quorum available or the cluster does not converge.
func init() {
	register(Scenario{
		Name:    "assertion_failure",
		Runbook: "Scenario 5: Assertion Failure",
		Summary: "inject memory corruption on one replica: assertion fail-stop, assertion_failures_total and P0 alert; others keep serving; dump-state; verify, restore from verified backup, rejoin; any other assertion is a bug",
		Params:  func(seed uint64) string { return drawAssertionFailure(seed).String() },
		Run:     func(o Options) Result { return runAssertionFailure(o, assertionFailureKnobs{}) },
	})
}

// injectedMessage is the assertion message of the injected memory corruption.
const injectedMessage = "injected memory corruption: commit_number <= op_number"

type assertionFailureParams struct {
	Replicas, Clients int
	VictimPrimary     bool
	VictimOffset      int // a backup victim is primary+VictimOffset (mod replicas)
	LoadTicks         int // ticks of load before the backup
	FaultTicks        int // ticks of load between the victim's rejoin and the fault
	DownTicks         int // ticks the victim stays fail-stopped before the resolution
	DelayMean         sim.Duration
}

func drawAssertionFailure(seed uint64) assertionFailureParams {
	r := sim.Stream(seed, "assertion_failure")
	p := assertionFailureParams{Replicas: 3 + 2*r.IntN(2), Clients: 1 + r.IntN(3), VictimPrimary: r.IntN(2) == 0}
	p.VictimOffset = 1 + r.IntN(p.Replicas-1)
	p.LoadTicks = 100 + r.IntN(200)
	p.FaultTicks = 50 + r.IntN(200)
	p.DownTicks = 100 + r.IntN(200)
	p.DelayMean = sim.Duration(1+r.IntN(5)) * sim.Millisecond
	return p
}

func (p assertionFailureParams) String() string {
	victim := "backup"
	if p.VictimPrimary {
		victim = "primary"
	}
	return fmt.Sprintf("clients=%d down_ticks=%d fault_ticks=%d load_ticks=%d net.delay=%s replicas=%d victim=%s",
		p.Clients, p.DownTicks, p.FaultTicks, p.LoadTicks, p.DelayMean, p.Replicas, victim)
}

// assertionFailureKnobs change the procedure, for the tests that show the scenario is not
// vacuous.
type assertionFailureKnobs struct {
	// foreign, if set, is the message of a second assertion failure raised on another
	// replica right after the injection: it is not explained by the injection, so the run
	// must be a correctness failure.
	foreign string
	// skipInjection runs the procedure without the fault: the alert must then not fire.
	skipInjection bool
}

const (
	assertionFailureTicksDefault = 8000
	assertionFailurePhaseMax     = 2000
)

type assertionFailureRun struct {
	*runbookRun
	p      assertionFailureParams
	victim int
	// injected is the fail-stop the harness caused (nil before the injection).
	injected *sim.Failure
}

func runAssertionFailure(o Options, knobs assertionFailureKnobs) Result {
	p := drawAssertionFailure(o.Seed)
	run := &assertionFailureRun{p: p, victim: -1}
	run.runbookRun = newRunbookRun(o, p.Replicas, p.Clients, assertionFailureTicksDefault, assertionFailurePhaseMax,
		runbookWorld(p.DelayMean, sim.DiskOptions{}))
	run.explained = run.expected
	outcome, reason := run.finish(run.procedure(knobs))
	r := run.result(o, "assertion_failure", p.String(), outcome, reason, "view_change", "recovered", "repair",
		"state_sync")
	return r
}

// expected reports whether a fail-stop is the one the harness injected.
func (run *assertionFailureRun) expected(f sim.Failure) bool {
	in := run.injected
	return in != nil && f.Node == in.Node && f.At == in.At && f.Assertion && f.Message == in.Message
}

func (run *assertionFailureRun) procedure(knobs assertionFailureKnobs) (Outcome, string) {
	c, p := run.c, run.p
	// 1. Load; pick the victim.
	start := run.ticks
	if !run.until(func() bool { return run.ticks-start >= p.LoadTicks && run.acked > 0 }, p.LoadTicks+assertionFailurePhaseMax) {
		return run.fail(Liveness, "no request acknowledged before the fault")
	}
	if !run.until(func() bool { return ClusterStatus(c).Primary >= 0 }, assertionFailurePhaseMax) {
		return run.fail(Liveness, "no primary to pick the victim from")
	}
	primary := ClusterStatus(c).Primary
	run.victim = primary
	if !p.VictimPrimary {
		run.victim = (primary + p.VictimOffset) % p.Replicas
	}
	start = run.ticks
	run.until(func() bool { return run.ticks-start >= p.FaultTicks }, p.FaultTicks)
	if reason := run.safety(); reason != "" {
		return Correctness, reason
	}
	if s := ReplicaStatus(c, run.victim); !s.Healthy() {
		return run.fail(Liveness, "victim %d not healthy before the fault: %s", run.victim, s)
	}

	// 2. debug dump-state: the victim's last state before the fault.
	dump := ReplicaStatus(c, run.victim)
	run.counts["dump_state.view"], run.counts["dump_state.op"] = uint64(dump.View), dump.Op
	run.counts["dump_state.commit"], run.counts["dump_state.commit_min"] = dump.Commit, dump.CommitMin
	run.counts["dump_state.checkpoint_op"] = dump.CheckpointOp

	// 3. The fault: memory corruption trips the victim's assertion.
	ackedAtFault, down := run.acked, run.ticks
	if !knobs.skipInjection {
		if outcome, reason := run.inject(); outcome != Pass {
			return outcome, reason
		}
	}
	if knobs.foreign != "" {
		other := (run.victim + 1) % p.Replicas
		c.Nodes[other].Guard(func() { panic(&assert.Failure{Message: knobs.foreign}) })
		run.counts["fault.foreign_assertion"]++
	}
	run.until(func() bool { return run.ticks-down >= p.DownTicks }, p.DownTicks)
	if !run.until(func() bool { return run.acked > ackedAtFault }, assertionFailurePhaseMax) {
		return run.fail(Liveness, "no write acknowledged in %d ticks with replica %d fail-stopped and quorum available",
			run.ticks-down, run.victim)
	}
	run.counts["requests_acked_while_down"] = uint64(run.acked - ackedAtFault)
	if knobs.skipInjection {
		if run.mon.Fired(AlertAssertionFailure) {
			return Correctness, "alert " + AlertAssertionFailure + " fired without an assertion failure"
		}
		return Pass, ""
	}
	if !run.mon.Fired(AlertAssertionFailure) {
		return run.fail(Correctness, "alert %s (P0) did not fire after the assertion failure of replica %d",
			AlertAssertionFailure, run.victim)
	}
	if s := ClusterStatus(c); !s.QuorumAvailable {
		return run.fail(Liveness, "cluster status: quorum not available with one replica fail-stopped")
	}

	// 4. Resolution. The replica has been stopped since its fail-stop, so it acknowledged
	// nothing after its disk reached this state: its backup (the runbook's `storage export`,
	// taken before any recovery) is safe to restore. A backup taken before the fault, with
	// the replica running and voting between backup and restore, is not: restoring it rolls
	// the replica's view and log back (VSR amnesia; see operator.go on replica identity), and
	// the view_monotonic checker flags it.
	report, err := run.op.Verify(run.victim)
	if err == ErrTimeout {
		return run.fail(Liveness, "storage verify of the fail-stopped replica did not complete")
	}
	run.counts["verify.problems_after_fault"] = uint64(len(report.Problems))
	backup, err := run.op.Backup(run.victim)
	if err != nil {
		return run.fail(Correctness, "storage export of fail-stopped replica %d: %v", run.victim, err)
	}
	run.counts["backup.bytes"] = uint64(len(backup))
	if err := run.op.Restore(run.victim, backup); err != nil {
		return run.fail(Correctness, "storage restore: %v", err)
	}
	if report, err := run.op.Verify(run.victim); err != nil || !report.OK {
		return run.fail(Correctness, "verify after restore: err=%v problems=%v", err, report.Problems)
	}
	run.counts["restores"]++
	if outcome, reason := run.restartAndCatchUp("after restore"); outcome != Pass {
		return outcome, reason
	}
	run.load = false
	if !run.until(run.converged, assertionFailurePhaseMax) {
		return run.fail(Liveness, "no convergence after the victim rejoined")
	}
	return Pass, ""
}

// inject raises the injected assertion failure on the victim's node and checks the
// fail-stop: the node is crashed and its newest failure is a typed assertion failure with the
// injected message.
func (run *assertionFailureRun) inject() (Outcome, string) {
	c := run.c
	node := c.Nodes[run.victim]
	before := len(node.Failures())
	node.Guard(func() { panic(&assert.Failure{Message: injectedMessage}) })
	failures := node.Failures()
	if len(failures) != before+1 {
		return Correctness, fmt.Sprintf("injection on replica %d recorded %d failures, want 1", run.victim,
			len(failures)-before)
	}
	f := failures[len(failures)-1]
	if !f.Assertion || f.Message != injectedMessage {
		return Correctness, fmt.Sprintf("injection on replica %d recorded %+v", run.victim, f)
	}
	run.injected = &f
	run.counts["fault.injected_assertion"]++
	if node.Status() != sim.NodeCrashed {
		return Correctness, fmt.Sprintf("replica %d is %s after its assertion failure, want crashed", run.victim,
			node.Status())
	}
	run.inspect()
	if s := ReplicaStatus(c, run.victim); s.Status != StatusUnreachable {
		return Correctness, fmt.Sprintf("replica status after the assertion failure: %s", s)
	}
	return Pass, ""
}

func (run *assertionFailureRun) restartAndCatchUp(what string) (Outcome, string) {
	return run.runbookRun.restartAndCatchUp(run.victim, what, assertionFailurePhaseMax)
}
