package scenarios

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"

	"vopr/cluster/client"
	"vopr/cluster/kv"
	"vopr/cluster/vsr"
	"vopr/invariants"
	"vopr/sim"
)

// The performance scenario reproduces the runbook's "Performance troubleshooting" section on
// a healthy cluster: no faults, NVMe-like disks, sub-millisecond round trips. Closed-loop
// clients (each submits its next operation as soon as the previous one returns) load three
// replicas, once with max-batch-size 1 and once with the seed's batch size, and the run
// reports p99 and p99.9 commit latency and throughput in simulated time against the
// runbook's targets (p99 < 50 ms; > 50K ops/sec for 3 replicas). Every invariant runs, and
// the latency target is asserted; throughput is reported with the effect of batching. A
// third run applies the runbook's quick fix `cluster reconfig add-standby --replica-id 100`
// and shows the reads moving to the standby (performance_standby.go).
func init() {
	register(Scenario{
		Name:    "performance",
		Runbook: "Performance troubleshooting",
		Summary: "no faults, NVMe-like disks, <1 ms RTT: p99/p99.9 commit latency and throughput vs the runbook targets, and the effect of max-batch-size; add-standby 100 offloads reads (the primary's read share drops)",
		Params:  func(seed uint64) string { return drawPerformance(seed).String() },
		Run:     func(o Options) Result { return runPerformance(o, performanceKnobs{}) },
		CheckTicksMax: func(ticksMax int) error {
			if ticksMax != 0 && ticksMax < performanceTicksMin {
				return fmt.Errorf("performance: --ticks-max %d: expected 0 (its default, %d) or at least %d: each of its two load runs "+
					"needs %d ticks of warm-up and at least one measured tick (the read offload run gets as many ticks as each)", ticksMax, performanceTicksDefault, performanceTicksMin, performanceWarmupTicks)
			}
			return nil
		},
	})
}

const (
	// performanceP99TargetMs is the runbook's target: p99 < 50 ms.
	performanceP99TargetMs = 50
	// performanceThroughputTarget is the runbook's target for 3 replicas: > 50K ops/sec.
	performanceThroughputTarget = 50_000
	performanceDuration         = sim.Second
	// performanceWarmupTicks is each load run's warm-up (sessions registered, clocks
	// synchronised) before the measured window.
	performanceWarmupTicks  = 50
	performanceTicksDefault = 2 * (performanceWarmupTicks + int(performanceDuration/sim.TickInterval))
	performanceTicksMin     = 2 * (performanceWarmupTicks + 1)
)

// performanceWindow is the measured window of each load run: --ticks-max is split between
// the two runs, each spending its warm-up first.
func performanceWindow(ticksMax int) sim.Duration {
	if ticksMax == 0 {
		return performanceDuration
	}
	return sim.Duration(ticksMax/2-performanceWarmupTicks) * sim.TickInterval
}

type performanceParams struct {
	clients  int
	batchMax int
}

func drawPerformance(seed uint64) performanceParams {
	r := sim.Stream(seed, "params")
	return performanceParams{clients: 32 + r.IntN(vsr.ClientsMax-31), batchMax: 16 << r.IntN(3)}
}

func (p performanceParams) String() string {
	return fmt.Sprintf("replicas=3 clients=%d max_batch_size=1,%d disk=nvme rtt<1ms duration=%s",
		p.clients, p.batchMax, performanceDuration)
}

// performanceReport is one load run's measurements.
type performanceReport struct {
	batchMax      int
	ops           int
	p99Ms, p999Ms float64
	opsPerSec     float64
}

// performanceKnobs change the procedure, for the tests that show the scenario is not vacuous.
type performanceKnobs struct {
	skipAddStandby bool // the operator never runs add-standby: reads go on to the primary only
	// reported, if set, alters each commit latency histogram as the latency witness reads it:
	// a replica that reports its latencies wrong.
	reported func(*vsr.Histogram)
}

func runPerformance(o Options, knobs performanceKnobs) Result {
	p := drawPerformance(o.Seed)
	r := Result{Scenario: "performance", Seed: o.Seed, Params: p.String(), Counters: map[string]uint64{}}
	var reports []performanceReport
	for _, batch := range []int{1, p.batchMax} {
		report, c, violation := performanceRun(o, p.clients, batch, knobs)
		r.TraceHash, r.Events, r.SimTime, r.Trace = c.Trace.Hash(), c.Trace.Count(), r.SimTime+c.Loop.Now(), c.Trace.Detach()
		if violation != "" {
			r.Outcome, r.Reason = Correctness, violation
			return r
		}
		reports = append(reports, report)
		name := fmt.Sprintf("batch_%d.", batch)
		r.Counters[name+"ops"] = uint64(report.ops)
		r.Counters[name+"ops_per_sec"] = uint64(report.opsPerSec)
		r.Counters[name+"p99_us"] = uint64(report.p99Ms * 1000)
		r.Counters[name+"p999_us"] = uint64(report.p999Ms * 1000)
	}
	offload, or := performanceOffload(o, knobs)
	r.TraceHash, r.Events, r.SimTime, r.Trace = or.TraceHash, or.Events, r.SimTime+or.SimTime, or.Trace
	for k, v := range or.Counters {
		r.Counters[k] = v
	}
	if or.Outcome != Pass {
		r.Outcome, r.Reason = or.Outcome, or.Reason
		return r
	}
	if o.Out != nil {
		fmt.Fprintf(o.Out, "performance add-standby 100: primary served %d reads before, %d after; the standby %d (primary's share %d%% -> %d%%)\n",
			offload.primaryReadsBefore, offload.primaryReadsAfter, offload.standbyReads,
			primarySharePct(offload.primaryReadsBefore, 0), primarySharePct(offload.primaryReadsAfter, offload.standbyReads))
		for _, rep := range reports {
			fmt.Fprintf(o.Out, "performance max-batch-size=%d: %d ops, %.0f ops/s (target > %d), p99 %.2f ms, p99.9 %.2f ms (target p99 < %d ms)\n",
				rep.batchMax, rep.ops, rep.opsPerSec, performanceThroughputTarget, rep.p99Ms, rep.p999Ms, performanceP99TargetMs)
		}
	}
	batched := reports[len(reports)-1]
	switch {
	case batched.p99Ms >= performanceP99TargetMs:
		r.Outcome, r.Reason = Liveness, fmt.Sprintf("p99 commit latency %.2f ms misses the runbook target of %d ms", batched.p99Ms, performanceP99TargetMs)
	case batched.opsPerSec <= reports[0].opsPerSec:
		r.Outcome, r.Reason = Liveness, fmt.Sprintf("batching did not raise throughput: %.0f ops/s with max-batch-size %d, %.0f with 1",
			batched.opsPerSec, batched.batchMax, reports[0].opsPerSec)
	}
	return r
}

// performanceRun loads a fresh healthy cluster for performanceDuration with closed-loop
// clients and measures the latency of every acknowledged operation as its client saw it.
func performanceRun(o Options, clients, batch int, knobs performanceKnobs) (performanceReport, *sim.Cluster, string) {
	suite := invariants.NewSuite(3)
	var c *sim.Cluster
	batched := batchSizes{}
	// The commit latency the replicas report, held to the harness's own measurement
	// (metrics_latency.go): the p99 this scenario is about, as the metrics endpoint shows it.
	latency := &latencyWitness{active: func() int { return 3 }}
	c = sim.NewCluster(sim.ClusterOptions{
		Replicas: 3, Clients: clients, ClusterID: o.Seed | 1, Config: vsr.DefaultConfig(),
		World: performanceWorld(o.Seed),
		OnEvent: func(e vsr.Event) {
			if c != nil {
				suite.OnEvent(int64(c.Loop.Now()), e)
				batched.observe(e)
				latency.event(e.Replica, e)
			}
		},
		OnReplicaSend:    func(from, _ int, msg []byte) { latency.sent(o.Seed|1, from, msg) },
		OnReplicaReceive: func(to int, msg []byte) { latency.delivered(o.Seed|1, to, msg) },
	})
	latency.mono = func(node int) int64 { return c.Nodes[node].Clock.Monotonic() }
	c.Trace.Out, c.Trace.Level = nil, o.Log // the per-op trace of a load run is too large to print
	if o.Picture != nil {
		o.Picture.attach(c, suite.History()) // the picture shows the last load run (no faults to sample)
	}
	load := &closedLoop{c: c, suite: suite, workload: sim.Stream(o.Seed, fmt.Sprintf("workload/%d", batch))}
	for i := 0; i < clients; i++ {
		i := i
		c.SetClientTick(i, func() { load.kick(i) })
	}
	// The runbook's quick fix sets the batch size on the running cluster (every replica
	// boots with the default), each command held to its documented effect, in the first
	// tick of the warm-up (sessions registered and clocks synchronised before the measured
	// window).
	c.RunFor(sim.TickInterval)
	if problem := checkBatchSizeRules(simConfigCommands(c), 3, batch); problem != "" {
		return performanceReport{}, c, problem
	}
	if reason := runWitnessed(c, latency, performanceWarmupTicks-1, knobs.reported); reason != "" {
		return performanceReport{}, c, reason
	}
	load.measuring, load.from, load.window = true, c.Loop.Now(), performanceWindow(o.TicksMax)
	if reason := runWitnessed(c, latency, int(load.window/sim.TickInterval), knobs.reported); reason != "" {
		return performanceReport{}, c, reason
	}
	load.measuring = false
	for i := 0; i < 3; i++ {
		if rep := c.Replica(i); rep != nil {
			suite.OnInspect(int64(c.Loop.Now()), i, rep.InspectState())
		}
	}
	if v := suite.Violation(); v != nil {
		return performanceReport{}, c, v.Error()
	}
	if failures := c.Failures(); len(failures) > 0 {
		return performanceReport{}, c, fmt.Sprintf("replica %d fail-stopped: %s", failures[0].Node, failures[0].Message)
	}
	if msg := checkReportedLatency(c, load.slowestNs); msg != "" {
		return performanceReport{}, c, msg
	}
	if msg := batched.check(batch); msg != "" {
		return performanceReport{}, c, msg
	}
	return load.report(batch), c, ""
}

// runWitnessed runs c for ticks ticks, showing the latency witness every replica at each
// (its histogram altered by reported, if set: a test's); it returns the witness's first
// violation, or "".
func runWitnessed(c *sim.Cluster, w *latencyWitness, ticks int, reported func(*vsr.Histogram)) string {
	var in vsr.Inspection
	for tick := 0; tick < ticks; tick++ {
		c.RunFor(sim.TickInterval)
		for i := 0; i < c.ReplicaCount(); i++ {
			if r := c.Replica(i); r != nil {
				r.InspectStateInto(&in)
				if reported != nil {
					reported(&in.Metrics.CommitLatency)
				}
				if reason := w.inspect(i, r, &in); reason != "" {
					return reason
				}
			}
		}
	}
	return ""
}

// batchSizes records the largest batch any replica executed: the tester reads the request
// count at the head of each executed prepare's body (a u16, the batch's wire format) itself.
type batchSizes struct {
	largest   int
	largestOp uint64
	replica   int
}

func (b *batchSizes) observe(e vsr.Event) {
	if e.Kind != vsr.EventCommit || len(e.Prepare) < vsr.HeaderSize+2 {
		return
	}
	if n := int(binary.LittleEndian.Uint16(e.Prepare[vsr.HeaderSize:])); n > b.largest {
		b.largest, b.largestOp, b.replica = n, e.Op, e.Replica
	}
}

// check holds the executed batches to the configured max-batch-size: no op may carry more
// requests than the operator allowed.
func (b *batchSizes) check(batchMax int) string {
	if b.largest > batchMax {
		return fmt.Sprintf("max-batch-size %d: replica %d executed op %d, a batch of %d requests",
			batchMax, b.replica, b.largestOp, b.largest)
	}
	return ""
}

// checkReportedLatency holds each replica's commit latency histogram (the p99 its metrics
// and the runbook's dashboards report) to what the clients saw: an op's prepare-to-commit
// time on the primary is part of its request-to-reply time, so no quantile may exceed the
// slowest acknowledged request of the run, give or take the histogram's power-of-two bucket
// (an upper bound at most twice the sample, and 1 ms for samples under 1 ms). A histogram
// fed the wrong unit reported latencies a thousand times too high, and nothing read it.
func checkReportedLatency(c *sim.Cluster, slowestNs int64) string {
	bound := max(1, 2*((slowestNs+999_999)/1_000_000))
	for i := 0; i < c.ReplicaCount(); i++ {
		r := c.Replica(i)
		if r == nil {
			continue
		}
		h := r.InspectState().Metrics.CommitLatency
		if p99 := h.QuantileMs(0.99); p99 > bound {
			return fmt.Sprintf("replica %d reports a p99 commit latency of %d ms over %d samples, but the slowest acknowledged request took %s (at most %d ms allowed for the histogram's buckets)",
				i, p99, h.Count, sim.Duration(slowestNs), bound)
		}
	}
	return ""
}

// closedLoop keeps every client busy: the next operation goes out when the previous returns.
type closedLoop struct {
	c        *sim.Cluster
	suite    *invariants.Suite
	workload interface {
		IntN(int) int
		Uint32() uint32
	}
	measuring bool
	from      sim.Time
	window    sim.Duration
	latencies []int64 // ns, of operations acknowledged inside the window
	slowestNs int64   // the slowest acknowledged operation of the whole run
	text      []byte  // scratch for a key and a value
}

func (l *closedLoop) kick(i int) {
	cl := l.c.Client(i)
	if cl.Busy() {
		return
	}
	if !cl.Registered() {
		cl.Submit(nil, nil)
		return
	}
	l.submit(i)
}

func (l *closedLoop) submit(i int) {
	// "k<n>" and "c<client>.<u32>", built in scratch: one allocation each (the load is part
	// of what the scenario's speed measures).
	b := strconv.AppendInt(append(l.text[:0], 'k'), int64(l.workload.IntN(1024)), 10) // drawn before the value, as ever
	key := string(b)
	b = strconv.AppendInt(append(b[:0], 'c'), int64(i), 10)
	b = strconv.AppendUint(append(b, '.'), uint64(l.workload.Uint32()), 10)
	value := string(b)
	l.text = b
	op := kv.Op{Kind: kv.KindPut, Key: key, Value: value}
	start := l.c.Loop.Now()
	l.c.Client(i).Submit(kv.EncodeOp(op), func(r client.Result) {
		if r.Outcome == client.OK {
			l.slowestNs = max(l.slowestNs, int64(l.c.Loop.Now()-start))
		}
		if r.Outcome == client.OK && l.measuring && start >= l.from {
			l.latencies = append(l.latencies, int64(l.c.Loop.Now()-start))
		}
		if r.Outcome == client.OK && l.c.Client(i).Registered() {
			l.submit(i) // closed loop: the next one at once
		}
	})
}

func (l *closedLoop) report(batch int) performanceReport {
	slices.Sort(l.latencies)
	quantile := func(q float64) float64 {
		if len(l.latencies) == 0 {
			return 0
		}
		i := min(len(l.latencies)-1, int(q*float64(len(l.latencies))))
		return float64(l.latencies[i]) / 1e6
	}
	return performanceReport{batchMax: batch, ops: len(l.latencies), p99Ms: quantile(0.99), p999Ms: quantile(0.999),
		opsPerSec: float64(len(l.latencies)) / (float64(l.window) / 1e9)}
}
