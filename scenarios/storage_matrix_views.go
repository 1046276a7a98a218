package scenarios

import (
	"fmt"

	"vopr/cluster/vsr"
	"vopr/sim"
)

// storage_matrix_views is the 3-replica PAR matrix with the replicas' log views apart, the
// state where a new primary must choose among logs of different log views and name what the
// newest one lost (swarm seed 1432 found that hole by chance). storage_matrix runs every
// placement with all three replicas in log view 0, where any replica's header of an op is as
// good as another's; here one backup, the straggler, holds the last op H but never learns
// that it committed, and the other two start a view without it:
//
//  1. Setup: ops 1..3 as storage_matrix commits them. H (op 4) is prepared with everything
//     but prepares kept from the straggler, until the other two executed it and all three
//     hold it durably: the straggler's commit number stays below H.
//  2. The straggler is cut off and the primary (replica 0) restarts, so that the other two
//     start a view without it: their log view is 1 or more, the straggler's 0.
//  3. Every replica crashes and the drawn copies are damaged (the same 12-copy placements
//     and kinds as storage_matrix; H's copies lose their identity half the time they are
//     damaged, other ops' a quarter), the network heals and storage_matrix's judge runs.
//
// What must recover is narrower than storage_matrix's condition (viewsExpectAvailable): a
// running replica of the new log view must know each op's identity (a do_view_change of an
// older log view names nothing the new one lost, and the straggler's lone offer of H
// proves nothing), and some running replica must hold it intact. Every placement is held to
// the safety judge.
func init() {
	register(Scenario{
		Name:    "storage_matrix_views",
		Runbook: "none (PAR targeted corruption)",
		Summary: "PAR's 3-replica matrix with log views apart: a straggler holds the last op without knowing it committed, the others start a view without it, then copies are damaged (identity lost often on the last op) and everything restarts; no committed op may be lost, and placements the new log view can name must recover",
		Params:  func(seed uint64) string { return drawMatrixViews(seed).String() },
		Run:     func(o Options) Result { return runMatrix(o, drawMatrixViews(o.Seed), matrixKnobs{}) },
	})
}

// viewSplit is storage_matrix_views's part of a placement.
type viewSplit struct {
	straggler int // the backup (1 or 2) that holds H but not that it committed
}

// drawMatrixViews is seed k's placement of storage_matrix_views, from its own stream: a
// uniform 12-copy mask, storage_matrix's kinds and replicas down, then the straggler.
func drawMatrixViews(seed uint64) matrixParams {
	const replicas = 3
	rng := sim.Stream(seed, "storage_matrix_views")
	p := matrixParams{name: "storage_matrix_views", replicas: replicas, placement: rng.Uint64N(matrixPlacements3)}
	p.heads = []int{matrixOps, matrixOps, matrixOps}
	p.damage = drawDamageKinds(rng, replicas)
	for i := range replicas * matrixOps {
		if p.placement&(1<<i) == 0 {
			p.damage[i/matrixOps][i%matrixOps].kind = damageNone
		}
	}
	p.down = drawDown(rng, replicas)
	drawIdentityLoss(rng, p.damage)
	for r := range replicas { // H's identity: half the time it is damaged
		d := &p.damage[r][matrixOps-1]
		d.identity = d.kind != damageNone && (d.identity || rng.IntN(3) == 0)
	}
	p.views = &viewSplit{straggler: 1 + rng.IntN(2)}
	return p
}

// viewsExpectAvailable: the replicas that eventually run are a quorum, and for every op one
// of them in the new log view knows its identity and one of them holds it intact.
func (p matrixParams) viewsExpectAvailable() bool {
	running := 0
	for r := range p.replicas {
		if !p.down[r].never {
			running++
		}
	}
	if running < p.quorum() {
		return false
	}
	for op := 1; op <= matrixOps; op++ {
		named, intact := false, false
		for r := range p.replicas {
			if p.down[r].never {
				continue
			}
			named = named || (r != p.views.straggler && !p.damage[r][op-1].identity)
			intact = intact || p.intact(r, op)
		}
		if !named || !intact {
			return false
		}
	}
	return true
}

// setupViews commits ops 1..3, then H kept from the straggler's knowledge, and moves the
// other two to a new log view without it.
func (run *matrixRun) setupViews() (Outcome, string) {
	c, s := run.c, run.p.views.straggler
	for op := 1; op < matrixOps; op++ {
		run.quota = op
		if !run.until(func() bool { return run.setupDone(op) }, matrixSetupTicksMax) {
			return run.fail(Liveness, "setup: op %d not executed and durable on every replica", op)
		}
	}
	keep := true
	c.Network.SetDeliver(func(from, to int, msg []byte) {
		if keep && to == s {
			if cmd, ok := vsr.PeekCommand(msg); !ok || cmd != vsr.CommandPrepare {
				return // what would tell the straggler H committed (commit, start_view...)
			}
		}
		c.Nodes[to].Deliver(from, msg)
	})
	run.quota = matrixOps
	if !run.until(run.heldByAll, matrixSetupTicksMax) {
		return run.fail(Liveness, "setup: H (op %d) not executed by the others and durable on every replica", matrixOps)
	}
	c.Network.Isolate(s)
	if in := c.Replica(s).Inspect(); in.CommitMax >= matrixOps {
		return run.fail(Liveness, "harness: the straggler R%d learned that H committed (commit %d)", s, in.CommitMax)
	}
	c.CrashReplica(0)
	run.inspect() // the checkers learn of the crash before the restart replays the log
	c.StartReplica(0)
	moved := func() bool {
		for r := range run.p.replicas {
			if r == s {
				continue
			}
			rep := c.Replica(r)
			if rep == nil {
				return false
			}
			in := rep.Inspect()
			if in.Status != vsr.StatusNormal || in.LogView < 1 || in.CommitMin < matrixOps {
				return false
			}
		}
		return true
	}
	if !run.until(moved, 2*matrixSetupTicksMax) {
		return run.fail(Liveness, "setup: the replicas other than R%d did not start a view without it", s)
	}
	run.until(func() bool { return false }, int(sim.Second/sim.TickInterval)) // log views durable
	if reason := run.safety(); reason != "" {
		return Correctness, reason
	}
	keep = false
	if in := c.Replica(s).Inspect(); in.CommitMax >= matrixOps || in.LogView != 0 {
		return run.fail(Liveness, "harness: the straggler R%d has commit %d, log view %d", s, in.CommitMax, in.LogView)
	}
	run.counts["matrix.views.split"]++
	return Pass, ""
}

// heldByAll: the replicas other than the straggler executed H, and all three hold it
// durably.
func (run *matrixRun) heldByAll() bool {
	if run.submitted < matrixOps || run.c.Client(0).Busy() || run.origin[matrixOps].IsZero() {
		return false
	}
	for r := range run.p.replicas {
		rep := run.c.Replica(r)
		if rep == nil || !run.holds(r, matrixOps) {
			return false
		}
		if r != run.p.views.straggler && rep.Inspect().CommitMin < matrixOps {
			return false
		}
	}
	return true
}

// String is the placement's part of Params. the placement's part of Params.
func (v *viewSplit) String() string {
	if v == nil {
		return ""
	}
	return fmt.Sprintf(" straggler=R%d", v.straggler)
}
