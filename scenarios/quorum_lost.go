package scenarios

import (
	"fmt"

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
// (Option B, failover to a DR region, has no counterpart in a single simulated cluster;
// Option C, restore from backup, is not implemented.)
//
// Every invariant of the Suite runs throughout (and the durability check of prepare_oks).
// Outcome: Correctness on any violation, fail-stop, a write acknowledged without a quorum,
// or an alert that does not fire; Liveness when writes do not resume after the heal or the
// cluster does not converge.
func init() {
	register(Scenario{
		Name:    "quorum_lost",
		Runbook: "Scenario 2: Quorum Lost",
		Summary: "crash or partition a majority during load; no write acknowledged without quorum; the P0 QuorumLost alert fires; option A: heal/restart and the cluster recovers by itself",
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
	return p
}

func (p quorumLostParams) String() string {
	fault, lost := "crash", "backups"
	if p.Partition {
		fault = "partition"
	}
	if p.PrimaryLost {
		lost = "primary+backups"
	}
	return fmt.Sprintf("clients=%d crash_lost=%.2f crash_torn=%.2f fault=%s load_ticks=%d lost=%s lost_ticks=%d net.delay=%s replicas=%d",
		p.Clients, p.CrashLost, p.CrashTorn, fault, p.LoadTicks, lost, p.LostTicks, p.DelayMean, p.Replicas)
}

// quorumLostKnobs change the procedure, for the tests that show the scenario is not vacuous.
type quorumLostKnobs struct {
	skipHeal bool // the operator never heals the network nor restarts the replicas
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
}

func runQuorumLost(o Options, knobs quorumLostKnobs) Result {
	p := drawQuorumLost(o.Seed)
	base := &replicaCrashRun{victim: -1}
	base.runbookRun = newRunbookRun(o, p.Replicas, p.Clients, quorumLostTicksDefault, quorumLostPhaseMax,
		runbookWorld(p.DelayMean, sim.DiskOptions{CrashTornProbability: p.CrashTorn, CrashLostProbability: p.CrashLost}))
	run := &quorumLostRun{replicaCrashRun: base, q: p}
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
	if !run.until(func() bool { return ClusterStatus(c).Primary >= 0 }, quorumLostPhaseMax) {
		return run.fail(Liveness, "no primary to pick the victims from")
	}
	primary := ClusterStatus(c).Primary
	run.victims = run.pickVictims(primary)
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
			c.CrashReplica(v)
			run.counts["fault.replica_crash"]++
		}
	}
	run.inspect()
	var opAtLoss uint64
	for i := 0; i < p.Replicas; i++ {
		if r := c.Replica(i); r != nil {
			opAtLoss = max(opAtLoss, r.Inspect().Op)
		}
	}
	lostAt := c.Loop.Now()

	// 2. Diagnosis: quorum not available, the P0 alert fires, no write acknowledged.
	ackedAtLoss := run.acked
	run.until(func() bool { return false }, quorumLostGraceTicks)
	acked := run.acked
	run.counts["requests_acked_in_grace"] = uint64(acked - ackedAtLoss)
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
		if run.acked != acked {
			return Correctness, fmt.Sprintf("%d write(s) acknowledged %s after the quorum was lost (victims %v): %s",
				run.acked-acked, c.Loop.Now()-lostAt, run.victims, run.describe())
		}
		if reason := noCommitPast(); reason != "" {
			return Correctness, reason
		}
	}
	run.counts["ticks_without_quorum_no_ack"] = uint64(p.LostTicks)
	if s := ClusterStatus(c); s.QuorumAvailable {
		return run.fail(Correctness, "cluster status: quorum available with a majority %v lost (%d healthy)",
			run.victims, s.Healthy)
	}
	if !run.mon.Fired(AlertQuorumLost) || run.mon.FiredAtOrAbove(P0) == nil {
		return run.fail(Correctness, "alert %s did not fire with a majority %v lost: %v", AlertQuorumLost,
			run.victims, run.mon.Events())
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

func (run *quorumLostRun) quorumLostResult(o Options, outcome Outcome, reason string) Result {
	r := run.crashResult(o, "quorum_lost", run.q.String(), outcome, reason)
	r.Counters["victims"] = uint64(len(run.victims))
	return r
}
