package scenarios

import (
	"fmt"

	"vopr/cluster/vsr"
	"vopr/invariants"
	"vopr/sim"
)

// runbookRun is the driver every runbook scenario shares: the swarm's cluster, workload and
// checkers (every invariant and the durability check), a metrics Monitor and an Operator,
// stepped tick by tick within a budget.
type runbookRun struct {
	*swarmRun
	mon    *Monitor
	op     *Operator
	ticks  int
	budget int
	counts map[string]uint64
}

// newRunbookRun builds the cluster of a runbook scenario. budget is the run's default tick
// budget (--ticks-max overrides it); phaseMax bounds each operator action.
func newRunbookRun(o Options, replicas, clients, budget, phaseMax int, world sim.WorldOptions) *runbookRun {
	return newRunbookRunWithStandbys(o, replicas, 0, clients, budget, phaseMax, world)
}

// newRunbookRunWithStandbys is newRunbookRun with standbys after the replicas (the runbook's
// replicas 100 and up): they are inspected like replicas and must converge at the end.
func newRunbookRunWithStandbys(o Options, replicas, standbys, clients, budget, phaseMax int, world sim.WorldOptions) *runbookRun {
	return newRunbookRunWithSpares(o, replicas, standbys, 0, clients, budget, phaseMax, world)
}

// newRunbookRunWithSpares is newRunbookRunWithStandbys with the slots of outside (a bit per
// slot) formatted as spares: outside the configuration, waiting for `cluster reconfig
// add-replica|add-standby` to add them.
func newRunbookRunWithSpares(o Options, replicas, standbys int, outside uint16, clients, budget, phaseMax int,
	world sim.WorldOptions) *runbookRun {
	run := &runbookRun{counts: map[string]uint64{}, budget: o.TicksMax,
		swarmRun: &swarmRun{workload: sim.Stream(o.Seed, "workload"), load: true, paths: map[string]uint64{},
			checked: !o.Unchecked}}
	if run.budget == 0 {
		run.budget = budget
	}
	world.Seed, world.DiskPool = o.Seed, o.disks
	run.op = &Operator{TicksMax: phaseMax} // its C and Step once the cluster exists
	opts := sim.ClusterOptions{World: world, Replicas: replicas, Standbys: standbys, Outside: outside, Clients: clients,
		ClusterID: o.Seed | 1,
		Mutation:  o.Mutation, OnEvent: func(e vsr.Event) { run.onEvent(e); run.op.observeEvent(e) }}
	if run.checked {
		opts.OnReplicaSend, opts.OnClientAnswer = run.onReplicaSend, run.onClientAnswer
		opts.OnReplicaReceive = run.onReplicaReceive
	}
	run.suite = invariants.NewSuite(replicas)
	if run.checked {
		run.suite.WatchDeliveries()
		run.suite.SetMonotonic(func(i int) int64 { return run.c.Nodes[i].Clock.Monotonic() })
	}
	run.c = sim.NewCluster(opts)
	run.wireDisks()
	run.attachTrace(o)
	c := run.c
	run.incarnations = make([]*vsr.Replica, c.MemberCount())
	for i := 0; i < clients; i++ {
		i := i
		c.SetClientTick(i, func() { run.clientTick(i) })
	}
	run.mon = NewMonitor(c)
	run.op.C, run.op.Step = c, run.step
	return run
}

// step is one tick of the world: the replicas, the checkers and the metrics.
func (run *runbookRun) step() {
	run.ticks++
	run.c.RunFor(sim.TickInterval)
	run.inspect()
	run.mon.Observe()
}

// until steps until done, a violation, ticksMax or the run's budget; it reports done.
func (run *runbookRun) until(done func() bool, ticksMax int) bool {
	for t := 0; t < ticksMax && run.ticks < run.budget; t++ {
		if run.safety() != "" {
			return false
		}
		if done() {
			return true
		}
		run.step()
	}
	return run.safety() == "" && done()
}

// fail classifies a phase that did not reach its goal: a violation first, then the given
// outcome.
func (run *runbookRun) fail(outcome Outcome, format string, args ...any) (Outcome, string) {
	if reason := run.safety(); reason != "" {
		return Correctness, reason
	}
	return outcome, fmt.Sprintf(format, args...) + ": " + run.describe()
}

// finish runs the end-of-run checkers on a passing run.
func (run *runbookRun) finish(outcome Outcome, reason string) (Outcome, string) {
	if outcome == Pass {
		if violation := run.safety(); violation != "" {
			return Correctness, violation
		} else if v := run.suite.Finish(); v != nil {
			return Correctness, v.Error()
		}
	}
	return outcome, reason
}

// result fills in the fingerprint, the workload and metrics counters, and the coverage of
// the given protocol paths.
func (run *runbookRun) result(o Options, name, params string, outcome Outcome, reason string, paths ...string) Result {
	c := run.c
	r := Result{Scenario: name, Seed: o.Seed, Params: params, Outcome: outcome, Reason: reason,
		TraceHash: c.Trace.Hash(), Events: c.Trace.Count(), SimTime: c.Loop.Now(), Trace: c.Trace.Detach()}
	r.Counters = map[string]uint64{"requests_acked": uint64(run.acked), "replica.restarts": c.Restarts(),
		"node.fail_stops": uint64(len(c.Failures()))}
	for k, v := range run.counts {
		r.Counters[k] = v
	}
	for _, path := range paths {
		r.Counters["coverage.path."+path] = run.paths[path]
	}
	run.mon.Counters(r.Counters)
	run.checkerCounters(r.Counters)
	return r
}

// runbookWorld is the world of the runbook scenarios: a healthy network with the given mean
// one-way delay and SSD-like disks; each scenario then injects exactly its own fault.
func runbookWorld(delayMean sim.Duration, disk sim.DiskOptions) sim.WorldOptions {
	disk.ReadLatencyMin, disk.ReadLatencyMean = 50*sim.Microsecond, 300*sim.Microsecond
	disk.WriteLatencyMin, disk.WriteLatencyMean = 50*sim.Microsecond, 800*sim.Microsecond
	if disk.Capacity == 0 {
		disk.Capacity = 256 << 20
	}
	return sim.WorldOptions{
		Network: sim.NetworkOptions{OneWayDelayMin: sim.Millisecond / 2, OneWayDelayMean: delayMean,
			PathMaximumCapacity: sim.DefaultPathMaximumCapacity},
		Disk: disk,
	}
}

// restartAndCatchUp restarts the victim and watches its status: recovering, then normal,
// then executed up to the commit the cluster had at the restart.
func (run *runbookRun) restartAndCatchUp(victim int, what string, phaseMax int) (Outcome, string) {
	c := run.c
	target := uint64(0)
	for _, s := range ClusterStatus(c).Replicas {
		target = max(target, s.Commit)
	}
	c.StartReplica(victim)
	var seen []string
	watch := func() bool {
		s := ReplicaStatus(c, victim)
		if len(seen) == 0 || seen[len(seen)-1] != s.Status {
			seen = append(seen, s.Status)
		}
		return s.Status == vsr.StatusNormal.String() && s.CommitMin >= target
	}
	if !run.until(watch, phaseMax) {
		if len(seen) > 0 && seen[len(seen)-1] == vsr.StatusStopped.String() {
			return run.fail(Correctness, "%s: replica %d stopped after restart (statuses %v)", what, victim, seen)
		}
		return run.fail(Liveness, "%s: replica %d did not catch up to op %d after restart (statuses %v)", what,
			victim, target, seen)
	}
	if seen[0] != vsr.StatusRecovering.String() {
		return Correctness, fmt.Sprintf("%s: replica %d statuses after restart %v, want recovering first", what,
			victim, seen)
	}
	run.counts["status.recovering_seen"]++
	run.counts["status.watch_steps"] += uint64(len(seen))
	return Pass, ""
}
