package scenarios

import (
	"fmt"

	"vopr/sim"
)

// The replication_lag scenario is the runbook's Scenario 4 (High Replication Lag). From the
// seed: 3 or 5 replicas, 2-3 clients running swarm's random key/value workload, the lagging
// backup (primary + offset when the fault starts), the slow-disk multiplier (200x-1000x)
// and the load before the fault.
//
//  1. Load runs on a healthy cluster; the acknowledgements of a window of rlWindow ticks
//     are the baseline throughput.
//  2. Fault: the victim backup's disk becomes slow (Disk.SetSlow). It falls behind: the
//     alert ReplicationLagHigh (replication_lag_ms > 1000) must fire within rlAlertBound.
//  3. Diagnosis: `replica status` shows the victim's commit far below the cluster's.
//  4. Resolution. The runbook's step 2 for a disk I/O bottleneck, `storage compact
//     --replica-id N` on the victim (Operator.Compact through its own engine; it may free
//     0 bytes, see lagCompact). Then its emergency step, `replica isolate --replica-id N
//     --reason lag-exceeded` (ReplicaIsolate, in the replica: it drops every message and
//     freezes its timers). While it is isolated the cluster keeps committing:
//     acknowledgements in a window must reach at least half the baseline (commit latency
//     restored), and the victim's status says isolated with its view and op unchanged.
//     Then the disk is fixed (SetSlow(1)) and the replica rejoins (`replica unisolate`).
//  5. Outcome: the replica catches up (normal status, executed up to the cluster's commit)
//     within rlCatchUpBound, the lag alert resolves, and with the load stopped every
//     replica converges.
//  6. The throttle applied in step 4 is held to its exact effect on the caught-up standby
//     (lagThrottleCheck): throttled to a small N drawn from the seed, after a quiet second
//     it serves exactly N of a burst of stale reads and drops the rest; then 1000 again.
//
// The cluster has a standby (replica 100) whose disk slows down with the victim's: the
// runbook's symptom "standby replicas marked ineligible for promotion". `replica status
// --replica-id 100` must say it is ineligible (lag > 1000 ms) within rlAlertBound of the
// fault; the runbook's `standby throttle --replica-id 100 --max-qps 1000` is applied with
// the compaction; once its disk is fixed with the victim's, it must catch up and be
// eligible again within rlCatchUpBound (standby.go in cluster/vsr).
//
// Every invariant of the Suite runs throughout (and the durability check of prepare_oks).
func init() {
	register(Scenario{
		Name:    "replication_lag",
		Runbook: "Scenario 4: High Replication Lag",
		Summary: "slow disk on one backup and the standby under load; the lag alert (> 1000 ms) fires and the standby is ineligible; storage compact, standby throttle, replica isolate (commit latency restored), fix the disks, unisolate => both catch up, the standby is eligible again",
		Params:  func(seed uint64) string { return drawReplicationLag(seed).String() },
		Run:     func(o Options) Result { return runReplicationLag(o, replicationLagKnobs{}) },
	})
}

const (
	rlAlertBound    = 3000 // the lag alert fires within 30 s of the fault
	rlWindow        = 200  // 2 s throughput windows
	rlCatchUpBound  = 3000 // the rejoined replica catches up within 30 s
	rlTicksDefault  = 12000
	rlResolveWindow = 500
	// rlCompactBound bounds `storage compact` on the slow replica: it waits in the engine
	// behind the writes queued on the slow disk (up to 1700 ticks in 1000 seeds).
	rlCompactBound = 4000
)

type replicationLagParams struct {
	Replicas, Clients int
	VictimOffset      int
	SlowMultiplier    int
	LoadTicks         int
	DelayMean         sim.Duration
	ThrottleQPS       int        // the small limit of the throttle check (replication_lag_throttle.go)
	Retry             lagRetries // the commands the operator issues twice (replication_lag_retry.go)
}

func drawReplicationLag(seed uint64) replicationLagParams {
	r := sim.Stream(seed, "replication_lag")
	p := replicationLagParams{Replicas: 3 + 2*r.IntN(2), Clients: 2 + r.IntN(2)}
	p.VictimOffset = 1 + r.IntN(p.Replicas-1)
	p.SlowMultiplier = 200 + r.IntN(801)
	p.LoadTicks = 100 + r.IntN(200)
	p.DelayMean = sim.Duration(1+r.IntN(3)) * sim.Millisecond
	p.ThrottleQPS = drawThrottleQPS(seed)
	p.Retry = drawLagRetries(seed)
	return p
}

func (p replicationLagParams) String() string {
	return fmt.Sprintf("clients=%d load_ticks=%d net.delay=%s replicas=%d retry=%s slow=x%d throttle_check=%d victim=primary+%d",
		p.Clients, p.LoadTicks, p.DelayMean, p.Replicas, p.Retry, p.SlowMultiplier, p.ThrottleQPS, p.VictimOffset)
}

type replicationLagKnobs struct {
	skipFix        bool // the operator neither compacts, isolates nor fixes the replica
	skipStandbyFix bool // the operator leaves the standby's disk slow
	// retriedIsolateBreaks retries the isolate and has the retry break the replica as a
	// non-idempotent isolate would (replication_lag_retry.go): every path out of it is cut,
	// so after the unisolate it still receives but never sends.
	retriedIsolateBreaks bool
}

func runReplicationLag(o Options, knobs replicationLagKnobs) Result {
	p := drawReplicationLag(o.Seed)
	if knobs.retriedIsolateBreaks {
		p.Retry.isolate = true
	}
	run := newRunbookRunWithStandbys(o, p.Replicas, 1, p.Clients, rlTicksDefault, 2000,
		runbookWorld(p.DelayMean, sim.DiskOptions{}))
	outcome, reason := run.finish(replicationLagProcedure(run, p, knobs))
	return run.result(o, "replication_lag", p.String(), outcome, reason,
		"view_change", "repair", "truncate", "state_sync", "clock_unsynchronized")
}

// window returns the acknowledgements of the next rlWindow ticks.
func (run *runbookRun) ackWindow() int {
	acked := run.acked
	run.until(func() bool { return false }, rlWindow)
	return run.acked - acked
}

func replicationLagProcedure(run *runbookRun, p replicationLagParams, knobs replicationLagKnobs) (Outcome, string) {
	c := run.c
	// 1. Load on a healthy cluster, and the baseline throughput.
	if !run.until(func() bool { return run.ticks >= p.LoadTicks && run.acked > 0 }, p.LoadTicks+2000) {
		return run.fail(Liveness, "no request acknowledged before the fault")
	}
	baseline := run.ackWindow()
	run.counts["throughput.baseline"] = uint64(baseline)
	if run.mon.Fired(AlertReplicationLag) {
		return run.fail(Correctness, "alert %s fired on a healthy cluster", AlertReplicationLag)
	}
	if !run.until(func() bool { return ClusterStatus(c).Primary >= 0 }, 2000) {
		return run.fail(Liveness, "no primary to pick the victim from")
	}
	victim := (ClusterStatus(c).Primary + p.VictimOffset) % p.Replicas
	if outcome, reason := lagFaultAndDiagnosis(run, p, victim); outcome != Pass {
		return outcome, reason
	}
	if outcome, reason := lagStandbyIneligible(run, p); outcome != Pass {
		return outcome, reason
	}
	run.counts["throughput.slow"] = uint64(run.ackWindow())
	if knobs.skipFix {
		return lagUnfixed(run)
	}
	if outcome, reason := lagCompact(run, victim, p.Retry); outcome != Pass {
		return outcome, reason
	}
	if outcome, reason := applyThrottle(run, p.Replicas, rlStandbyMaxQPS); outcome != Pass {
		return outcome, reason
	}
	if p.Retry.throttle {
		run.pause(p.Retry.gap)
		if outcome, reason := applyThrottle(run, p.Replicas, rlStandbyMaxQPS); outcome != Pass {
			return outcome, reason
		}
		run.counts["retry.throttle"]++
	}
	run.counts["fix.standby_throttle"]++
	if outcome, reason := lagIsolate(run, victim, baseline, p.Retry, knobs); outcome != Pass {
		return outcome, reason
	}
	if outcome, reason := lagRejoin(run, victim, p.Retry, knobs); outcome != Pass {
		return outcome, reason
	}
	return lagThrottleCheck(run, p.ThrottleQPS)
}

// lagFaultAndDiagnosis is steps 2 and 3: the victim's disk becomes slow, the lag alert
// fires naming it, and `replica status` shows its commit behind the cluster's.
func lagFaultAndDiagnosis(run *runbookRun, p replicationLagParams, victim int) (Outcome, string) {
	c := run.c
	c.Nodes[victim].Disk.SetSlow(p.SlowMultiplier)
	run.counts["fault.slow_disk"]++
	faultTick := run.ticks
	if !run.until(func() bool { return run.mon.Firing(AlertReplicationLag) }, rlAlertBound) {
		return run.fail(Correctness, "alert %s did not fire within %d ticks of the slow disk on replica %d",
			AlertReplicationLag, rlAlertBound, victim)
	}
	run.counts["lag.ticks_to_alert"] = uint64(run.ticks - faultTick)
	samples := run.mon.Samples()
	lag, who := samples[len(samples)-1].MaxLagMs()
	run.counts["lag.max_ms_at_alert"] = uint64(lag)
	if who != victim {
		return run.fail(Correctness, "lag alert names replica %d, the slow disk is on replica %d", who, victim)
	}
	lagging := ReplicationLag(c, run.mon)
	if behind := lagging.Replicas[victim]; behind.LagOps == 0 {
		return run.fail(Correctness, "replication lag --all: replica %d is not behind (%d >= %d)", victim,
			behind.CommitMin, lagging.Frontier)
	}
	run.counts["lag.ops_behind_at_alert"] = lagging.Replicas[victim].LagOps
	return Pass, ""
}

// lagFrontier is the highest commit_number any replica reports.
func lagFrontier(c *sim.Cluster) uint64 {
	frontier := uint64(0)
	for _, s := range ClusterStatus(c).Replicas {
		frontier = max(frontier, s.Commit)
	}
	return frontier
}

// lagUnfixed is the run without the operator: the lag stays and the alert keeps firing
// (the slow replica may catch up for a moment, by state sync, and fall behind again).
func lagUnfixed(run *runbookRun) (Outcome, string) {
	firing := 0
	run.until(func() bool { return false }, rlCatchUpBound-1000)
	run.until(func() bool {
		if run.mon.Firing(AlertReplicationLag) {
			firing++
		}
		return false
	}, 1000)
	run.counts["skip.ticks_firing_last_10s"] = uint64(firing)
	if firing > 0 {
		return run.fail(Liveness, "fix skipped: alert %s still firing (%d of the last 1000 ticks)",
			AlertReplicationLag, firing)
	}
	return Pass, ""
}

// lagCompact is the runbook's resolution step 2 for a disk I/O bottleneck, `storage compact
// --replica-id N` on the lagging replica (Operator.Compact: the replica's own engine, queued
// behind the writes its slow disk has not finished, so it takes as long as they do). The
// engine removes only log segments wholly at or below the replica's durable checkpoint. A
// replica this far behind may have no such segment (its checkpoint still in the first
// segment, or everything below it already removed), so freeing 0 bytes is a correct
// answer, not a failure; compaction does not make a slow disk fast either, which is why the
// runbook goes on to isolate the replica. An error is a failure: the replica is running
// and serving, so the engine must take the action.
func lagCompact(run *runbookRun, victim int, retry lagRetries) (Outcome, string) {
	if r := run.c.Replica(victim); r != nil { // a replica that is down fails below, as unreachable
		run.counts["fix.compact_compactable_bytes"] = uint64(r.Inspect().DiskCompactableBytes)
	}
	start := run.ticks
	op := *run.op
	op.TicksMax = rlCompactBound
	retried := func() (Outcome, string) { return Pass, "" }
	if retry.compact { // the first command, whose answer the operator gave up on
		retried = lagCompactRetry(run, victim)
	}
	freed, err := op.Compact(victim)
	if err == ErrTimeout {
		return run.fail(Liveness, "storage compact on slow replica %d did not complete in %d ticks", victim,
			run.ticks-start)
	} else if err != nil {
		return run.fail(Correctness, "storage compact on replica %d: %v", victim, err)
	}
	run.counts["fix.compact"]++
	run.counts["fix.compact_ticks"] = uint64(run.ticks - start)
	run.counts["fix.compact_freed_bytes"] = uint64(freed)
	if freed == 0 {
		run.counts["fix.compact_freed_nothing"]++
	}
	return retried()
}

// lagIsolate is the runbook's emergency step, `replica isolate --replica-id N --reason
// lag-exceeded` (ReplicaIsolate: the replica itself drops what it receives, sends nothing
// and freezes its timers). While it is cut off the cluster's commit latency is restored:
// acknowledgements in a window reach at least half the baseline. The replica's own status
// says it is isolated, and it stays where it was: its view and op_number move only on
// messages, and it gets none (a replica that ignored the isolation would follow the
// cluster's new ops).
func lagIsolate(run *runbookRun, victim, baseline int, retry lagRetries, knobs replicationLagKnobs) (Outcome, string) {
	c := run.c
	if err := ReplicaIsolate(c, victim, "lag-exceeded"); err != nil {
		return run.fail(Correctness, "replica isolate %d: %v", victim, err)
	}
	frozen, committed := ReplicaStatus(c, victim), lagFrontier(c)
	if retry.isolate {
		run.pause(retry.gap)
		if err := ReplicaIsolate(c, victim, "lag-exceeded"); err != nil {
			return run.fail(Correctness, "retried replica isolate %d: %v", victim, err)
		}
		if knobs.retriedIsolateBreaks {
			for to := range c.Network.Options().NodeCount {
				if to != victim {
					c.Network.Cut(victim, to)
				}
			}
		}
		run.counts["retry.isolate"]++
	}
	if !frozen.Isolated {
		return run.fail(Correctness, "replica status after replica isolate: %s, want isolated", frozen)
	}
	run.counts["fix.isolate"]++
	run.until(func() bool { return false }, rlWindow/2) // the pipeline settles
	isolated := run.ackWindow()
	run.counts["throughput.isolated"] = uint64(isolated)
	if 2*isolated < baseline {
		return run.fail(Liveness, "with replica %d isolated %d acknowledgements in %d ticks, baseline %d",
			victim, isolated, rlWindow, baseline)
	}
	now := ReplicaStatus(c, victim)
	if !now.Isolated || now.View != frozen.View || now.Op != frozen.Op {
		return run.fail(Correctness, "isolated replica moved: %s, at isolation %s", now, frozen)
	}
	run.counts["isolate.cluster_commits"] = lagFrontier(c) - committed
	if run.counts["isolate.cluster_commits"] == 0 {
		return run.fail(Liveness, "the cluster committed nothing while replica %d was isolated", victim)
	}
	return Pass, ""
}

// lagRejoin fixes the disk and unisolates the replica (`replica unisolate`; it then waits
// a full timeout period to hear from the cluster, see vsr/operator.go). It must catch up
// within rlCatchUpBound, the lag alert must resolve, and with the load stopped every replica
// converges.
func lagRejoin(run *runbookRun, victim int, retry lagRetries, knobs replicationLagKnobs) (Outcome, string) {
	c := run.c
	c.Nodes[victim].Disk.SetSlow(1)
	if !knobs.skipStandbyFix {
		c.Nodes[c.ReplicaCount()].Disk.SetSlow(1)
	}
	if err := ReplicaUnisolate(c, victim); err != nil {
		return run.fail(Correctness, "replica unisolate %d: %v", victim, err)
	}
	if s := ReplicaStatus(c, victim); s.Isolated {
		return run.fail(Correctness, "replica status after unisolate: %s", s)
	}
	if retry.unisolate {
		run.pause(retry.gap)
		if err := ReplicaUnisolate(c, victim); err != nil {
			return run.fail(Correctness, "retried replica unisolate %d: %v", victim, err)
		}
		if s := ReplicaStatus(c, victim); s.Isolated {
			return run.fail(Correctness, "replica status after the retried unisolate: %s", s)
		}
		run.counts["retry.unisolate"]++
	}
	run.counts["fix.rejoin"]++
	rejoin, target := run.ticks, lagFrontier(c)
	caughtUp := func() bool {
		s := ReplicaStatus(c, victim)
		return s.Healthy() && s.CommitMin >= target
	}
	if !run.until(caughtUp, rlCatchUpBound) {
		return run.fail(Liveness, "replica %d did not catch up to op %d within %d ticks of rejoining", victim,
			target, rlCatchUpBound)
	}
	run.counts["fix.ticks_to_catch_up"] = uint64(run.ticks - rejoin)
	if !run.until(func() bool { return !run.mon.Firing(AlertReplicationLag) }, rlResolveWindow) {
		return run.fail(Liveness, "alert %s still firing after replica %d caught up", AlertReplicationLag, victim)
	}
	if outcome, reason := lagStandbyEligibleAgain(run); outcome != Pass {
		return outcome, reason
	}
	run.load = false
	if !run.until(run.converged, 2000) {
		return run.fail(Liveness, "no convergence after the rejoin")
	}
	return Pass, ""
}

// rlStandbyMaxQPS is the runbook's `standby throttle --max-qps`.
const rlStandbyMaxQPS = 1000

// lagStandbyIneligible: the standby, on a disk as slow as the victim's, falls more than
// 1000 ms behind, and `replica status --replica-id 100` says it is ineligible for promotion.
func lagStandbyIneligible(run *runbookRun, p replicationLagParams) (Outcome, string) {
	c, standby := run.c, p.Replicas
	c.Nodes[standby].Disk.SetSlow(p.SlowMultiplier)
	start := run.ticks
	ineligible := func() bool { return standbyEligibility(c, standby) == "ineligible" }
	if !run.until(ineligible, rlAlertBound) {
		return run.fail(Correctness, "standby 100 on a slow disk still eligible for promotion after %d ticks: %s",
			rlAlertBound, ReplicaStatus(c, standby))
	}
	run.counts["standby.ineligible"]++
	run.counts["standby.ticks_to_ineligible"] = uint64(run.ticks - start)
	return Pass, ""
}

// lagStandbyEligibleAgain: with its disk fixed, the standby catches up and is eligible for
// promotion again within rlCatchUpBound, and stays eligible for a whole window under load (a
// standby on a slow disk can look current for a moment between two checkpoints, whose
// writes stall its execution).
func lagStandbyEligibleAgain(run *runbookRun) (Outcome, string) {
	c, standby := run.c, run.c.ReplicaCount()
	start, since := run.ticks, -1
	eligible := func() bool {
		if standbyEligibility(c, standby) != "eligible" {
			since = -1
			return false
		}
		if since < 0 {
			since = run.ticks
		}
		return run.ticks-since >= rlWindow
	}
	if !run.until(eligible, rlCatchUpBound) {
		return run.fail(Liveness, "standby 100 not eligible for promotion %d ticks after its disk was fixed: %s",
			rlCatchUpBound, ReplicaStatus(c, standby))
	}
	run.counts["standby.eligible_again"]++
	run.counts["standby.ticks_to_eligible"] = uint64(run.ticks - start)
	return Pass, ""
}

// standbyEligibility is what `replica status` says of standby i: "eligible", "ineligible"
// (by its measured lag), "unknown" (ineligible: no primary heard since it started, so no lag
// measured), or "" when it does not answer as a standby.
func standbyEligibility(c *sim.Cluster, i int) string {
	switch s := ReplicaStatus(c, i); {
	case s.Standby == nil:
		return ""
	case !s.Standby.LagKnown:
		return "unknown"
	case s.Standby.Eligible:
		return "eligible"
	}
	return "ineligible"
}
