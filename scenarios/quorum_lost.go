package scenarios

import (
	"fmt"

	"vopr/cluster/client"
	"vopr/cluster/kv"
	"vopr/sim"
)

// The quorum_lost scenario is the runbook's Scenario 2 (Quorum Lost). From the seed: 3 or 5
// replicas, 1-3 clients running swarm's random key/value workload, whether a majority
// crashes (unsynced writes torn or lost, both with probability > 0) or is cut off by the
// network (each victim isolated from every other node), whether the primary is among the
// victims, when it happens and how long the quorum stays lost.
//
//  1. Load runs; a majority (count/2 + 1 replicas) is lost during it.
//  2. Symptoms and diagnosis: `cluster status` says the quorum is not available; the P0
//     alert QuorumLost (replicas_total{status="healthy"} < quorum) fires; no write is
//     acknowledged while the quorum is lost (after a grace of half a second for replies of
//     ops committed before the loss, acknowledgements do not increase over the window) and
//     no replica's commit_number passes the highest op any replica had prepared at the loss.
//  3. Option A: the network is healed or the crashed replicas are restarted; the cluster
//     recovers by itself: writes resume, the alert resolves, and with the load stopped every
//     replica converges.
//
// Some seeds take Option C instead ("if all data lost"), prepared in step 1: once a
// replica drawn from the seed has a checkpoint, the operator exports a backup of it while it
// runs (`storage export`), and the load goes on for a drawn while. At step 3 the disaster
// grows: every replica is down and every disk is lost (Disk.Reformat). `cluster
// restore-from-backup` restores the backup's committed prefix onto every replica (the
// restore point is the backup's checkpoint), the replicas start, writes resume (on fresh
// keys: the old ones went back in time by design) and the cluster converges. What is lost
// is exactly the acknowledged ops above the restore point (counted: rpo.lost_acked_ops; the
// backup's age is rpo.backup_age_ms); everything up to it must survive: the Suite checks
// the restored state against the old cluster's digest at the restore point and every
// acknowledgement at or below it (invariants.Suite.OnRestoreFromBackup).
//
// Other seeds take Option B ("if datacenter failure, multi-region with standby"): the
// cluster runs with a standby (replica 100) from the start. At step 3 the whole active
// region is lost (every active replica down, every disk gone). `cluster failover
// --promote-standby 100` without --approve-data-loss-risk must be refused, saying what would
// be lost; with it (and --force if the standby was ineligible when it last heard from the
// primary) the standby becomes the single active replica of a new configuration epoch,
// keeping the committed prefix it holds (the promotion point). What is lost is exactly the
// acknowledged ops above the promotion point: the Suite counts them (OnFailover) and they
// must equal what the clients were acknowledged above it (rpo.lost_acked_ops); everything
// up to it must survive (the promoted replica's state is held to the old cluster's digests).
// Writes resume on fresh keys and the new configuration converges. (The alert monitor
// samples the formatted configuration, so alerts are not checked after a failover.) The
// operator then reads the promoted replica's configuration: only it a member, every other
// slot outside; in half these seeds an old active replica comes back with its old disk and
// must never join, vote or commit in the new epoch (quorum_lost_old_active.go). In half the
// option C seeds a replica's node crashes during its restore; its disk must open unformatted
// or as the complete restored state, and the restore run again must succeed
// (quorum_lost_restore_crash.go).
//
// Every invariant of the Suite runs throughout (and the durability check of prepare_oks).
// Outcome: Correctness on any violation, fail-stop, a write acknowledged without a quorum,
// or an alert that does not fire; Liveness when writes do not resume after the heal or the
// cluster does not converge.
func init() {
	register(Scenario{
		Name:    "quorum_lost",
		Runbook: "Scenario 2: Quorum Lost",
		Summary: "crash or partition a majority during load; no write acknowledged without quorum; the P0 QuorumLost alert fires; option A: heal/restart and the cluster recovers by itself; option B: the active region lost, cluster failover to the standby (refused without approval) loses exactly the acknowledged ops above its commit; option C: all data lost, restore from backup loses exactly the ops after the backup",
		Params:  func(seed uint64) string { return drawQuorumLost(seed).String() },
		Run:     func(o Options) Result { return runQuorumLost(o, quorumLostKnobs{}) },
	})
}

// quorumLostParams are the parameters a seed draws.
type quorumLostParams struct {
	Replicas, Clients int
	Partition         bool // isolate the victims instead of crashing them
	PrimaryLost       bool // the primary is among the victims
	VictimPick        uint64
	LoadTicks         int // ticks of load before the loss
	LostTicks         int // the window over which no write may be acknowledged
	CrashTorn         float64
	CrashLost         float64
	DelayMean         sim.Duration
	OptionC           bool   // all data is lost: restore the cluster from a backup
	BackupPick        uint64 // the replica the backup is exported from (mod replicas)
	BackupAgeTicks    int    // ticks of load between the backup and the loss
	OptionB           bool   // the active region is lost: fail over to the standby
	// Drawn from their own stream (quorum_lost/procedure), so the draws above keep their
	// values: option B brings one old active replica back with its old disk after the
	// failover (OldBack: replica OldPick mod replicas, OldDelayTicks after the promoted
	// replica starts); option C crashes one replica's node during the restore (RestoreCrash:
	// replica 1 + RestoreCrashPick mod (replicas-1), at the I/O completion RestoreCrashAt of
	// the way through the restore's I/O count).
	OldBack          bool
	OldPick          uint64
	OldDelayTicks    int
	RestoreCrash     bool
	RestoreCrashPick uint64
	RestoreCrashAt   float64
	// ReactionTicks (option B, its own stream quorum_lost/reaction): how long the operator
	// takes to act once the active region is lost (failover_contact.go).
	ReactionTicks int
}

func drawQuorumLost(seed uint64) quorumLostParams {
	r := sim.Stream(seed, "quorum_lost")
	p := quorumLostParams{Replicas: 3 + 2*r.IntN(2), Clients: 1 + r.IntN(3), Partition: r.IntN(2) == 0,
		PrimaryLost: r.IntN(2) == 0}
	p.VictimPick = r.Uint64()
	p.LoadTicks = 100 + r.IntN(300)
	p.LostTicks = 200 + r.IntN(300)
	p.CrashTorn = 0.2 + 0.7*r.Float64()
	p.CrashLost = 0.1 + 0.4*r.Float64()
	p.DelayMean = sim.Duration(1+r.IntN(5)) * sim.Millisecond
	p.OptionC = r.IntN(3) == 0
	p.BackupPick = r.Uint64()
	p.BackupAgeTicks = 20 + r.IntN(200)
	optionB := r.IntN(3) == 0 // drawn last: earlier draws keep their values
	p.OptionB = optionB && !p.OptionC
	r = sim.Stream(seed, "quorum_lost/procedure")
	p.OldBack = r.IntN(2) == 0
	p.OldPick = r.Uint64()
	p.OldDelayTicks = r.IntN(300)
	p.RestoreCrash = r.IntN(2) == 0
	p.RestoreCrashPick = r.Uint64()
	p.RestoreCrashAt = r.Float64()
	p.ReactionTicks = drawReaction(seed, "quorum_lost/reaction")
	return p
}

// oldBack is the old active replica option B brings back after the failover, -1 if none.
func (p quorumLostParams) oldBack() int {
	if !p.OptionB || !p.OldBack {
		return -1
	}
	return int(p.OldPick % uint64(p.Replicas))
}

// restoreCrashReplica is the replica whose node option C crashes during its restore, -1 if
// none. Never replica 0: the restores run in replica order, and replica 0's (the same work
// on an empty disk) counts the I/O completions the crash is drawn over.
func (p quorumLostParams) restoreCrashReplica() int {
	if !p.OptionC || !p.RestoreCrash {
		return -1
	}
	return 1 + int(p.RestoreCrashPick%uint64(p.Replicas-1))
}

func (p quorumLostParams) String() string {
	fault, lost := "crash", "backups"
	if p.Partition {
		fault = "partition"
	}
	if p.PrimaryLost {
		lost = "primary+backups"
	}
	option := "A"
	if p.OptionC {
		option = fmt.Sprintf("C backup_age_ticks=%d backup_from=%d", p.BackupAgeTicks, p.BackupPick%uint64(p.Replicas))
		if v := p.restoreCrashReplica(); v >= 0 {
			option += fmt.Sprintf(" restore_crash=replica%d@%.3f", v, p.RestoreCrashAt)
		}
	}
	if p.OptionB {
		option = fmt.Sprintf("B standbys=1 reaction=%s", sim.Duration(p.ReactionTicks)*sim.TickInterval)
		if v := p.oldBack(); v >= 0 {
			option += fmt.Sprintf(" old_active_back=replica%d+%dticks", v, p.OldDelayTicks)
		}
	}
	return fmt.Sprintf("clients=%d crash_lost=%.2f crash_torn=%.2f fault=%s load_ticks=%d lost=%s lost_ticks=%d net.delay=%s replicas=%d option=%s",
		p.Clients, p.CrashLost, p.CrashTorn, fault, p.LoadTicks, lost, p.LostTicks, p.DelayMean, p.Replicas, option)
}

// quorumLostKnobs change the procedure, for the tests that show the scenario is not vacuous.
type quorumLostKnobs struct {
	skipHeal bool // the operator never heals the network nor restarts the replicas
	// forceOptionC takes option C whatever the seed drew.
	forceOptionC bool
	// skipRestore: option C starts the replicas on their empty disks without restoring.
	skipRestore bool
	// claimPointAbove: the checkers are told a restore point this many ops above the real
	// one (a restore that loses more than it says).
	claimPointAbove uint64
	// forceOptionB takes option B whatever the seed drew; skipFailover: the operator never
	// promotes the standby; claimFailoverAbove: the checkers are told a promotion point this
	// many ops above the real one (a failover that loses more than it says).
	forceOptionB, skipFailover bool
	claimFailoverAbove         uint64
	// oldCommitBelow: the old active replica brought back after the failover is held to a
	// commit number this many ops below the real bound (a replica that commits past it).
	oldCommitBelow uint64
	// restoreCrashLosesCheckpoint: after the crash during the restore, the crashed disk's
	// checkpoint files are removed (a restore that leaves a formatted disk without them).
	restoreCrashLosesCheckpoint bool
	// contactLagGrows adds this many ms to the standby's contact lag read after the operator's
	// reaction time (a lag that keeps growing with the region lost).
	contactLagGrows int64
}

const (
	quorumLostTicksDefault = 6000
	quorumLostPhaseMax     = 2000
	quorumLostGraceTicks   = 50
)

type quorumLostRun struct {
	*replicaCrashRun // the runner: step, until, fail, checkers, monitor
	q                quorumLostParams
	victims          []int
	backup           []byte // option C: the backup exported before the loss
	backupAt         sim.Time
	acks             []uint64   // every op acknowledged to a client (option B's loss count)
	opAtLoss         uint64     // the highest op any replica prepared when the quorum was lost
	old              *oldActive // option B: the old active replica brought back, if any
}

func runQuorumLost(o Options, knobs quorumLostKnobs) Result {
	p := drawQuorumLost(o.Seed)
	if knobs.forceOptionC {
		p.OptionC, p.OptionB = true, false
	}
	if knobs.forceOptionB {
		p.OptionB, p.OptionC = true, false
	}
	standbys := 0
	if p.OptionB {
		standbys = 1
	}
	base := &replicaCrashRun{victim: -1}
	base.runbookRun = newRunbookRunWithStandbys(o, p.Replicas, standbys, p.Clients, quorumLostTicksDefault,
		quorumLostPhaseMax, runbookWorld(p.DelayMean, sim.DiskOptions{CrashTornProbability: p.CrashTorn, CrashLostProbability: p.CrashLost}))
	run := &quorumLostRun{replicaCrashRun: base, q: p}
	run.onReply = run.collectAck
	outcome, reason := run.finish(run.procedure(knobs))
	return run.quorumLostResult(o, outcome, reason)
}

// pickVictims chooses a majority: the primary and others, or backups only, in an order drawn
// from the seed.
func (run *quorumLostRun) pickVictims(primary int) []int {
	p := run.q
	n := p.Replicas
	var victims []int
	if p.PrimaryLost {
		victims = append(victims, primary)
	}
	start := int(p.VictimPick % uint64(n))
	for k := 0; len(victims) < n/2+1; k++ {
		i := (start + k) % n
		if i != primary {
			victims = append(victims, i)
		}
	}
	return victims
}

func (run *quorumLostRun) procedure(knobs quorumLostKnobs) (Outcome, string) {
	c, p := run.c, run.q
	// 1. Load, then lose a majority.
	start := run.ticks
	if !run.until(func() bool { return run.ticks-start >= p.LoadTicks && run.acked > 0 }, p.LoadTicks+quorumLostPhaseMax) {
		return run.fail(Liveness, "no request acknowledged before the loss")
	}
	if p.OptionC {
		if outcome, reason := run.exportBackup(); outcome != Pass {
			return outcome, reason
		}
	}
	if !run.until(func() bool { return ClusterStatus(c).Primary >= 0 }, quorumLostPhaseMax) {
		return run.fail(Liveness, "no primary to pick the victims from")
	}
	primary := ClusterStatus(c).Primary
	run.victims = run.pickVictims(primary)
	// opAtLoss is the highest op any replica prepared before the quorum was lost: each crashed
	// victim's as it goes, the running replicas' (isolated victims included) after. A crashed
	// victim's messages sent before it went (a commit among them) may still reach a
	// survivor, which may then rightly commit past its own op at the loss (fresh seed
	// 2026428458: the crashed primary's commit 327 reached the surviving backup, whose op had
	// been 326).
	var opAtLoss uint64
	for _, v := range run.victims {
		if p.Partition {
			c.Network.Isolate(v)
			run.counts["fault.isolate"]++
		} else {
			// Crash when the victim's newest log segment holds unsynced writes, if it does
			// within two ticks, so that the disk's crash model tears or loses them.
			run.victim = v
			if run.awaitUnsynced() {
				run.counts["fault.crash_with_unsynced_writes"]++
			}
			if r := c.Replica(v); r != nil {
				opAtLoss = max(opAtLoss, r.Inspect().Op)
			}
			c.CrashReplica(v)
			run.counts["fault.replica_crash"]++
		}
	}
	run.inspect()
	for i := 0; i < p.Replicas; i++ {
		if r := c.Replica(i); r != nil {
			opAtLoss = max(opAtLoss, r.Inspect().Op)
		}
	}
	lostAt := c.Loop.Now()
	run.opAtLoss = opAtLoss

	// 2. Diagnosis: quorum not available, the P0 alert fires, no write acknowledged.
	ackedAtLoss := run.acked
	run.until(func() bool { return false }, quorumLostGraceTicks)
	acked := run.acked
	run.counts["requests_acked_in_grace"] = uint64(acked - ackedAtLoss)
	// A reply to an op committed before the loss may still reach its client later: a retry
	// answered from a client table (a backup's included). Only an op committed after the
	// grace window proves a commit without a quorum.
	var committedAtLoss uint64
	for i := 0; i < p.Replicas; i++ {
		if r := c.Replica(i); r != nil {
			committedAtLoss = max(committedAtLoss, r.Inspect().CommitMax)
		}
	}
	var lateAcks []uint64
	run.onReply = func(op kv.Op, r client.Result) {
		run.collectAck(op, r)
		if r.Outcome == client.OK && r.Op > committedAtLoss {
			lateAcks = append(lateAcks, r.Op)
		}
	}
	noCommitPast := func() string {
		for i := 0; i < p.Replicas; i++ {
			if r := c.Replica(i); r != nil && r.Inspect().CommitMax > opAtLoss {
				return fmt.Sprintf("replica %d commit_number %d passed op %d, the highest prepared when the quorum was lost",
					i, r.Inspect().CommitMax, opAtLoss)
			}
		}
		return ""
	}
	for t := 0; t < p.LostTicks; t++ {
		if reason := run.safety(); reason != "" {
			return Correctness, reason
		}
		run.step()
		if len(lateAcks) > 0 {
			return Correctness, fmt.Sprintf("op(s) %v acknowledged %s after the quorum was lost (victims %v), above commit %d: %s",
				lateAcks, c.Loop.Now()-lostAt, run.victims, committedAtLoss, run.describe())
		}
		if reason := noCommitPast(); reason != "" {
			return Correctness, reason
		}
	}
	run.onReply = run.collectAck
	run.counts["ticks_without_quorum_no_ack"] = uint64(p.LostTicks)
	if s := ClusterStatus(c); s.QuorumAvailable {
		return run.fail(Correctness, "cluster status: quorum available with a majority %v lost (%d healthy)",
			run.victims, s.Healthy)
	}
	if !run.mon.Fired(AlertQuorumLost) || run.mon.FiredAtOrAbove(P0) == nil {
		return run.fail(Correctness, "alert %s did not fire with a majority %v lost: %v", AlertQuorumLost,
			run.victims, run.mon.Events())
	}

	if p.OptionC {
		return run.optionC(knobs)
	}
	if p.OptionB {
		return run.optionB(knobs)
	}
	// 3. Option A: heal / restart; the cluster recovers by itself.
	if !knobs.skipHeal {
		if p.Partition {
			c.Network.Heal()
		} else {
			for _, v := range run.victims {
				c.StartReplica(v)
			}
		}
		run.counts["resolution.heal"]++
	}
	if !run.until(func() bool { return run.acked > acked+5 }, quorumLostPhaseMax) {
		return run.fail(Liveness, "writes did not resume after option A (heal skipped=%t)", knobs.skipHeal)
	}
	run.counts["requests_acked_after_heal"] = uint64(run.acked - acked)
	run.load = false
	if !run.until(run.converged, quorumLostPhaseMax) {
		return run.fail(Liveness, "no convergence after option A")
	}
	run.until(func() bool { return !run.mon.Firing(AlertQuorumLost) }, 50)
	if run.mon.Firing(AlertQuorumLost) {
		return run.fail(Correctness, "alert %s still firing after the cluster converged", AlertQuorumLost)
	}
	return Pass, ""
}

// exportBackup is option C's preparation: when the drawn replica has a checkpoint, the
// operator exports a backup of it, and the load goes on for the backup's drawn age. It runs
// the export opSlotRepeats times in a row (more than vsr.OperatorPendingMax) and keeps the
// last backup: each export must succeed.
func (run *quorumLostRun) exportBackup() (Outcome, string) {
	from := int(run.q.BackupPick % uint64(run.q.Replicas))
	hasCheckpoint := func() bool {
		s := ReplicaStatus(run.c, from)
		return s.Healthy() && s.CheckpointOp > 0
	}
	if !run.until(hasCheckpoint, 2*quorumLostPhaseMax) {
		return run.fail(Liveness, "replica %d took no checkpoint to back up", from)
	}
	// The operator exports opSlotRepeats times in a row, each after the previous completed,
	// and keeps the last: every export must succeed and be a backup of that replica (an
	// export must not hold on to the replica's operator actions once it is done).
	var backup []byte
	var errs []error
	for k := 0; k < opSlotRepeats; k++ {
		b, err := run.op.Export(from)
		if err == nil {
			if owner, e := BackupReplica(b); e != nil || owner != from {
				err = fmt.Errorf("the backup names replica %d (%v), want %d", owner, e, from)
			}
		}
		errs, backup = append(errs, err), b
		if err != nil {
			break
		}
	}
	if problem := judgeRepeatedAction(fmt.Sprintf("storage export --replica-id %d", from), errs); problem != "" {
		return run.fail(Correctness, "%s", problem)
	}
	run.counts["backup.exports"] = uint64(len(errs))
	run.backup, run.backupAt = backup, run.c.Loop.Now()
	run.counts["backup.exported_bytes"] = uint64(len(backup))
	start := run.ticks
	run.until(func() bool { return run.ticks-start >= run.q.BackupAgeTicks }, run.q.BackupAgeTicks)
	return Pass, ""
}

// optionC is step 3 when all data is lost: every replica down, every disk gone; the
// cluster is restored from the backup and must lose exactly the ops after it.
func (run *quorumLostRun) optionC(knobs quorumLostKnobs) (Outcome, string) {
	c := run.c
	for i := 0; i < c.ReplicaCount(); i++ {
		if c.Nodes[i].Status() != sim.NodeCrashed {
			c.CrashReplica(i)
		}
		c.Nodes[i].Disk.Reformat()
	}
	c.Network.Heal()
	run.counts["fault.all_data_lost"]++
	lostAt := c.Loop.Now()
	run.step()
	point := uint64(0)
	switch {
	case knobs.skipRestore:
	case run.q.restoreCrashReplica() >= 0:
		var outcome Outcome
		var reason string
		if point, outcome, reason = run.restoreAfterCrash(knobs); outcome != Pass {
			return outcome, reason
		}
		run.counts["resolution.restore_from_backup"]++
	default:
		var err error
		if point, err = run.op.RestoreCluster(run.backup); err != nil {
			return run.fail(Correctness, "cluster restore-from-backup: %v", err)
		}
		run.counts["resolution.restore_from_backup"]++
	}
	run.counts["rpo.restore_op"] = point
	run.counts["rpo.backup_age_ms"] = uint64((lostAt - run.backupAt) / sim.Time(sim.Millisecond))
	if run.checked {
		lost, v := run.suite.OnRestoreFromBackup(int64(c.Loop.Now()), point+knobs.claimPointAbove)
		if v != nil {
			return Correctness, v.Error()
		}
		run.counts["rpo.lost_acked_ops"] = uint64(len(lost))
	}
	run.keyPrefix = "restored."
	for i := 0; i < c.ReplicaCount(); i++ {
		c.StartReplica(i)
	}
	acked := run.acked
	if !run.until(func() bool { return run.acked > acked+5 }, quorumLostPhaseMax) {
		return run.fail(Liveness, "writes did not resume after the restore from backup (restore skipped=%t)",
			knobs.skipRestore)
	}
	run.counts["requests_acked_after_restore"] = uint64(run.acked - acked)
	run.load = false
	if !run.until(run.converged, quorumLostPhaseMax) {
		return run.fail(Liveness, "no convergence after the restore from backup")
	}
	for i := 0; i < c.ReplicaCount(); i++ {
		if s := ReplicaStatus(c, i); s.CommitMin < point {
			return run.fail(Correctness, "replica %d at commit %d, below the restore point %d", i, s.CommitMin, point)
		}
	}
	return Pass, ""
}

func (run *quorumLostRun) quorumLostResult(o Options, outcome Outcome, reason string) Result {
	r := run.crashResult(o, "quorum_lost", run.q.String(), outcome, reason)
	r.Counters["victims"] = uint64(len(run.victims))
	return r
}
