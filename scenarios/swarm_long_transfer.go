package scenarios

import (
	"fmt"

	"vopr/cluster/kv"
	"vopr/cluster/vsr"
	"vopr/invariants"
	"vopr/sim"
)

// The long-transfer episode: a state transfer that spans many checkpoints must still finish
// while the clients write. A production snapshot of hundreds of megabytes travels in 1 MB
// messages for seconds to minutes, while a busy cluster checkpoints every few hundred
// milliseconds: the transfer outlasts many checkpoint intervals, and every sender keeps the
// snapshot being sent (vsr syncServing: pinned while its chunks are still asked for, the one
// asked for least recently making room when every slot is taken) while its own checkpoint
// moves on several times, and a periodic sync request in the meantime offers the receiver
// each newer checkpoint. The swarm's catch-up round (swarm_catchup.go) sizes its transfer to
// outlast one checkpoint interval with room to spare, so a sender there moves on once or
// twice during it: the corner where its pins are all taken, older checkpoints' and the
// transfer's own, and it must choose which to drop, was never met with a transfer in
// progress, and a choice that drops the snapshot being sent (the transfer then starts over,
// with a newer one, and again) went unobserved.
//
// Some passing swarm seeds end with one such transfer on a cluster of their own: three
// replicas, several clients (checkpoints a few ticks apart), small chunks; the state machine
// filled so that the transfer takes about longTransferIntervals checkpoint intervals. A
// backup goes down, the others checkpoint twice past it, it restarts while the clients keep
// writing, and it must execute what was committed when it came back within a bound: three
// times the transfer's and the repair's round trips, and slack (what catchUpTicks allows).
// Every invariant checker watches. The draws come from the seed's "swarm_long_transfer"
// stream, so the swarm's other draws are unchanged.

// longTransferOneIn is how many passing swarm seeds share one episode: a filled state costs
// CPU at every commit (the digest re-encodes it), about a runbook drill's.
const longTransferOneIn = 8

const (
	longTransferTicks    = 16000
	longTransferPhaseMax = 2000
	// longTransferIntervals is how many checkpoint intervals of the load the transfer is
	// sized to take.
	longTransferIntervals = 5
	// longTransferFillMax bounds the state the episode grows (CPU: see longTransferOneIn).
	longTransferFillMax = 512 << 10
)

// longTransferEpisode is the episode as the swarm draws and runs it.
var longTransferEpisode = oneInEpisode{stream: "swarm_long_transfer", label: "long-transfer",
	oneIn: longTransferOneIn, run: runLongTransfer, fold: func(counters map[string]uint64, er Result) {
		counters["coverage.episode.long_transfer"]++
		counters["episode.long_transfer.state_syncs"] += er.Counters["long_transfer.state_syncs"]
	}}

// longTransferParams are what an episode draws.
type longTransferParams struct {
	clients int
	chunk   int
	delay   sim.Duration
}

// newLongTransferRun is newRunbookRunWithSpares with small state-sync chunks.
func newLongTransferRun(o Options, p longTransferParams) *runbookRun {
	run := &runbookRun{counts: map[string]uint64{}, budget: longTransferTicks,
		swarmRun: &swarmRun{workload: sim.Stream(o.Seed, "workload"), load: true, paths: map[string]uint64{},
			checked: true}}
	world := runbookWorld(p.delay, sim.DiskOptions{})
	world.Seed, world.DiskPool = o.Seed, o.disks
	run.op = &Operator{TicksMax: longTransferPhaseMax}
	opts := sim.ClusterOptions{World: world, Replicas: 3, Clients: p.clients, ClusterID: o.Seed | 1,
		SyncChunkBytes: p.chunk, Mutation: o.Mutation,
		OnEvent: func(e vsr.Event) { run.onEvent(e); run.op.observeEvent(e) }}
	opts.OnReplicaSend, opts.OnClientAnswer = run.onReplicaSend, run.onClientAnswer
	opts.OnReplicaReceive = run.onReplicaReceive
	run.suite = invariants.NewSuite(3)
	run.suite.WatchDeliveries()
	run.suite.SetMonotonic(func(i int) int64 { return run.c.Nodes[i].Clock.Monotonic() })
	run.c = sim.NewCluster(opts)
	run.wireDisks()
	run.attachTrace(o)
	c := run.c
	run.incarnations = make([]*vsr.Replica, c.MemberCount())
	for i := 0; i < p.clients; i++ {
		i := i
		c.SetClientTick(i, func() { run.clientTick(i) })
	}
	run.mon = NewMonitor(c)
	run.op.C, run.op.Step = c, run.step
	return run
}

// runLongTransfer runs one episode.
func runLongTransfer(o Options) Result { return runLongTransferKnobs(o, longTransferKnobs{}) }

// longTransferKnobs change the episode, for the tests that show its judge is not vacuous.
type longTransferKnobs struct {
	limitTicks int // overrides the catch-up bound when positive
}

func runLongTransferKnobs(o Options, knobs longTransferKnobs) Result {
	rng := sim.Stream(o.Seed, "long_transfer")
	p := longTransferParams{clients: 6 + rng.IntN(5), chunk: 1024,
		delay: 2 * sim.Millisecond}
	run := newLongTransferRun(o, p)
	pick := rng.IntN(2)
	outcome, reason := run.finish(longTransferProcedure(run, p, pick, knobs))
	r := run.result(o, "long_transfer", fmt.Sprintf("clients=%d chunk=%d net.delay=%s", p.clients, p.chunk, p.delay),
		outcome, reason, "state_sync")
	return r
}

func longTransferProcedure(run *runbookRun, p longTransferParams, pick int, knobs longTransferKnobs) (Outcome, string) {
	c := run.c
	healthy := func() bool { return ClusterStatus(c).Healthy == 3 && run.acked > 0 }
	if !run.until(healthy, longTransferPhaseMax) {
		return run.fail(Liveness, "long transfer: the cluster never reported every replica healthy under load")
	}
	// Time a checkpoint interval of this load, then grow the state until its transfer takes
	// longTransferIntervals of them.
	start, from := clusterCommit(c), run.ticks
	if !run.until(func() bool { return clusterCommit(c) >= start+vsr.CheckpointInterval }, longTransferPhaseMax) {
		return run.fail(Liveness, "long transfer: the clients did not commit a checkpoint interval")
	}
	interval := max(1, run.ticks-from)
	trip := ticksOf(run.roundTrip())
	chunksPerInterval := int64(sim.Duration(interval)*sim.TickInterval/run.roundTrip()) + 1
	size := longTransferIntervals * chunksPerInterval * int64(p.chunk)
	run.counts["long_transfer.interval_ticks"], run.counts["long_transfer.size"] = uint64(interval), uint64(size)
	if size > longTransferFillMax {
		run.counts["long_transfer.skipped"]++
		return Pass, "" // a slow load: the transfer would cost too much CPU
	}
	k := &run.catchUp
	k.filled, k.fillOps, k.filling = 0, int(max(0, size-run.snapshotBytes())/kv.ValueSizeMax), true
	if !run.until(func() bool { return k.filled >= k.fillOps }, longTransferPhaseMax) {
		return run.fail(Liveness, "long transfer: the clients did not fill the state machine")
	}
	k.filling = false
	// A backup goes down until its peers checkpointed twice past it.
	primary := ClusterStatus(c).Primary
	x := (primary + 1 + pick) % 3
	head := c.Replica(x).TraceState().Op
	c.CrashReplica(x)
	run.inspect()
	passed := func() bool {
		for i := 0; i < 3; i++ {
			if i != x && (c.Replica(i) == nil || c.Replica(i).TraceState().Checkpoint < head+2*vsr.CheckpointInterval) {
				return false
			}
		}
		return true
	}
	if !run.until(passed, longTransferPhaseMax) {
		return run.fail(Liveness, "long transfer: the others did not checkpoint past replica %d's op %d", x, head)
	}
	// It restarts while the clients keep writing, and must execute what was committed then.
	syncs := uint64(0)
	c.StartReplica(x)
	target, snapshot := clusterCommit(c), run.snapshotBytes()
	chunks := int((snapshot + int64(p.chunk) - 1) / int64(p.chunk))
	limit := catchUpSlackTicks + 3*(chunks+catchUpRepairTrips)*trip
	if knobs.limitTicks > 0 {
		limit = knobs.limitTicks
	}
	executed := func() bool {
		r := c.Replica(x)
		if r == nil {
			return false
		}
		s := r.TraceState()
		return s.Status == vsr.StatusNormal && s.CommitMin >= target
	}
	if !run.until(executed, limit) {
		state := "down"
		if r := c.Replica(x); r != nil {
			s := r.TraceState()
			state = fmt.Sprintf("%s, executed to op %d, checkpoint %d", s.Status, s.CommitMin, s.Checkpoint)
		}
		return run.fail(Liveness, "long transfer: replica %d, back behind its peers' checkpoints, had not executed op %d "+
			"(committed when it came back) %d ticks later while the clients kept writing (%s; checkpoints every %d ticks "+
			"of this load, a snapshot of %d bytes in %d chunks of %d bytes at %d ticks a round trip)",
			x, target, limit, state, interval, snapshot, chunks, p.chunk, trip)
	}
	if r := c.Replica(x); r != nil {
		syncs = r.Inspect().Metrics.StateSyncs
	}
	run.counts["long_transfer.state_syncs"] += syncs
	run.load = false
	if !run.until(run.converged, longTransferPhaseMax) {
		return run.fail(Liveness, "long transfer: no convergence once the clients stopped")
	}
	return Pass, ""
}
