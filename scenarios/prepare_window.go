package scenarios

import (
	"fmt"
	"math"

	"vopr/cluster/vsr"
	"vopr/sim"
)

// The prepare_window scenario fills a primary's prepare window: the clients outpace a
// checkpoint that does not advance. vsr.PrepareAheadMax "bounds how far past its checkpoint a
// primary may prepare, so the log window never wraps over ops that are not yet
// checkpointed"; commit_le_op holds every op a normal primary prepares to checkpoint_op +
// PrepareAheadMax (invariants/commit_le_op.go). The swarm's primaries never come near it: a
// checkpoint is written every CheckpointInterval ops and prepares wait while it is in flight,
// so a primary runs at most a pipeline ahead of its newest checkpoint's interval.
//
// Here the primary's write of its next checkpoint fails, again at every retry (a write error
// aimed at that checkpoint's file, re-armed each tick). Execution waits for the checkpoint,
// so the clients get no replies; they retry, and a retried request that left the pipeline
// committed but is not executed yet is prepared again (the client table, which would answer
// it, is updated at execution). So ops keep coming, committed by the backups' votes, until
// the primary's op reaches its checkpoint + PrepareAheadMax: the window is full, and the
// primary must prepare nothing more (prepare_window.full counts the runs that got there).
// The clients keep retrying for pwHoldTicks; then the disk is fixed, the checkpoint goes
// through, and the cluster must execute everything and converge.
//
// From the seed: 3 or 5 replicas, 4 to 8 clients, the network's mean delay and the load
// before the fault. Every invariant of the Suite runs throughout.
func init() {
	register(Scenario{
		Name:    "prepare_window",
		Runbook: "none (the primary's prepare window while a checkpoint write keeps failing)",
		Summary: "the primary's next checkpoint write keeps failing while the clients retry: its op reaches checkpoint + PrepareAheadMax and it prepares nothing past it; the disk is fixed => the checkpoint goes through and every replica converges",
		Params:  func(seed uint64) string { return drawPrepareWindow(seed).String() },
		Run:     runPrepareWindow,
	})
}

const (
	pwTicksDefault = 20000
	pwFillMax      = 8000 // the window fills within 80 s (retries every RetryTicks)
	pwHoldTicks    = 200  // the clients retry for 2 s at the full window
	pwConvergeMax  = 4000
)

type prepareWindowParams struct {
	Replicas, Clients int
	LoadTicks         int
	DelayMean         sim.Duration
}

func drawPrepareWindow(seed uint64) prepareWindowParams {
	r := sim.Stream(seed, "prepare_window")
	p := prepareWindowParams{Replicas: 3 + 2*r.IntN(2), Clients: 4 + r.IntN(5)}
	p.LoadTicks = 100 + r.IntN(300)
	p.DelayMean = sim.Duration(1+r.IntN(3)) * sim.Millisecond
	return p
}

func (p prepareWindowParams) String() string {
	return fmt.Sprintf("clients=%d load_ticks=%d net.delay=%s replicas=%d", p.Clients, p.LoadTicks, p.DelayMean,
		p.Replicas)
}

func runPrepareWindow(o Options) Result {
	p := drawPrepareWindow(o.Seed)
	run := newRunbookRun(o, p.Replicas, p.Clients, pwTicksDefault, 2000, runbookWorld(p.DelayMean, sim.DiskOptions{}))
	outcome, reason := run.finish(prepareWindowProcedure(run, p))
	return run.result(o, "prepare_window", p.String(), outcome, reason, "view_change", "repair", "state_sync")
}

func prepareWindowProcedure(run *runbookRun, p prepareWindowParams) (Outcome, string) {
	c := run.c
	if !run.until(func() bool { return run.ticks >= p.LoadTicks && run.acked > 0 }, p.LoadTicks+2000) {
		return run.fail(Liveness, "no request acknowledged before the fault")
	}
	if !run.until(func() bool { return ClusterStatus(c).Primary >= 0 }, 2000) {
		return run.fail(Liveness, "no primary to aim the fault at")
	}
	primary := ClusterStatus(c).Primary
	in := c.Replica(primary).Inspect()
	cp := (in.CommitMin/vsr.CheckpointInterval + 1) * vsr.CheckpointInterval
	name := checkpointFileName(cp)
	disk := c.Nodes[primary].Disk
	c.Trace.Emitf(sim.LevelShort, primary, "nemesis", "prepare_window: R%d's writes of checkpoint %d fail until "+
		"its op reaches checkpoint %d + %d", primary, cp, in.CheckpointOp, vsr.PrepareAheadMax)
	failing := true
	arm := func() {
		if failing {
			disk.ArmWriteErrorHealed(name, 0, math.MaxInt64, false)
		}
	}
	arm()
	// Armed again as each write of the file completes: the replica retries within a tick.
	node := c.Nodes[primary]
	previous := node.OnCompletion
	node.OnCompletion = func(io sim.IOCompletion) bool {
		if io.Name == name {
			arm()
		}
		return previous != nil && previous(io)
	}
	// The primary, still leading the view it led, at the end of its window.
	full := func() bool {
		arm()
		r := c.Replica(primary)
		if r == nil {
			return false
		}
		now := r.Inspect()
		return now.Status == vsr.StatusNormal && now.Role == vsr.RolePrimary &&
			now.Op >= now.CheckpointOp+vsr.PrepareAheadMax
	}
	if run.until(full, pwFillMax) {
		run.counts["prepare_window.full"]++
		run.until(func() bool { arm(); return false }, pwHoldTicks)
	}
	if reason := run.safety(); reason != "" {
		return Correctness, reason
	}
	failing = false
	disk.DisarmWriteError()
	run.load = false
	if !run.until(run.converged, pwConvergeMax) {
		return run.fail(Liveness, "no convergence after the checkpoint's disk was fixed")
	}
	return Pass, ""
}

// prepareWindowEpisodeOdds: one passing swarm seed in this many ends with a prepare_window
// run (about 60 ms of CPU against the swarm run's 350): the swarm's own primaries never fill
// their window.
const prepareWindowEpisodeOdds = 4

// withPrepareWindowEpisode runs the seed's prepare_window episode, if it draws one (its own
// stream, so that every other draw of the seed is unchanged), and folds its verdict and
// counters into r.
func withPrepareWindowEpisode(o Options, r Result) Result {
	rng := sim.Stream(o.Seed, "swarm_prepare_window")
	on, seed := rng.IntN(prepareWindowEpisodeOdds) == 0, rng.Uint64N(1<<40)+1
	if !on || r.Outcome != Pass {
		return r
	}
	er := runPrepareWindow(Options{Seed: seed, Mutation: o.Mutation, disks: o.disks})
	r.Counters["episode.prepare_window"]++
	r.Counters["coverage.check.prepare_window_full"] += er.Counters["coverage.check.prepare_window_full"]
	r.Counters["episode.prepare_window.full"] += er.Counters["prepare_window.full"]
	if er.Outcome != Pass {
		r.Outcome = er.Outcome
		r.Reason = fmt.Sprintf("prepare_window episode seed %d (alone: vopr replay %d --scenario prepare_window): %s",
			seed, seed, er.Reason)
	}
	return r
}
