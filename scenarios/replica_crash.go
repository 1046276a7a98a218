package scenarios

import (
	"fmt"

	"vopr/cluster/storage"
	"vopr/cluster/vsr"
	"vopr/sim"
)

// The replica_crash scenario is the runbook's Scenario 1 (Replica Crash / Unresponsive).
// From the seed: 3 or 5 replicas, 1-3 clients running swarm's random key/value workload,
// the victim (the primary or a backup, chosen when the crash happens), the crash time, how
// long the victim stays down, the disk's crash model (unsynced writes torn or lost, both
// with probability > 0) and the resolution: Option A (restart), A then B, or C.
//
//  1. Load runs; the victim crashes during it (its unsynced writes torn or lost).
//  2. Symptoms and diagnosis: `replica status` says "unreachable"; `cluster status` says the
//     quorum is available; the alert replicas_total{status="healthy"} < N fires; writes
//     keep being acknowledged while the victim is down.
//  3. Option A: restart. `replica status --watch` must show "recovering" then "normal",
//     and the replica catches up; with the load stopped every replica converges.
//  4. Option B (some seeds): the victim is stopped again and its latest backup taken (the
//     runbook's s3://backups/latest; see operator.go on replica identity); the cluster keeps
//     committing without it; a sector of its log rots (CorruptSector); `storage verify
//     --full-scan` must find it; `storage restore` from the backup, a clean verify, restart,
//     catch-up and convergence.
//  5. Option C instead of A (some seeds that do not take B: the hardware failed, the victim
//     cannot come back): `cluster reconfig remove-replica` (the cluster goes on without it,
//     in a configuration of N-1), the hardware replaced (a new disk formatted to join; the
//     node waits, recovering, outside the configuration), `cluster reconfig add-replica`;
//     the victim state-syncs and catches up under the clients' load, then every replica
//     converges.
//
// Every invariant of the Suite runs throughout (and the durability check of prepare_oks).
// Outcome: Correctness on any violation, fail-stop, or runbook outcome that does not hold
// (an alert that does not fire, a verify that misses the corruption, a failed restore);
// Liveness when writes stop with quorum available or the cluster does not converge.
func init() {
	register(Scenario{
		Name:    "replica_crash",
		Runbook: "Scenario 1: Replica Crash",
		Summary: "crash the primary or a backup during load (torn/lost writes); writes continue with quorum; restart => recovering -> normal; option B: verify finds corruption, restore from backup, rejoin; option C: remove-replica, new disk, add-replica, state sync",
		Params:  func(seed uint64) string { return drawReplicaCrash(seed).String() },
		Run:     func(o Options) Result { return runReplicaCrash(o, replicaCrashKnobs{}) },
	})
}

// replicaCrashParams are the parameters a seed draws.
type replicaCrashParams struct {
	Replicas, Clients int
	VictimPrimary     bool
	VictimOffset      int // a backup victim is primary+VictimOffset (mod replicas), 1 <= offset < n
	CrashTick         int // ticks of load before the crash
	DownTicks         int // ticks the victim stays down (at least; longer until writes progress)
	OptionB           bool
	OptionC           bool // instead of A: remove, replace the hardware, add back
	CrashTorn         float64
	CrashLost         float64
	DelayMean         sim.Duration
	CorruptPick       uint64 // chooses the corrupted sector in option B
}

func drawReplicaCrash(seed uint64) replicaCrashParams {
	r := sim.Stream(seed, "replica_crash")
	p := replicaCrashParams{Replicas: 3 + 2*r.IntN(2), Clients: 1 + r.IntN(3), VictimPrimary: r.IntN(2) == 0}
	p.VictimOffset = 1 + r.IntN(p.Replicas-1)
	p.CrashTick = 100 + r.IntN(300)
	p.DownTicks = 200 + r.IntN(300)
	p.OptionB = r.IntN(2) == 0
	p.CrashTorn = 0.2 + 0.7*r.Float64()
	p.CrashLost = 0.1 + 0.4*r.Float64()
	p.DelayMean = sim.Duration(1+r.IntN(5)) * sim.Millisecond
	p.CorruptPick = r.Uint64()
	optionC := r.IntN(3) == 0 // drawn last: earlier draws keep their values
	p.OptionC = optionC && !p.OptionB
	return p
}

func (p replicaCrashParams) String() string {
	victim, option := "backup", "A"
	if p.VictimPrimary {
		victim = "primary"
	}
	if p.OptionB {
		option = "A+B"
	}
	if p.OptionC {
		option = "C"
	}
	return fmt.Sprintf("clients=%d crash_lost=%.2f crash_tick=%d crash_torn=%.2f down_ticks=%d net.delay=%s option=%s replicas=%d victim=%s",
		p.Clients, p.CrashLost, p.CrashTick, p.CrashTorn, p.DownTicks, p.DelayMean, option, p.Replicas, victim)
}

// replicaCrashKnobs change the procedure, for the tests that show the scenario is not
// vacuous.
type replicaCrashKnobs struct {
	skipRestart bool // the operator never restarts the victim
	// forceOptionC takes option C whatever the seed drew; skipReconfig: option C's operator
	// does nothing (the victim's hardware stays dead); skipAdd: the victim is removed and
	// its hardware replaced, but never added back.
	forceOptionC, skipReconfig, skipAdd bool
	// forceOptionB takes option A then B whatever the seed drew; cutBackup replaces option
	// B's backup before the restore: a backup cut short there must fail the restore's check.
	forceOptionB bool
	cutBackup    func(backup []byte) []byte
}

const (
	replicaCrashTicksDefault = 8000
	replicaCrashPhaseMax     = 2000 // ticks any one phase may take
)

type replicaCrashRun struct {
	*runbookRun
	p       replicaCrashParams
	victim  int
	crashes uint64
	corrupt uint64
}

func runReplicaCrash(o Options, knobs replicaCrashKnobs) Result {
	p := drawReplicaCrash(o.Seed)
	if knobs.forceOptionC {
		p.OptionB, p.OptionC = false, true
	}
	if knobs.forceOptionB {
		p.OptionB, p.OptionC = true, false
	}
	run := &replicaCrashRun{p: p, victim: -1}
	run.runbookRun = newRunbookRun(o, p.Replicas, p.Clients, replicaCrashTicksDefault, replicaCrashPhaseMax,
		runbookWorld(p.DelayMean, sim.DiskOptions{CrashTornProbability: p.CrashTorn, CrashLostProbability: p.CrashLost}))
	outcome, reason := run.finish(run.procedure(knobs))
	return run.result(o, outcome, reason)
}

func (run *replicaCrashRun) procedure(knobs replicaCrashKnobs) (Outcome, string) {
	c, p := run.c, run.p
	// 1. Load, then crash the victim during it.
	start := run.ticks
	if !run.until(func() bool { return run.ticks-start >= p.CrashTick && run.acked > 0 }, p.CrashTick+replicaCrashPhaseMax) {
		return run.fail(Liveness, "no request acknowledged before the crash")
	}
	if !run.until(func() bool { return ClusterStatus(c).Primary >= 0 }, replicaCrashPhaseMax) {
		return run.fail(Liveness, "no primary to pick the victim from")
	}
	primary := ClusterStatus(c).Primary
	run.victim = primary
	if !p.VictimPrimary {
		run.victim = (primary + p.VictimOffset) % p.Replicas
	}
	// Crash at an instant when the victim's newest log segment holds unsynced writes (as
	// the swarm's nemesis does), so that the disk's crash model tears or loses them.
	if run.awaitUnsynced() {
		run.counts["fault.crash_with_unsynced_writes"]++
	}
	run.crash()

	// 2. Diagnosis: the replica is unreachable, the quorum is available, the alert fires,
	// and writes continue.
	if s := ReplicaStatus(c, run.victim); s.Status != StatusUnreachable {
		return Correctness, fmt.Sprintf("replica status of the crashed replica %d: %s", run.victim, s)
	}
	ackedAtCrash, down := run.acked, run.ticks
	run.until(func() bool { return false }, p.DownTicks)
	if !run.until(func() bool { return run.acked > ackedAtCrash }, replicaCrashPhaseMax) {
		return run.fail(Liveness, "no write acknowledged in %d ticks with replica %d down and quorum available",
			run.ticks-down, run.victim)
	}
	run.counts["requests_acked_while_down"] = uint64(run.acked - ackedAtCrash)
	if s := ClusterStatus(c); !s.QuorumAvailable {
		return run.fail(Liveness, "cluster status: quorum not available with one replica down (%d healthy)", s.Healthy)
	}
	if !run.mon.Fired(AlertReplicasUnhealthy) {
		return run.fail(Correctness, "alert %s did not fire while replica %d was down", AlertReplicasUnhealthy,
			run.victim)
	}

	if p.OptionC {
		return run.optionC(knobs)
	}
	// 3. Option A: restart; recovering -> normal; caught up; converged.
	if !knobs.skipRestart {
		if outcome, reason := run.restartAndCatchUp("option A"); outcome != Pass {
			return outcome, reason
		}
	}
	run.load = false
	if !run.until(run.converged, replicaCrashPhaseMax) {
		return run.fail(Liveness, "no convergence after option A (restart skipped=%t)", knobs.skipRestart)
	}
	if !p.OptionB {
		return Pass, ""
	}
	return run.optionB(knobs)
}

// awaitUnsynced runs the world event by event, for at most two ticks, until the victim's
// newest log segment is longer than its durable image; it reports whether it is.
func (run *replicaCrashRun) awaitUnsynced() bool {
	c := run.c
	disk := c.Nodes[run.victim].Disk
	unsynced := func() bool {
		s := ReplicaStatus(c, run.victim)
		if s.Status == StatusUnreachable {
			return false
		}
		name := fmt.Sprintf("log-%016x", s.Op/vsr.CheckpointInterval)
		size, err := disk.Size(name)
		return err == nil && size > int64(len(disk.Durable(name)))
	}
	deadline := c.Loop.Now() + sim.Time(2*sim.TickInterval)
	for !unsynced() && c.Loop.Now() < deadline && c.Loop.Step() {
	}
	run.inspect()
	return unsynced()
}

func (run *replicaCrashRun) crash() {
	run.c.CrashReplica(run.victim)
	run.crashes++
	run.inspect()
}

func (run *replicaCrashRun) restartAndCatchUp(what string) (Outcome, string) {
	return run.runbookRun.restartAndCatchUp(run.victim, what, replicaCrashPhaseMax)
}

// optionB: stop the victim, take its backup, let the cluster move on, rot a sector of its
// log, verify (must detect), restore, verify (must be clean), restart, catch up, converge.
func (run *replicaCrashRun) optionB(knobs replicaCrashKnobs) (Outcome, string) {
	c := run.c
	in := c.Replica(run.victim).Inspect()
	run.crash()
	// What the stopped disk holds now, the backup must (export_complete.go); read before
	// the backup, whose opening of the storage the checkers take for a wipe.
	held := run.heldCopies(run.victim)
	backup, err := run.op.Backup(run.victim)
	if err != nil {
		return run.fail(Correctness, "option B: backup of stopped replica %d: %v", run.victim, err)
	}
	if knobs.cutBackup != nil {
		backup = knobs.cutBackup(backup)
	}
	run.counts["backup.bytes"] = uint64(len(backup))
	run.load = true
	acked := run.acked
	if !run.until(func() bool { return run.acked > acked+5 }, replicaCrashPhaseMax) {
		return run.fail(Liveness, "option B: writes did not continue with replica %d down", run.victim)
	}
	name, offset, ok := run.pickSector(in, run.p.CorruptPick)
	if !ok {
		return Correctness, fmt.Sprintf("option B: replica %d has no log segment to corrupt", run.victim)
	}
	c.Nodes[run.victim].Disk.CorruptSector(name, offset)
	run.corrupt++
	report, err := run.op.Verify(run.victim)
	if err != nil && err == ErrTimeout {
		return run.fail(Liveness, "option B: storage verify did not complete")
	}
	if report.OK {
		return run.fail(Correctness, "option B: storage verify --full-scan missed the corruption at %s@%d", name, offset)
	}
	run.counts["verify.problems"] = uint64(len(report.Problems))
	if err := run.op.Restore(run.victim, backup); err != nil {
		return run.fail(Correctness, "option B: storage restore: %v", err)
	}
	if problem := run.checkRestoredComplete(run.victim, held); problem != "" {
		return run.fail(Correctness, "option B: storage restore of replica %d: %s", run.victim, problem)
	}
	run.counts["restore.held_ops"] = uint64(len(held))
	if report, err := run.op.Verify(run.victim); err != nil || !report.OK {
		return run.fail(Correctness, "option B: verify after restore: err=%v problems=%v", err, report.Problems)
	}
	run.counts["restores"]++
	if outcome, reason := run.restartAndCatchUp("option B"); outcome != Pass {
		return outcome, reason
	}
	run.load = false
	if !run.until(run.converged, replicaCrashPhaseMax) {
		return run.fail(Liveness, "no convergence after option B")
	}
	return Pass, ""
}

// optionC: the victim's hardware failed, so it is not restarted: remove it from the
// cluster, which keeps committing in its new configuration; replace the hardware (a new
// disk formatted to join); add it back; it state-syncs and catches up under load; then
// every replica converges.
func (run *replicaCrashRun) optionC(knobs replicaCrashKnobs) (Outcome, string) {
	if !knobs.skipReconfig {
		if outcome, reason := run.removeReplica(run.victim, "option C"); outcome != Pass {
			return outcome, reason
		}
		acked := run.acked
		if !run.until(func() bool { return run.acked > acked }, replicaCrashPhaseMax) {
			return run.fail(Liveness, "option C: no write acknowledged after replica %d was removed", run.victim)
		}
		if outcome, reason := run.replaceHardware(run.victim, "option C"); outcome != Pass {
			return outcome, reason
		}
		if !knobs.skipAdd {
			if outcome, reason := run.addReplicaAndSync(run.victim, "option C", replicaCrashPhaseMax); outcome != Pass {
				return outcome, reason
			}
			run.counts["resolution.option_c"]++
		}
	}
	run.load = false
	// Converged, with the victim back as a member (converged counts members alone).
	if !run.until(func() bool { return run.c.IsMember(run.victim) && run.converged() }, replicaCrashPhaseMax) {
		return run.fail(Liveness, "no convergence after option C with replica %d a member again (reconfig skipped=%t, add skipped=%t)",
			run.victim, knobs.skipReconfig, knobs.skipAdd)
	}
	return Pass, ""
}

// pickSector chooses a sector of one of the victim's log segments, from the newest segment
// its inspection says exists down to the first.
func (run *replicaCrashRun) pickSector(in vsr.Inspection, pick uint64) (string, int64, bool) {
	disk := run.c.Nodes[run.victim].Disk
	// From the segment after op's (a replica past op on disk) down: compaction removes the
	// segments below the newest checkpoint, so op's own segment may be gone.
	for k := int64(in.Op/vsr.CheckpointInterval) + 1; k >= 0; k-- {
		name := fmt.Sprintf("log-%016x", k)
		size, err := disk.Size(name)
		if err != nil || size < storage.SectorSize {
			continue
		}
		sectors := size / storage.SectorSize
		return name, int64(pick%uint64(sectors)) * storage.SectorSize, true
	}
	// No log entries past the checkpoint (a replica that state-synced and stopped at once, as
	// in seed 206): the durable state is the checkpoint, so rot that.
	name := fmt.Sprintf("checkpoint-%016x", in.CheckpointOp)
	if size, err := disk.Size(name); err == nil && size >= storage.SectorSize {
		return name, int64(pick%uint64(size/storage.SectorSize)) * storage.SectorSize, true
	}
	return "", 0, false
}

func (run *replicaCrashRun) result(o Options, outcome Outcome, reason string) Result {
	return run.crashResult(o, "replica_crash", run.p.String(), outcome, reason)
}

// crashResult is runbookRun.result plus the crash counters of scenarios built on this one.
func (run *replicaCrashRun) crashResult(o Options, name, params string, outcome Outcome, reason string) Result {
	c := run.c
	r := run.runbookRun.result(o, name, params, outcome, reason, "view_change", "recovered", "repair", "truncate", "state_sync")
	// Scenarios built on this one may count their own crashes in counts: keep the larger.
	r.Counters["fault.replica_crash"] = max(r.Counters["fault.replica_crash"], run.crashes)
	r.Counters["fault.corrupt_sector"] = max(r.Counters["fault.corrupt_sector"], run.corrupt)
	var torn, lost uint64
	for i := 0; i < c.ReplicaCount(); i++ {
		st := c.Nodes[i].Disk.Stats()
		torn, lost = torn+st.CrashTorn, lost+st.CrashLost
	}
	r.Counters["fault.crash_torn_writes"], r.Counters["fault.crash_lost_writes"] = torn, lost
	return r
}
