package scenarios

import (
	"fmt"
	"math/bits"
	"strings"

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
//     damaged, other ops' a quarter; in half the seeds the newest log view's copies of H
//     lose it three times in four), the network heals and storage_matrix's judge runs.
//
// Half the straggler seeds let it hear that H committed, durably, before the crash: its
// do_view_change then names every op, and the new primary may take its headers (of the older
// log view, at or below its commit number) where the new log view lost them.
//
// Half the seeds build the other shape instead (viewSplit.lone, swarm seed 20262737's): H
// never commits, and R1 alone holds the newer log view, elected with R2's vote but its
// start_view lost; its log, lacking whatever it lost, wins every view change it joins. The
// judge then holds ops 1..3 as committed and H as an op that may go either way.
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
		Summary: "PAR's 3-replica matrix with log views apart: a straggler holds the last op (knowing it committed or not) and the others start a view without it, or (half the seeds) the last op never commits and one replica alone holds the newer log view; then copies are damaged (identity lost often on the last op) and everything restarts; no committed op may be lost, and placements the newest log view can name must recover",
		Params:  func(seed uint64) string { return drawMatrixViews(seed).String() },
		Run:     func(o Options) Result { return runMatrix(o, drawMatrixViews(o.Seed), matrixKnobs{}) },
	})
}

// viewSplit is the log views' part of a placement (storage_matrix_views and
// storage_matrix5_views).
type viewSplit struct {
	// stragglers is the set (bit r for replica r) of backups that hold H but, unless in
	// knows, not that it committed: one of R1, R2 in storage_matrix_views, one or two of
	// R1-R4 in storage_matrix5_views. The other replicas start a view without them.
	stragglers uint8
	// lone: the other shape. H never commits: its prepare_oks are kept from the primary, R0
	// is cut off, and R1 starts view 1 with the votes of the others, but none of them hears
	// its start_view: R1 alone holds log view 1, and its log wins every view change it takes
	// part in.
	lone bool
	// knows (straggler shape, half the stragglers): the stragglers that hear that H committed
	// before they are cut off, and whose commit number is durable by the crash: their
	// do_view_changes of the older log view name every op, and the merge may take their
	// headers where the new log view lost them.
	knows uint8
	// wide (storage_matrix5_views): the setup waits for the durable log views and commit
	// numbers viewsDurable checks, and the expectation counts every route by which VSR names
	// an op (names, viewsExpectAvailable); without it, storage_matrix_views's narrower
	// expectation.
	wide bool
	// forgotten (lone shape): a placement of storage_matrix5_forgotten, for Params.
	forgotten bool
}

// straggler reports whether replica r is one of the stragglers.
func (v *viewSplit) straggler(r int) bool { return v.stragglers>>uint(r)&1 == 1 }

// knowing reports whether replica r is a straggler that knows H committed.
func (v *viewSplit) knowing(r int) bool { return v.knows>>uint(r)&1 == 1 }

// viewsLone is the replica alone in the newer log view of the lone shape (view 1's primary).
const viewsLone = 1

// drawMatrixViews is seed k's placement of storage_matrix_views, from its own stream: a
// uniform 12-copy mask, storage_matrix's kinds and replicas down, then the straggler.
func drawMatrixViews(seed uint64) matrixParams {
	const replicas = 3
	rng := sim.Stream(seed, "storage_matrix_views")
	p := matrixParams{name: "storage_matrix_views", replicas: replicas, placement: rng.Uint64N(matrixPlacements3)}
	p.drawPlacement3(rng)
	for r := range replicas { // H's identity: half the time it is damaged
		d := &p.damage[r][matrixOps-1]
		d.identity = d.kind != damageNone && (d.identity || rng.IntN(3) == 0)
	}
	straggler, lone := 1+rng.IntN(2), rng.IntN(2) == 0
	p.views = &viewSplit{lone: lone}
	if !lone {
		p.views.stragglers = 1 << uint(straggler)
	}
	if !lone && rng.IntN(2) == 0 {
		p.views.knows = p.views.stragglers
	}
	if rng.IntN(2) == 0 {
		// The corner the shapes are for, in half the seeds: the newest log view lost H's
		// identity (each of its replicas' copies, three times in four), so that a new primary
		// must name H from elsewhere or wait.
		for r := range replicas {
			if !p.views.newest(r) || rng.IntN(4) == 0 {
				continue
			}
			d := &p.damage[r][matrixOps-1]
			if d.kind == damageNone {
				d.kind = damageCorrupt + damageKind(rng.IntN(2))
				p.placement |= 1 << (r*matrixOps + matrixOps - 1)
			}
			d.identity = true
		}
	}
	return p
}

// viewsExpectAvailable: the replicas that eventually run are a quorum, and for every op one
// of them that can name it where the newest log view lost it (names) knows its identity, and
// one of them holds it intact.
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
	for op := 1; op <= matrixOps; op++ { // H too in the lone shape: the view waits for it
		named, intact, offers := false, false, 0
		for r := range p.replicas {
			if p.down[r].never {
				continue
			}
			known := !p.damage[r][op-1].identity
			named = named || (p.views.names(r, op, p.down) && known)
			intact = intact || p.intact(r, op)
			if known && r != viewsLone {
				offers++
			}
		}
		// The lone shape's H, which R1 lost, is named by the offers of n - quorum + 1
		// replicas of log view 0, whatever quorum of do_view_changes the primary has: nobody
		// can deny H (every replica holds it), and those that know which prepare they hold
		// offer it.
		if p.views.wide && p.views.lone && op == matrixOps && offers >= p.replicas-p.quorum()+1 {
			named = true
		}
		if !named || !intact {
			return false
		}
	}
	return true
}

// names reports whether replica r's do_view_change can name op where the newest log view
// lost it: r is in the newest log view of the replicas that run, or a straggler that knows
// H committed, or (wide) op is below H and r's durable commit number reaches it. (In the
// lone shape H must be named too: the view cannot start before it is resolved.)
//
// The straggler shape: the replicas that started the view without the stragglers share the
// newest log view (durably: wide's setup checks it), so each names every op (the merge takes
// the headers of the same log view, and of an older one at or below the sender's commit);
// a straggler that knows names every op too, by its durable commit H. One that does not names
// the ops at or below its durable commit number: storage_matrix5_views's setup (wide)
// makes it H-1 (it executed ops 1..H-1, and its view changes while cut off persist it), so
// such a straggler names every op but H; storage_matrix_views keeps its older, narrower
// expectation (it names nothing), so that its traces stay what they were. By offers, a
// committed op is named once n - quorum + 1 replicas offer it (no replica can deny it: all
// hold it): the stragglers that do not know are at most n - quorum (one of 3, two of 5), so
// they never name H alone. Whatever quorum of do_view_changes a primary gets, one in the
// newest log view is in it (the stragglers are fewer than a quorum); a quorum without a
// naming replica waits, and the view changes on until one is in it (it is the primary of
// some view).
//
// The lone shape: R1's log wins every view change it joins, and names what it holds.
// Without R1, the others share log view 0 and each names the ops it holds. With R1, a
// replica of log view 0 names the ops at or below its durable commit number: H-1 for R2 and
// up by storage_matrix5_views's setup (wide; the narrower expectation of
// storage_matrix_views counts none), none for R0 (cut off as view 0's primary, it never
// persisted its commit number); and H is named by offers (viewsExpectAvailable).
func (v *viewSplit) names(r, op int, down []downMode) bool {
	below := v.wide && op < matrixOps
	if !v.lone {
		return !v.straggler(r) || v.knowing(r) || below
	}
	return r == viewsLone || down[viewsLone].never || (below && r != 0)
}

// newest reports whether replica r holds the newest log view.
func (v *viewSplit) newest(r int) bool {
	if v.lone {
		return r == viewsLone
	}
	return !v.straggler(r)
}

// setupViews commits ops 1..3, then H kept from the knowledge of the stragglers that must
// not know it committed, and moves the other replicas to a new log view without the
// stragglers.
func (run *matrixRun) setupViews() (Outcome, string) {
	c, v := run.c, run.p.views
	for op := 1; op < matrixOps; op++ {
		run.quota = op
		if !run.until(func() bool { return run.setupDone(op) }, matrixSetupTicksMax) {
			return run.fail(Liveness, "setup: op %d not executed and durable on every replica", op)
		}
	}
	if v.lone {
		return run.setupLone()
	}
	keep := true
	c.Network.SetDeliver(func(from, to int, msg []byte) {
		if keep && v.straggler(to) && !v.knowing(to) {
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
	knowAll := func() bool {
		for r := range run.p.replicas {
			if v.knowing(r) && c.Replica(r).Inspect().CommitMax < matrixOps {
				return false
			}
		}
		return true
	}
	if v.knows != 0 && !run.until(knowAll, matrixSetupTicksMax) {
		return run.fail(Liveness, "setup: the stragglers that know (%s) never heard that H committed", v.list(v.knows))
	}
	for r := range run.p.replicas {
		if v.straggler(r) {
			c.Network.Isolate(r)
		}
	}
	for r := range run.p.replicas {
		if in := c.Replica(r).Inspect(); v.straggler(r) && !v.knowing(r) && in.CommitMax >= matrixOps {
			return run.fail(Liveness, "harness: the straggler R%d learned that H committed (commit %d)", r, in.CommitMax)
		}
	}
	c.CrashReplica(0)
	run.inspect() // the checkers learn of the crash before the restart replays the log
	c.StartReplica(0)
	moved := func() bool {
		for r := range run.p.replicas {
			if v.straggler(r) {
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
		return run.fail(Liveness, "setup: the replicas other than %s did not start a view without them", v.list(v.stragglers))
	}
	run.until(func() bool { return false }, int(sim.Second/sim.TickInterval)) // log views durable
	if reason := run.safety(); reason != "" {
		return Correctness, reason
	}
	keep = false
	for r := range run.p.replicas {
		if !v.straggler(r) {
			continue
		}
		if in := c.Replica(r).Inspect(); (in.CommitMax >= matrixOps) != v.knowing(r) || in.LogView != 0 {
			return run.fail(Liveness, "harness: the straggler R%d has commit %d, log view %d", r, in.CommitMax, in.LogView)
		}
	}
	// Cut off, a straggler starts view changes of its own, and their superblock writes make
	// its commit number durable: what its do_view_change says after the restart.
	knowDurably := func() bool {
		for r := range run.p.replicas {
			if v.knowing(r) && run.disks.image(r, matrixOps).Commit < matrixOps {
				return false
			}
		}
		return true
	}
	if v.knows != 0 && !run.until(knowDurably, matrixSetupTicksMax) {
		return run.fail(Liveness, "setup: the stragglers that know (%s) never made H's commit durable", v.list(v.knows))
	}
	if v.wide && !run.until(run.viewsDurable, matrixSetupTicksMax) {
		return run.fail(Liveness, "setup: the log views and commit numbers the expectation counts on are not durable")
	}
	run.counts["matrix.views.split"]++
	if v.knows != 0 {
		run.counts["matrix.views.knows"]++
	}
	return Pass, ""
}

// heldByAll: the replicas other than the stragglers executed H, and all of them hold it
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
		if !run.p.views.straggler(r) && rep.Inspect().CommitMin < matrixOps {
			return false
		}
	}
	return true
}

// list names the replicas of set, those of knows marked.
func (v *viewSplit) list(set uint8) string {
	var names []string
	for r := 0; r < 8; r++ {
		if set>>uint(r)&1 == 0 {
			continue
		}
		if v.knowing(r) {
			names = append(names, fmt.Sprintf("R%d(knows)", r))
		} else {
			names = append(names, fmt.Sprintf("R%d", r))
		}
	}
	return strings.Join(names, ",")
}

// String is the placement's part of Params.
func (v *viewSplit) String() string {
	switch {
	case v == nil:
		return ""
	case v.lone && v.forgotten:
		return forgottenString()
	case v.lone:
		return fmt.Sprintf(" lone=R%d", viewsLone)
	case bits.OnesCount8(v.stragglers) == 1:
		return " straggler=" + v.list(v.stragglers)
	}
	return " stragglers=" + v.list(v.stragglers)
}

// setupLone builds the lone shape after ops 1..3: H prepared and held durably by every
// replica, its prepare_oks kept from R0 (so nobody executes it); R0 cut off; R1 elected for
// view 1 with the votes of the others (R2's of three, a quorum's of R2-R4 of five) while
// R1's start_view, prepares and commits never reach them. The replicas crash soon after R1
// starts the view, before a view-change timeout moves the view on (with five replicas, no
// view after view 1 starts meanwhile).
func (run *matrixRun) setupLone() (Outcome, string) {
	c, phase := run.c, 1
	c.Network.SetDeliver(func(from, to int, msg []byte) {
		if cmd, ok := vsr.PeekCommand(msg); ok {
			switch {
			case phase == 1 && to == 0 && cmd == vsr.CommandPrepareOK:
				return
			case phase == 2 && from == viewsLone && to != viewsLone && (cmd == vsr.CommandStartView ||
				cmd == vsr.CommandPrepare || cmd == vsr.CommandCommit):
				return
			case phase == 2 && run.p.replicas > 3 && beyondViewOne(c.ClusterID(), msg, cmd):
				// Five replicas: R2-R4 are a quorum without R1, and would start view 2 (log
				// view 2, newer than R1's) if their view change to view 1 timed out first.
				return
			}
		}
		c.Nodes[to].Deliver(from, msg)
	})
	run.quota = matrixOps
	held := func() bool {
		rep := c.Replica(0)
		if rep == nil {
			return false
		}
		h, ok := rep.Header(matrixOps)
		if !ok {
			return false
		}
		run.origin[matrixOps] = h.Checksum // H's prepare: where its copies lie, for the damage
		for r := range run.p.replicas {
			if !run.holds(r, matrixOps) {
				return false
			}
		}
		return true
	}
	if !run.until(held, matrixSetupTicksMax) {
		return run.fail(Liveness, "setup: H (op %d) not durable on every replica", matrixOps)
	}
	if in := c.Replica(0).Inspect(); in.CommitMax >= matrixOps {
		return run.fail(Liveness, "harness: H committed (R0's commit %d)", in.CommitMax)
	}
	c.Network.Isolate(0)
	phase = 2
	started := func() bool {
		rep := c.Replica(viewsLone)
		if rep == nil {
			return false
		}
		in := rep.Inspect()
		return in.Status == vsr.StatusNormal && in.Role == vsr.RolePrimary && in.LogView >= 1
	}
	if !run.until(started, 2*matrixSetupTicksMax) {
		return run.fail(Liveness, "setup: R%d did not start a view without R0", viewsLone)
	}
	run.until(func() bool { return false }, 20) // R1's log view durable (its start_view was sent after)
	if reason := run.safety(); reason != "" {
		return Correctness, reason
	}
	if run.p.views.wide && !run.until(run.viewsDurable, matrixSetupTicksMax) {
		return run.fail(Liveness, "setup: the log views and commit numbers the expectation counts on are not durable")
	}
	phase = 0
	split := c.Replica(viewsLone).Inspect().LogView >= 1
	for r := range run.p.replicas {
		split = split && (r == viewsLone || c.Replica(r).Inspect().LogView == 0)
	}
	if split {
		run.counts["matrix.views.split"]++
	} else if run.p.replicas > 3 {
		// storage_matrix5_views's expectation counts on R1 alone in the newer log view.
		return run.fail(Liveness, "harness: R%d is not alone in a newer log view", viewsLone)
	}
	run.counts["matrix.views.lone"]++
	return Pass, ""
}

// viewsDurable reports whether the disks hold what the wide expectation counts on: the
// replicas of the newest log view claim the same one durably, and the others log view 0;
// the stragglers a commit number of H-1 at least (H for one that knows), and in the lone
// shape R2 and up a commit number of H-1 (R0, cut off as view 0's primary, never persists
// its commit number: a replica persists it lazily, with its view).
func (run *matrixRun) viewsDurable() bool {
	v := run.p.views
	newest := uint32(0)
	for r := range run.p.replicas {
		img := run.disks.image(r, matrixOps)
		switch {
		case v.newest(r) && (img.LogView < 1 || (newest != 0 && img.LogView != newest)):
			return false
		case v.newest(r):
			newest = img.LogView
		case img.LogView != 0:
			return false
		case v.straggler(r) && img.Commit < matrixOps-1, v.knowing(r) && img.Commit < matrixOps:
			return false
		case v.lone && r != 0 && img.Commit < matrixOps-1:
			return false
		}
	}
	return true
}

// beyondViewOne reports whether msg is a view change message (start_view_change,
// do_view_change, start_view) of a view after view 1.
func beyondViewOne(cluster uint64, msg []byte, cmd vsr.Command) bool {
	if cmd != vsr.CommandStartViewChange && cmd != vsr.CommandDoViewChange && cmd != vsr.CommandStartView {
		return false
	}
	h, err := vsr.DecodeHeader(msg[:vsr.HeaderSize], cluster)
	return err == nil && h.View > 1
}
