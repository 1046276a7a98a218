package scenarios

import (
	"fmt"

	"vopr/cluster/vsr"
	"vopr/faults"
	"vopr/sim"
)

// swarmPaths are the protocol paths the swarm's coverage reports, reached or not.
var swarmPaths = []string{"view_change", "recovered", "repair", "truncate", "nack_truncation", "state_sync",
	"checkpoint", "eviction", "clock_unsynchronized", "disk_full"}

// finish runs the liveness phase: the nemesis heals everything (every replica up, network
// whole, random faults off, clocks and disks restored); then new requests must commit and,
// with the load stopped, every replica must converge (normal status, same view, commit and
// digest) within the budget. Finally the end-of-run checkers run (linearizability).
func (run *swarmRun) finish(o Options, livenessTicks int) Result {
	c := run.c
	r := Result{Scenario: "swarm", Seed: o.Seed, Params: run.swarm.String()}
	if reason := run.safety(); reason != "" {
		return run.result(r, Correctness, reason)
	}
	run.nemesis.Heal(c)
	run.inspect()
	ackedBefore := run.acked
	progressed := run.runChecked(func() bool { return run.acked > ackedBefore }, livenessTicks/2)
	run.load = false
	converged := progressed && run.runChecked(run.converged, livenessTicks/2)
	if reason := run.safety(); reason != "" {
		return run.result(r, Correctness, reason)
	}
	if !converged {
		return run.result(r, Liveness, fmt.Sprintf("no convergence within %d ticks after heal (progressed=%t): %s",
			livenessTicks, progressed, run.describe()))
	}
	if v := run.suite.Finish(); v != nil {
		return run.result(r, Correctness, v.Error())
	}
	return run.result(r, Pass, "")
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
		run.c.RunFor(sim.TickInterval)
		run.inspect()
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
	for i := 0; i < run.c.ReplicaCount(); i++ {
		rep := run.c.Replica(i)
		if rep == nil {
			return false
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
	for i := 0; i < run.c.ReplicaCount(); i++ {
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

// result fills in the fingerprint and the counters: coverage of every fault kind and
// protocol path (zero when not reached, so a batch can list what it never reached), the
// nemesis's actions, and the workload.
func (run *swarmRun) result(r Result, outcome Outcome, reason string) Result {
	c := run.c
	r.Outcome, r.Reason = outcome, reason
	r.TraceHash, r.Events, r.SimTime, r.Trace = c.Trace.Hash(), c.Trace.Count(), c.Loop.Now(), c.Trace
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
	return r
}
