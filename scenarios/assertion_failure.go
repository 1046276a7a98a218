package scenarios

import (
	"encoding/json"
	"errors"
	"fmt"

	"vopr/cluster/vsr"
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
//  2. `debug dump-state` (DebugDumpState) of the victim while it still runs: the JSON must
//     carry the view, op and commit its `replica status` shows; they go into the counters.
//  3. The fault is injected: the victim fail-stops with Assertion=true, the node is crashed,
//     assertion_failures_total counts it, the P0 alert fires, and the other replicas keep
//     acknowledging writes. The runbook's diagnosis on the dead replica: `replica isolate
//     --reason assertion-failure` and the online `storage export` answer unreachable (moot
//     for a process that is gone, see diagnoseFailStopped), `debug dump-state` reports the
//     crashed node alone, and the export is taken offline from its disk (verified by
//     Backup).
//  4. Resolution: `cluster reconfig remove-replica` of the failed replica, `storage verify`
//     of it, `storage restore` from the export and a clean full verify; restarted on the
//     restored disk it stops, saying it was removed; its disk is replaced and formatted to
//     join, `cluster reconfig add-replica`, and it state-syncs and catches up under load;
//     every replica converges with the load stopped.
//
// Every invariant of the Suite runs throughout (and the durability check of prepare_oks).
// Outcome: Correctness on any violation, on an unexplained fail-stop, or on a runbook outcome
// that does not hold (no alert, a failed restore or verify); Liveness when writes stop with
// quorum available or the cluster does not converge.
func init() {
	register(Scenario{
		Name:    "assertion_failure",
		Runbook: "Scenario 5: Assertion Failure",
		Summary: "inject memory corruption on one replica: assertion fail-stop, assertion_failures_total and P0 alert; others keep serving; dump-state; remove-replica, verify, restore from verified backup, add-replica on a new disk, state sync; any other assertion is a bug",
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
	// skipRemove: the resolution never runs `cluster reconfig remove-replica`; skipAdd: it
	// never adds the replica back.
	skipRemove, skipAdd bool
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
	// held is what the stopped victim's disk held when its export was taken: the restore
	// from it must bring it all back (export_complete.go).
	held []heldCopy
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
	if outcome, reason := run.loadAndPickVictim(); outcome != Pass {
		return outcome, reason
	}
	// 2. debug dump-state: the victim's last state before the fault.
	if outcome, reason := run.dumpState(); outcome != Pass {
		return outcome, reason
	}

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
	backup, outcome, reason := run.diagnoseFailStopped()
	if outcome != Pass {
		return outcome, reason
	}
	return run.resolve(backup, knobs)
}

// loadAndPickVictim is step 1: load runs, the victim is picked from the current primary,
// and the load goes on for FaultTicks with the victim healthy.
func (run *assertionFailureRun) loadAndPickVictim() (Outcome, string) {
	c, p := run.c, run.p
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
	return Pass, ""
}

// resolve is step 4, the runbook's resolution: `cluster reconfig remove-replica` (the
// cluster goes on in a configuration without the victim), `storage verify` of the stopped
// replica, `storage restore` from the export and a clean full verify, then the rejoin.
//
// The export is safe to restore: the replica has been stopped since its fail-stop, so it
// acknowledged nothing after its disk reached this state. (A backup taken before the fault,
// with the replica running and voting between backup and restore, is not: restoring it
// rolls the replica's view and log back, VSR amnesia, see operator.go on replica identity,
// and the view_monotonic checker flags it.)
//
// The rejoin: restarted on its restored disk, the replica learns it was removed and stops,
// saying so (removedStops); the operator then does what it says, formats a disk to join
// (the suspect hardware replaced) and runs `cluster reconfig add-replica`; it state-syncs
// and catches up under load, and every replica converges.
func (run *assertionFailureRun) resolve(export []byte, knobs assertionFailureKnobs) (Outcome, string) {
	const what = "assertion failure resolution"
	if !knobs.skipRemove {
		if outcome, reason := run.removeReplica(run.victim, what); outcome != Pass {
			return outcome, reason
		}
	}
	report, err := run.op.Verify(run.victim)
	if err == ErrTimeout {
		return run.fail(Liveness, "storage verify of the fail-stopped replica did not complete")
	}
	run.counts["verify.problems_after_fault"] = uint64(len(report.Problems))
	if err := run.op.Restore(run.victim, export); err != nil {
		return run.fail(Correctness, "storage restore: %v", err)
	}
	if problem := run.checkRestoredComplete(run.victim, run.held); problem != "" {
		return run.fail(Correctness, "storage restore of replica %d from its export: %s", run.victim, problem)
	}
	run.counts["restore.held_ops"] = uint64(len(run.held))
	if report, err := run.op.Verify(run.victim); err != nil || !report.OK {
		return run.fail(Correctness, "verify after restore: err=%v problems=%v", err, report.Problems)
	}
	run.counts["restores"]++
	if outcome, reason := run.removedStops(); outcome != Pass {
		return outcome, reason
	}
	if outcome, reason := run.replaceHardware(run.victim, what); outcome != Pass {
		return outcome, reason
	}
	if !knobs.skipAdd {
		if outcome, reason := run.addReplicaAndSync(run.victim, what, assertionFailurePhaseMax); outcome != Pass {
			return outcome, reason
		}
		run.counts["resolution.removed_and_added"]++
	}
	run.load = false
	// Converged, with the victim back as a member (converged counts members alone).
	if !run.until(func() bool { return run.c.IsMember(run.victim) && run.converged() }, assertionFailurePhaseMax) {
		return run.fail(Liveness, "no convergence with the victim a member again (add-replica skipped=%t)", knobs.skipAdd)
	}
	return Pass, ""
}

// removedStops restarts the victim on its restored disk: outside the configuration, it must
// stop and say it was removed, and never take part again as it was.
func (run *assertionFailureRun) removedStops() (Outcome, string) {
	c := run.c
	c.StartReplica(run.victim)
	epoch, _ := c.Configuration()
	var in vsr.Inspection
	settled := func() bool {
		r := c.Replica(run.victim)
		if r == nil {
			return false
		}
		in = r.Inspect()
		// Recovered from its own disk, the replica may be normal in the configuration it
		// knew until a member's message tells it of the newer one (fresh seeds from
		// 2026420000, 62 of 10,000: it recovered before any arrived, and the check failed it
		// at once). Normal in the current configuration, it took part again as it was.
		return in.Status == vsr.StatusStopped || (in.Status == vsr.StatusNormal && in.Epoch >= epoch)
	}
	if !run.until(settled, assertionFailurePhaseMax) {
		return run.fail(Liveness, "replica %d restarted after its removal neither stopped nor rejoined: %s", run.victim,
			ReplicaStatus(c, run.victim))
	}
	if in.Status != vsr.StatusStopped || in.Metrics.EpochStops == 0 {
		return run.fail(Correctness, "replica %d restarted after its removal (restored disk) is %s, want stopped as removed",
			run.victim, ReplicaStatus(c, run.victim))
	}
	run.counts["removed.stopped_on_restart"]++
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

// dumpState is `debug dump-state --replica-id N` on the victim before the fault. The
// runbook captures it right after the assertion, but then the process is gone: a
// fail-stopped replica answers nothing, and DebugDumpState reports its node alone
// (diagnoseFailStopped checks that). So the state the process itself can report is taken
// while it still runs, as a crash dump's last snapshot would be. The JSON must carry the
// victim's view, op and commit as `replica status` reports them at the same instant.
func (run *assertionFailureRun) dumpState() (Outcome, string) {
	raw, err := DebugDumpState(run.c, run.victim)
	if err != nil {
		return run.fail(Correctness, "debug dump-state of replica %d: %v", run.victim, err)
	}
	var dump StateDump
	if err := json.Unmarshal(raw, &dump); err != nil || dump.Inspection == nil {
		return run.fail(Correctness, "debug dump-state of replica %d is no state dump (%v): %s", run.victim, err, raw)
	}
	s, in := ReplicaStatus(run.c, run.victim), dump.Inspection
	if dump.Replica != run.victim || dump.Status != s.Status || dump.Node != sim.NodeUp.String() || dump.Isolated ||
		in.View != s.View || in.Op != s.Op || in.CommitMax != s.Commit || in.CommitMin != s.CommitMin {
		return run.fail(Correctness, "debug dump-state of replica %d disagrees with its status %s: %s", run.victim,
			s, raw)
	}
	run.counts["dump_state.bytes"] = uint64(len(raw))
	run.counts["dump_state.view"], run.counts["dump_state.op"] = uint64(in.View), in.Op
	run.counts["dump_state.commit"], run.counts["dump_state.commit_min"] = in.CommitMax, in.CommitMin
	run.counts["dump_state.checkpoint_op"] = in.CheckpointOp
	return Pass, ""
}

// diagnoseFailStopped is the runbook's diagnosis, run on the fail-stopped victim.
//
// Its step 1, `replica isolate --replica-id N --reason assertion-failure`, is moot here and
// is not a resolution step: isolation is a state of the replica's process
// (vsr.Replica.Isolate), and the process is gone. A crashed process already sends and
// acknowledges nothing, and isolation could not outlast it anyway (it is volatile: the
// restart below comes back connected, which is the runbook's "rejoin" once the replica is
// restored and verified). The operator issues it as the runbook says, and it must answer
// unreachable rather than pretend to isolate a dead process.
//
// Step 2: `debug dump-state` now reports the crashed node alone (the process's own state
// was captured before the fault, see dumpState); the online `storage export` needs the
// process and is refused as unreachable, so the export is taken offline from the stopped
// replica's disk (StorageBackup: the same format, read back and verified).
func (run *assertionFailureRun) diagnoseFailStopped() ([]byte, Outcome, string) {
	c := run.c
	if err := ReplicaIsolate(c, run.victim, "assertion-failure"); !errors.Is(err, ErrReplicaUnreachable) {
		outcome, reason := run.fail(Correctness, "replica isolate of fail-stopped replica %d: %v, want unreachable",
			run.victim, err)
		return nil, outcome, reason
	}
	run.counts["isolate.unreachable"]++
	raw, err := DebugDumpState(c, run.victim)
	var dump StateDump
	if err == nil {
		err = json.Unmarshal(raw, &dump)
	}
	if err != nil || dump.Status != StatusUnreachable || dump.Node != sim.NodeCrashed.String() || dump.Inspection != nil {
		outcome, reason := run.fail(Correctness, "debug dump-state after the fail-stop (%v): %s", err, raw)
		return nil, outcome, reason
	}
	run.counts["dump_state.after_fault_unreachable"]++
	if _, err := run.op.Export(run.victim); !errors.Is(err, ErrReplicaUnreachable) {
		outcome, reason := run.fail(Correctness, "online storage export of fail-stopped replica %d: %v, want unreachable",
			run.victim, err)
		return nil, outcome, reason
	}
	run.counts["export.online_unreachable"]++
	// What the stopped disk holds now, the export must (export_complete.go); read before
	// the export, whose opening of the storage the checkers take for a wipe.
	run.held = run.heldCopies(run.victim)
	backup, err := run.op.Backup(run.victim)
	if err != nil {
		outcome, reason := run.fail(Correctness, "storage export (offline) of fail-stopped replica %d: %v", run.victim, err)
		return nil, outcome, reason
	}
	run.counts["export.offline_bytes"] = uint64(len(backup))
	return backup, Pass, ""
}
