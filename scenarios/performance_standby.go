package scenarios

import (
	"vopr/cluster/client"
	"vopr/cluster/kv"
	"vopr/cluster/vsr"
	"vopr/sim"
)

// The performance scenario's third run is the runbook's quick fix "add standby replicas
// (offload read queries)": `cluster reconfig add-standby --replica-id 100`. The cluster is
// formatted with three replicas and a standby slot outside the configuration (a spare node,
// recovering and silent). The clients run the runbook scenarios' random key/value workload
// with every checker of the swarm on (linearizability, durability, standby reads):
//
//  1. A window of load with every get served by the cluster, through the primary.
//  2. The operator adds the standby; the change goes through the log; the standby catches
//     up (state sync or repair) to the commit the cluster had when it was added.
//  3. A window of load with a share of the gets (staleReadPercent) sent to the standby as
//     stale reads (client.ReadStale, checked by the standby_reads invariant).
//  4. The load stops and every replica and the standby converge.
//
// The run fails (Liveness) unless the standby served reads and the primary's share of the
// reads dropped from the first window to the second.

const (
	offloadClients     = 4
	offloadWindowTicks = 100 // each measured window: 1 s of simulated time
	offloadPhaseMax    = 2000
	offloadTicksMax    = 2*offloadWindowTicks + 3*offloadPhaseMax
	offloadStandbyID   = vsr.StandbyIDBase // the runbook's --replica-id 100
)

// offloadReport is the read offload run's measurements.
type offloadReport struct {
	primaryReadsBefore, primaryReadsAfter uint64 // gets answered by the cluster (its primary) in each window
	standbyReads                          uint64 // stale reads the standby answered in the second window
	standbyServed                         uint64 // the standby's own count of stale reads served
	addTicks                              uint64 // ticks from add-standby to the standby caught up
}

// primarySharePct is the primary's share of the reads in a window, in percent.
func primarySharePct(primary, standby uint64) uint64 {
	if primary+standby == 0 {
		return 0
	}
	return 100 * primary / (primary + standby)
}

func (rep offloadReport) counters(c map[string]uint64) {
	c["offload.reads_primary_before"], c["offload.reads_primary_after"] = rep.primaryReadsBefore, rep.primaryReadsAfter
	c["offload.reads_standby"], c["offload.standby_stale_reads_served"] = rep.standbyReads, rep.standbyServed
	c["offload.primary_read_share_before_pct"] = primarySharePct(rep.primaryReadsBefore, 0)
	c["offload.primary_read_share_after_pct"] = primarySharePct(rep.primaryReadsAfter, rep.standbyReads)
	c["offload.ticks_to_standby_caught_up"] = rep.addTicks
}

// performanceOffload runs the read offload and returns its report, its result (outcome,
// fingerprint, checker counters) and the run's counters.
// --ticks-max N gives it N/2 ticks, as each load run has.
func performanceOffload(o Options, knobs performanceKnobs) (offloadReport, Result) {
	replicas := 3
	o.TicksMax /= 2
	run := newRunbookRunWithSpares(o, replicas, 1, 1<<uint(replicas), offloadClients, offloadTicksMax, offloadPhaseMax,
		performanceWorld(o.Seed))
	var rep offloadReport
	primaryReads := uint64(0)
	run.onReply = func(op kv.Op, r client.Result) {
		if op.Kind == kv.KindGet && r.Outcome == client.OK {
			primaryReads++
		}
	}
	outcome, reason := run.finish(offloadProcedure(run, o.Seed, knobs, &rep, &primaryReads))
	r := run.result(o, "performance", "", outcome, reason, "standby_read", "standby_state_sync", "state_sync")
	rep.counters(r.Counters)
	return rep, r
}

func offloadProcedure(run *runbookRun, seed uint64, knobs performanceKnobs, rep *offloadReport, primaryReads *uint64) (Outcome, string) {
	c, standby := run.c, run.c.ReplicaCount()
	if !run.until(func() bool { return run.acked > 0 }, offloadPhaseMax) {
		return run.fail(Liveness, "read offload: no request acknowledged before the first window")
	}
	*primaryReads = 0
	run.until(func() bool { return false }, offloadWindowTicks)
	rep.primaryReadsBefore = *primaryReads
	if run.ticks >= run.budget {
		return run.fail(Liveness, "read offload: its budget of %d ticks ran out before add-standby", run.budget)
	}

	if !knobs.skipAddStandby {
		if _, err := run.op.Reconfig("add-standby", offloadStandbyID, nil); err != nil {
			return run.failReconfig("read offload", "add-standby", offloadStandbyID, err)
		}
		run.counts["reconfig.add_standby"]++
		target, start := clusterCommit(c), run.ticks
		caughtUp := func() bool {
			r := c.Replica(standby)
			return r != nil && c.IsMember(standby) && r.Inspect().Status == vsr.StatusNormal && r.Inspect().CommitMin >= target
		}
		if !run.until(caughtUp, offloadPhaseMax) {
			return run.fail(Liveness, "read offload: standby %d added did not catch up to op %d", offloadStandbyID, target)
		}
		rep.addTicks = uint64(run.ticks - start)
	}

	run.staleReads = sim.Stream(seed, "stale-reads") // gets go to the standby from now on
	*primaryReads = 0
	standbyReads := run.paths["standby_read"]
	run.until(func() bool { return false }, offloadWindowTicks)
	rep.primaryReadsAfter, rep.standbyReads = *primaryReads, run.paths["standby_read"]-standbyReads
	run.staleReads = nil
	if r := c.Replica(standby); r != nil {
		rep.standbyServed = r.Inspect().Metrics.StaleReads
	}
	if reason := run.safety(); reason != "" {
		return Correctness, reason
	}
	if rep.standbyReads == 0 || primarySharePct(rep.primaryReadsAfter, rep.standbyReads) >= primarySharePct(rep.primaryReadsBefore, 0) {
		return run.fail(Liveness, "read offload: reads did not move to the standby (add-standby skipped=%t): primary %d reads before, %d after, standby %d",
			knobs.skipAddStandby, rep.primaryReadsBefore, rep.primaryReadsAfter, rep.standbyReads)
	}
	run.load = false
	if !run.until(run.converged, offloadPhaseMax) {
		return run.fail(Liveness, "read offload: no convergence with the standby")
	}
	return Pass, ""
}

// performanceWorld is the performance scenario's world: no faults, NVMe-like disks,
// sub-millisecond round trips.
func performanceWorld(seed uint64) sim.WorldOptions {
	return sim.WorldOptions{Seed: seed,
		Network: sim.NetworkOptions{OneWayDelayMin: 50 * sim.Microsecond, OneWayDelayMean: 150 * sim.Microsecond,
			PathMaximumCapacity: 1024},
		Disk: sim.DiskOptions{ReadLatencyMin: 10 * sim.Microsecond, ReadLatencyMean: 20 * sim.Microsecond,
			WriteLatencyMin: 10 * sim.Microsecond, WriteLatencyMean: 30 * sim.Microsecond, Capacity: 1 << 30}}
}
