package scenarios

import (
	"fmt"
	"slices"
	"strings"

	"vopr/cluster/client"
	"vopr/cluster/kv"
	"vopr/cluster/vsr"
	"vopr/sim"
)

// The rolling_upgrade scenario is the runbook's Rolling Upgrade (Zero Downtime) and its
// Rollback Procedure. From the seed: 3 or 5 replicas, 1-3 clients running swarm's random
// key/value workload with deletes mixed in (delete is the feature of the new release,
// kv.ReleaseDelete), how long the operator observes between replicas, and the rollback
// variant.
//
//  1. Pre-upgrade checks: `cluster status` all healthy, `cluster version` every binary and
//     the cluster at release 1, no feature active; deletes answer "unsupported".
//  2. Upgrade replicas one at a time, backups first and the primary last: install the new
//     binary (sim.Cluster.SetRelease), restart, wait healthy and caught up; clients must
//     keep committing through every restart; `cluster version` shows one more replica on
//     the new release each time, and the cluster release stays at 1 until every replica
//     runs the new binary.
//  3. Feature activation: once every replica runs release 2, the primary prepares the
//     upgrade op; `cluster features` lists delete, and deletes take effect.
//
// Rollback variants: "before" rolls the upgraded backups back to release 1 (reverse order)
// partway through, which is safe (the cluster release never moved), then upgrades all;
// "after" tries to roll one backup back once the feature is active: its binary cannot run
// the cluster's release, so it must stop itself with a clear status ("release too old")
// while the others keep serving; the operator reinstalls the new binary and it rejoins.
//
// Checked throughout, besides every invariant of the Suite: no delete takes effect at or
// before the upgrade op, none answers "unsupported" after it, and the upgrade op executes
// only when every replica's node runs the new binary. Outcome: Correctness on a violation;
// Liveness when a restarted replica does not catch up, writes stop during a restart, the
// feature never activates or the cluster does not converge.
func init() {
	register(Scenario{
		Name:    "rolling_upgrade",
		Runbook: "Rolling Upgrade (Zero Downtime)",
		Summary: "restart replicas one by one on release 2 (backups first, primary last) under load, with rollback before or after activation; clients keep committing; cluster version rises; the new feature only when all are upgraded",
		Params:  func(seed uint64) string { return drawRollingUpgrade(seed).String() },
		Run:     func(o Options) Result { return runRollingUpgrade(o, rollingUpgradeKnobs{}) },
	})
}

// rollingUpgradeParams are the parameters a seed draws.
type rollingUpgradeParams struct {
	Replicas, Clients int
	DelayMean         sim.Duration
	ObserveTicks      int    // the runbook's "wait 5 minutes between replicas", scaled
	Rollback          string // "none", "before" (completion) or "after" (activation)
	RollbackAfter     int    // "before": backups upgraded before the rollback
	RollbackPick      uint64 // "after": the backup rolled back (mod the backups)
}

func drawRollingUpgrade(seed uint64) rollingUpgradeParams {
	r := sim.Stream(seed, "rolling_upgrade")
	p := rollingUpgradeParams{Replicas: 3 + 2*r.IntN(2), Clients: 1 + r.IntN(3)}
	p.DelayMean = sim.Duration(1+r.IntN(4)) * sim.Millisecond
	p.ObserveTicks = 20 + r.IntN(200)
	p.Rollback = []string{"none", "before", "after"}[r.IntN(3)]
	p.RollbackAfter = 1 + r.IntN(p.Replicas-1)
	p.RollbackPick = r.Uint64()
	return p
}

func (p rollingUpgradeParams) String() string {
	return fmt.Sprintf("clients=%d net.delay=%s observe_ticks=%d replicas=%d rollback=%s rollback_after=%d",
		p.Clients, p.DelayMean, p.ObserveTicks, p.Replicas, p.Rollback, p.RollbackAfter)
}

// rollingUpgradeKnobs change the procedure, for the tests that show it is not vacuous.
type rollingUpgradeKnobs struct {
	skipPrimary bool   // the operator forgets to upgrade the primary
	rollback    string // overrides the drawn variant when not empty
}

const (
	rollingUpgradeTicksDefault = 12000
	rollingUpgradePhaseMax     = 1500
	releaseOld                 = kv.ReleaseBase
	releaseNew                 = kv.ReleaseDelete
)

type rollingUpgradeRun struct {
	*runbookRun
	p            rollingUpgradeParams
	activationOp uint64 // the first upgrade op executed (0: not yet)
	rolledBack   int    // the replica rolled back after activation, expected to stop (-1: none)
	deletes      map[string]uint64
}

func runRollingUpgrade(o Options, knobs rollingUpgradeKnobs) Result {
	p := drawRollingUpgrade(o.Seed)
	if knobs.rollback != "" {
		p.Rollback = knobs.rollback
	}
	run := &rollingUpgradeRun{p: p, deletes: map[string]uint64{}, rolledBack: -1}
	run.runbookRun = newRunbookRun(o, p.Replicas, p.Clients, rollingUpgradeTicksDefault, rollingUpgradePhaseMax,
		runbookWorld(p.DelayMean, sim.DiskOptions{}))
	run.watch()
	outcome, reason := run.finish(run.procedure(knobs))
	r := run.result(o, "rolling_upgrade", p.String(), outcome, reason, "upgrade", "view_change")
	for k, v := range run.deletes {
		r.Counters["deletes."+k] = v
	}
	r.Counters["activation_op"] = run.activationOp
	return r
}

// watch mixes deletes into the workload and checks every answer and every upgrade op.
func (run *rollingUpgradeRun) watch() {
	run.swarmRun.deletes = true
	run.onReply = run.checkDelete
	run.onReplicaEvent = func(e vsr.Event) {
		if e.Kind == vsr.EventStatus && strings.HasPrefix(e.Text, "stopped: release too old") &&
			e.Replica != run.rolledBack {
			run.breakf("replica %d stopped with no rollback after activation: the cluster moved to a release before it was upgraded: %s",
				e.Replica, e.Text)
		}
		if e.Kind != vsr.EventUpgrade || run.activationOp != 0 {
			return
		}
		run.activationOp = e.Op
		for i := 0; i < run.c.ReplicaCount(); i++ {
			if b := run.c.Release(i); b < releaseNew {
				run.breakf("upgrade op %d executed by replica %d while replica %d's node runs release %d",
					e.Op, e.Replica, i, b)
			}
		}
	}
}

// breakf records the first violation of the scenario's own checks.
func (run *rollingUpgradeRun) breakf(format string, args ...any) {
	if run.broken == "" {
		run.broken = fmt.Sprintf(format, args...)
	}
}

// checkDelete holds every answered delete to the feature's activation: unsupported up to
// the upgrade op, in effect after it.
func (run *rollingUpgradeRun) checkDelete(op kv.Op, r client.Result) {
	if op.Kind != kv.KindDelete || r.Outcome != client.OK {
		return
	}
	result, err := kv.DecodeResult(r.Reply)
	if err != nil {
		return // the linearizability checker reports it
	}
	active := run.activationOp != 0 && r.Op > run.activationOp
	switch {
	case result.Status == kv.StatusUnsupported && active:
		run.breakf("delete at op %d answered unsupported after the upgrade op %d", r.Op, run.activationOp)
	case result.Status != kv.StatusUnsupported && !active:
		run.breakf("delete at op %d took effect (%d) before the feature was active (upgrade op %d)", r.Op,
			result.Status, run.activationOp)
	case active:
		run.deletes["active"]++
	default:
		run.deletes["unsupported"]++
	}
}

func (run *rollingUpgradeRun) procedure(knobs rollingUpgradeKnobs) (Outcome, string) {
	c, p := run.c, run.p
	// 1. Pre-upgrade checks.
	healthy := func() bool { s := ClusterStatus(c); return s.Healthy == p.Replicas && run.acked > 0 }
	if !run.until(healthy, rollingUpgradePhaseMax) {
		return run.fail(Liveness, "pre-upgrade: the cluster never reported every replica healthy under load")
	}
	if v := ClusterVersion(c); v.Upgraded(releaseOld) != p.Replicas || v.Upgraded(releaseNew) != 0 ||
		v.Cluster != releaseOld || len(ClusterFeatures(c)) != 0 {
		return run.fail(Correctness, "pre-upgrade: cluster version %s, features %v", v, ClusterFeatures(c))
	}
	order := run.upgradeOrder(ClusterStatus(c).Primary)
	if knobs.skipPrimary {
		order = order[:len(order)-1]
	}
	// 2. One replica at a time; "before" rolls the first upgraded backups back first.
	if p.Rollback == "before" {
		if outcome, reason := run.upgradeAll(order[:p.RollbackAfter], releaseNew); outcome != Pass {
			return outcome, reason
		}
		rollback := slices.Clone(order[:p.RollbackAfter])
		slices.Reverse(rollback)
		if outcome, reason := run.upgradeAll(rollback, releaseOld); outcome != Pass {
			return outcome, reason
		}
		run.counts["rollback.before_activation"]++
	}
	if outcome, reason := run.upgradeAll(order, releaseNew); outcome != Pass {
		return outcome, reason
	}
	// 3. Feature activation.
	active := func() bool {
		return ClusterVersion(c).Cluster == releaseNew && slices.Contains(ClusterFeatures(c), "delete") &&
			run.deletes["active"] > 0
	}
	if !run.until(active, rollingUpgradePhaseMax) {
		return run.fail(Liveness, "feature delete not active after every replica was upgraded: %s, features %v",
			ClusterVersion(c), ClusterFeatures(c))
	}
	run.counts["activated"]++
	if p.Rollback == "after" {
		if outcome, reason := run.rollbackRefused(order); outcome != Pass {
			return outcome, reason
		}
	}
	run.load = false
	if !run.until(run.converged, rollingUpgradePhaseMax) {
		return run.fail(Liveness, "no convergence after the upgrade")
	}
	return Pass, ""
}

// upgradeOrder is the runbook's order: backups first (highest index first), the primary last.
func (run *rollingUpgradeRun) upgradeOrder(primary int) []int {
	var order []int
	for i := run.p.Replicas - 1; i >= 0; i-- {
		if i != primary {
			order = append(order, i)
		}
	}
	return append(order, primary)
}

// upgradeAll installs release on each replica of order in turn: restart, wait healthy and
// caught up, writes must go on, `cluster version` must count it, the cluster release must
// not move before every replica runs the new binary; then observe.
func (run *rollingUpgradeRun) upgradeAll(order []int, release uint32) (Outcome, string) {
	c := run.c
	for _, i := range order {
		before := ClusterVersion(c).Upgraded(releaseNew)
		run.crash(i)
		c.SetRelease(i, release)
		run.counts[fmt.Sprintf("restarts.release_%d", release)]++
		acked := run.acked
		if outcome, reason := run.restartAndCatchUp(i, fmt.Sprintf("release %d", release), rollingUpgradePhaseMax); outcome != Pass {
			return outcome, reason
		}
		if !run.until(func() bool { return run.acked > acked+3 }, rollingUpgradePhaseMax) {
			return run.fail(Liveness, "clients stopped committing while replica %d restarted on release %d", i, release)
		}
		v := ClusterVersion(c)
		want := before + 1
		if release != releaseNew {
			want = before - 1
		}
		if v.Upgraded(releaseNew) != want || v.Binaries[i] != release {
			return run.fail(Correctness, "cluster version after replica %d restarted on release %d: %s (want %d upgraded)",
				i, release, v, want)
		}
		if v.Upgraded(releaseNew) < run.p.Replicas && (v.Cluster != releaseOld || len(ClusterFeatures(c)) != 0) {
			return run.fail(Correctness, "cluster release %d with only %d of %d replicas upgraded", v.Cluster,
				v.Upgraded(releaseNew), run.p.Replicas)
		}
		run.until(func() bool { return false }, run.p.ObserveTicks)
	}
	return Pass, ""
}

// rollbackRefused is the "after" variant: with the feature active, a backup rolled back to
// the old binary must stop itself (its binary cannot run the cluster release) while the
// others keep serving; reinstalling the new binary brings it back.
func (run *rollingUpgradeRun) rollbackRefused(order []int) (Outcome, string) {
	c := run.c
	backups := order[:len(order)-1]
	victim := backups[run.p.RollbackPick%uint64(len(backups))]
	if victim == ClusterStatus(c).Primary {
		victim = order[len(order)-1] // the old primary is a backup now
	}
	run.crash(victim)
	run.rolledBack = victim
	c.SetRelease(victim, releaseOld)
	c.StartReplica(victim)
	acked := run.acked
	stopped := func() bool { return ReplicaStatus(c, victim).Status == vsr.StatusStopped.String() }
	if !run.until(stopped, rollingUpgradePhaseMax) {
		return run.fail(Correctness, "replica %d rolled back to release %d after activation did not stop: %s",
			victim, releaseOld, ReplicaStatus(c, victim))
	}
	run.counts["rollback.refused"]++
	if !run.until(func() bool { return run.acked > acked+3 }, rollingUpgradePhaseMax) {
		return run.fail(Liveness, "clients stopped committing with replica %d stopped", victim)
	}
	run.crash(victim)
	c.SetRelease(victim, releaseNew)
	return run.restartAndCatchUp(victim, "reinstalled release 2", rollingUpgradePhaseMax)
}

// crash stops replica i's process (to install another binary) and tells the checkers.
func (run *rollingUpgradeRun) crash(i int) {
	run.c.CrashReplica(i)
	run.inspect()
}
