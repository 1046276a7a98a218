package scenarios

import (
	"fmt"
	"strings"

	"vopr/cluster/checksum"
	"vopr/cluster/vsr"
	"vopr/sim"
)

// divergent_matrix is the old primary's divergent suffix, its repair, a crash at each step of
// that repair and damage on the stale entries, one placement a seed: the targeted version of
// the swarm's random divergent episode (faults/nemesis_divergent.go), whose far variant found
// two recovery holes (swarm seeds 2027665936 and 2027664865). Three replicas, r0 the first
// primary; every number comes from the seed (drawDivergent) and is printed by Params.
//
//  1. Setup: client 0 commits a ops (its register and puts of about 600 bytes), each
//     executed by and durable on every replica (the simulated disk's durable image).
//  2. Divergence: r0 is cut off from r1 and r2; clients 1..k, cut off from r1 and r2, send
//     it their registers, so r0 prepares k ops of its own that never commit; the phase ends
//     when r0's disk holds them durably. Client 0 is cut off from r0.
//  3. The others elect a primary and client 0 commits m more ops there (a quarter of the
//     seeds just past op 64, the first checkpoint: r0's stale entries are then left to it,
//     leftToCheckpoint in cluster/vsr/replica_normal.go; another quarter far past r0's head,
//     a start_view's window of headers and more, as the swarm's far episode).
//  4. Heal: r0 rejoins and repairs its log (in half the far seeds with the primary's messages
//     to it held for a while once it has installed the newer log: holdTicks). It crashes at its crashAt-th I/O completion after
//     the heal, or, if it converged before that, at once then. Half the seeds damage one or
//     two sectors of its entries (or their records) of ops a+1..a+max(k,m), stale or new,
//     as they lie on its disk after the crash; it restarts, and a quarter of the seeds
//     crash it again at its first or second I/O completion (then restart it again).
//  5. The judge, with the Suite's checkers on throughout (as storage_matrix wires them, plus
//     the superblock checks at every completion): never a violation, never a committed op
//     executed with another prepare; and within divergentWindowTicks of the last start r0
//     has converged: every op committed by then executed with its committed prepare by all
//     three (or below the checkpoint a replica installed), and a new write acknowledged.
//     r1 and r2 hold every committed op intact, so liveness is always expected.
func init() {
	register(Scenario{
		Name:    "divergent_matrix",
		Runbook: "none (the old primary's divergent suffix and its repair)",
		Summary: "the old primary's divergent suffix: r0 cut off prepares k ops of its own, the others commit m (a quarter past the first checkpoint), r0 rejoins and crashes at a drawn I/O completion of its repair, half the time with damage on its entries of the divergent range, a quarter crashed again at its restart; it must converge on the committed prepares",
		Params:  func(seed uint64) string { return drawDivergent(seed).String() },
		Run:     func(o Options) Result { return runDivergent(o, drawDivergent(o.Seed)) },
	})
}

const (
	// divergentClients: client 0 writes; clients 1..divergentOpsMax each send the old
	// primary one register while it is cut off.
	divergentClients = 1 + divergentOpsMax
	// divergentPhaseTicksMax bounds each step of the setup and the divergence (an election
	// and a few commits take well under it).
	divergentPhaseTicksMax = 500
	// divergentCommitTicks is the extra time the others get per op they commit.
	divergentCommitTicks = 20
	// divergentRepairTicksMax bounds the wait for the crash in r0's repair (or its end).
	divergentRepairTicksMax = 1000
	// divergentWindowTicks is how long after the last start r0 has to converge.
	divergentWindowTicks = 1000
	// divergentBudget is the default tick budget: every phase at its bound.
	divergentBudget = (divergentSetupOpsMax+4)*divergentPhaseTicksMax + divergentRepairTicksMax +
		divergentWindowTicks + 150*divergentCommitTicks + divergentLeadTicksMax
)

// divergentRun is one run of divergent_matrix: a matrix run (its cluster, checkers, client 0
// and stepping) with the episode's own state.
type divergentRun struct {
	*matrixRun
	p divergentParams
	// origin is the prepare committed at each op (the first execution); executed, per op,
	// the replicas that executed it; stale r0's own prepares of ops a+1..a+k.
	origin   []checksum.Sum
	executed [][]bool
	stale    []checksum.Sum
	// cuts are the network cuts of the divergence; diverging lets clients 1..k register.
	cuts      sim.Shape
	cutPaths  [][2]int
	diverging bool
	// armed counts r0's I/O completions still to let through before the crash (0: none);
	// struck is set by the completion that crashed it, crashIO that completion.
	armed   int
	struck  bool
	crashIO sim.IOCompletion
	healed  bool
	// boundaryOpen: from the heal to the first crash of a boundary seed, whose crash counts
	// only completions on the log's files (countsForCrash).
	boundaryOpen bool
	held         bool // the primary's messages to r0 were held (maybeHold)
	// target is the commit number at the last start; ackedAtStart client 0's
	// acknowledgements then.
	target       uint64
	ackedAtStart int
	lastStart    int
	rot          divergentRot // the checkpoint variants' state (divergent_matrix_sync.go)
	installFail  bool         // fail r0's first checkpoint-file write after the heal (anchor)
	stuck        bool         // in the anchor's stuck variant (stuckBeforeHeal)
	lowDamage    int          // r0's entry of this op is damaged at its first crash (anchor; 0: none)
}

func runDivergent(o Options, p divergentParams) Result {
	return runDivergentWith(o, p, false, 0, false)
}

// runDivergentWith runs the episode; installFail fails r0's first write of a checkpoint file
// after the heal (divergent_matrix_anchor).
func runDivergentWith(o Options, p divergentParams, installFail bool, lowDamage int, stuck bool) Result {
	run := newDivergentRun(o, p)
	run.installFail, run.lowDamage = installFail, lowDamage
	outcome, reason := Pass, ""
	heal := run.healAndCrash
	if stuck {
		heal = run.stuckBeforeHeal
	}
	for _, phase := range []func() (Outcome, string){run.setup, run.diverge, run.commitOthers, run.leadViewChange, heal, run.rotCheckpoints, run.converge} {
		if outcome == Pass {
			outcome, reason = phase()
		}
	}
	if installFail && run.c.Nodes[0].Disk.DisarmWriteError() {
		run.counts["divergent_matrix.anchor.install_fail_fired"]++
	}
	if outcome == Pass {
		if v := run.suite.Finish(); v != nil {
			outcome, reason = Correctness, v.Error()
		}
	}
	return run.result(o, outcome, reason)
}

func newDivergentRun(o Options, p divergentParams) *divergentRun {
	m := newMatrixHarness(o, matrixHarness{replicas: 3, clients: divergentClients, prefix: "divergent_matrix",
		budget: divergentBudget, completions: true})
	run := &divergentRun{matrixRun: m, p: p}
	run.onReplicaEvent = run.onDivergentEvent
	run.c.SetClientTick(0, run.clientTick)
	for i := 1; i < divergentClients; i++ {
		run.c.SetClientTick(i, run.registerTick(i))
	}
	run.c.SetFaultHooks(sim.FaultHooks{Completion: run.onFaultCompletion})
	return run
}

// registerTick sends client i's register to r0 while it is cut off, for the first k clients:
// each is one op of r0's own.
func (run *divergentRun) registerTick(i int) func() {
	return func() {
		cl := run.c.Client(i)
		if run.diverging && i <= run.p.k && !cl.Registered() && !cl.Busy() {
			cl.Submit(nil, nil)
		}
	}
}

// grow makes room for op in origin and executed.
func (run *divergentRun) grow(op uint64) {
	for uint64(len(run.origin)) <= op {
		run.origin = append(run.origin, checksum.Sum{})
		run.executed = append(run.executed, make([]bool, run.c.ReplicaCount()))
	}
}

// onDivergentEvent records the committed prepares and who executed them (another prepare
// executed at a committed op breaks the judge), and counts r0's repair paths after the heal.
func (run *divergentRun) onDivergentEvent(e vsr.Event) {
	if e.Replica == 0 && run.healed {
		switch e.Kind {
		case vsr.EventRepair:
			run.counts["divergent_matrix.repairs"]++
		case vsr.EventStateSync:
			run.counts["divergent_matrix.state_syncs"]++
			run.onStuckSync()
			run.onRotEvent("sync", e.Op)
		case vsr.EventCheckpoint:
			run.onRotEvent("own", e.Op)
		case vsr.EventRecovered:
			run.onRotRecovered(strings.HasPrefix(e.Text, "checkpoint lost"))
		}
	}
	if e.Kind != vsr.EventCommit || e.Op == 0 {
		return
	}
	run.grow(e.Op)
	switch {
	case run.origin[e.Op].IsZero():
		run.origin[e.Op] = e.Checksum
		run.executed[e.Op][e.Replica] = true
	case e.Checksum == run.origin[e.Op]:
		run.executed[e.Op][e.Replica] = true
	case run.broken == "":
		run.broken = fmt.Sprintf("divergent_matrix: replica %d executed prepare %016x at op %d, but prepare %016x was committed there",
			e.Replica, e.Checksum.Low64(), e.Op, run.origin[e.Op].Low64())
	}
}

// onFaultCompletion crashes r0 at the armed completion, before it learns of it, and counts
// the truncations of its log after the heal (installing the newer view's log cuts its
// suffix without a truncate event).
func (run *divergentRun) onFaultCompletion(replica int, io sim.IOCompletion) bool {
	if replica != 0 {
		return false
	}
	if run.healed && io.Op == sim.IOTruncate && strings.HasPrefix(io.Name, "log-") {
		run.counts["divergent_matrix.truncations"]++
	}
	if run.armed == 0 || !run.countsForCrash(io) {
		return false
	}
	if run.armed--; run.armed > 0 {
		return false
	}
	run.struck, run.crashIO = true, io
	run.note("r0 crashed as the %s of %s@%d completed", io.Op, io.Name, io.Offset)
	return true
}

// note traces a step of the episode.
func (run *divergentRun) note(format string, args ...any) {
	run.c.Trace.Emitf(sim.LevelShort, 0, "divergent_matrix", format, args...)
}

// durable reports whether replica r's disk durably holds op's committed prepare.
func (run *divergentRun) durable(r int, op uint64) bool {
	if op >= uint64(len(run.origin)) || run.origin[op].IsZero() {
		return false
	}
	_, ok := run.disks.entry(r, op, run.origin[op])
	return ok
}

// setup commits ops 1..a, executed by and durable on every replica.
func (run *divergentRun) setup() (Outcome, string) {
	run.quota = run.p.a
	done := func() bool {
		if run.submitted < run.p.a || run.c.Client(0).Busy() {
			return false
		}
		for r := range run.c.ReplicaCount() {
			rep := run.c.Replica(r)
			if rep == nil || rep.TraceState().CommitMin < uint64(run.p.a) {
				return false
			}
			for op := uint64(1); op <= uint64(run.p.a); op++ {
				if !run.durable(r, op) {
					return false
				}
			}
		}
		return true
	}
	if !run.until(done, run.p.a*divergentPhaseTicksMax) {
		return run.fail(Liveness, "setup: ops 1..%d not executed and durable on every replica", run.p.a)
	}
	return Pass, ""
}

// diverge cuts r0 off from the others (and the paths that would let its clients reach them,
// or client 0 reach it), and waits until r0's disk holds its k own ops durably.
func (run *divergentRun) diverge() (Outcome, string) {
	c := run.c
	run.cuts = sim.IsolateFrom(0, []int{1, 2})
	c.Network.Partition(run.cuts)
	run.cutBoth(c.ClientNode(0), 0)
	for i := 1; i <= run.p.k; i++ {
		run.cutBoth(c.ClientNode(i), 1)
		run.cutBoth(c.ClientNode(i), 2)
	}
	run.diverging = true
	if !run.until(run.staleDurable, divergentPhaseTicksMax) {
		return run.fail(Liveness, "divergence: r0 did not hold %d ops of its own above op %d durably", run.p.k, run.p.a)
	}
	return Pass, ""
}

// cutBoth cuts both directions between nodes x and y, remembered for the heal.
func (run *divergentRun) cutBoth(x, y int) {
	run.c.Network.Cut(x, y)
	run.c.Network.Cut(y, x)
	run.cutPaths = append(run.cutPaths, [2]int{x, y}, [2]int{y, x})
}

// staleDurable reports whether r0 holds ops a+1..a+k of its own durably, and records them.
func (run *divergentRun) staleDurable() bool {
	rep := run.c.Replica(0)
	a, k := uint64(run.p.a), uint64(run.p.k)
	if rep == nil || rep.TraceState().Op < a+k {
		return false
	}
	run.stale = make([]checksum.Sum, a+k+1)
	for op := a + 1; op <= a+k; op++ {
		h, ok := rep.Header(op)
		if !ok {
			return false
		}
		if _, ok := run.disks.entry(0, op, h.Checksum); !ok {
			return false
		}
		run.stale[op] = h.Checksum
	}
	return true
}

// commitOthers waits for the others' view, then has client 0 commit m ops there.
func (run *divergentRun) commitOthers() (Outcome, string) {
	if !run.until(func() bool { return run.othersPrimary() >= 0 }, divergentPhaseTicksMax) {
		return run.fail(Liveness, "divergence: r1 and r2 elected no primary")
	}
	top := uint64(run.p.a + run.p.m)
	run.quota = run.p.a + run.p.m
	done := func() bool {
		return run.submitted == run.quota && !run.c.Client(0).Busy() && run.commitOf(1) >= top && run.commitOf(2) >= top
	}
	if !run.until(done, divergentPhaseTicksMax+run.p.m*divergentCommitTicks) {
		return run.fail(Liveness, "divergence: r1 and r2 did not commit ops %d..%d", run.p.a+1, top)
	}
	if run.p.pastCheckpoint {
		run.counts["divergent_matrix.past_checkpoint"]++
	}
	if run.p.far {
		run.counts["divergent_matrix.far"]++
	}
	return Pass, ""
}

// othersPrimary is r1 or r2 if it is the normal primary of a view after r0's, else -1.
func (run *divergentRun) othersPrimary() int {
	for r := 1; r <= 2; r++ {
		if rep := run.c.Replica(r); rep != nil {
			s := rep.TraceState()
			if s.Status == vsr.StatusNormal && s.Role == vsr.RolePrimary && s.View > 0 {
				return r
			}
		}
	}
	return -1
}

// commitOf is replica r's commit_min (ops executed), 0 while it is down.
func (run *divergentRun) commitOf(r int) uint64 {
	if rep := run.c.Replica(r); rep != nil {
		return rep.TraceState().CommitMin
	}
	return 0
}

// healAndCrash heals the network and crashes r0 at its crashAt-th completion, or once it
// has converged if its repair ends first; then damages, restarts, and maybe crashes it again.
func (run *divergentRun) healAndCrash() (Outcome, string) {
	c := run.c
	c.Network.Reconnect(run.cuts)
	for _, path := range run.cutPaths {
		c.Network.Uncut(path[0], path[1])
	}
	run.healed, run.armed = true, run.p.crashAt
	if run.p.boundary.on {
		run.armed, run.boundaryOpen = run.p.boundary.after, true
	}
	if run.installFail {
		run.armInstallFail()
	}
	if run.p.sync.checkpointCrash > 0 { // the crash counts only checkpoint I/O (countsForCrash)
		run.rot.filtering, run.armed = true, run.p.sync.checkpointCrash
	}
	others := func() uint64 { return max(run.commitOf(1), run.commitOf(2)) }
	done := func() bool {
		run.maybeHold()
		return run.struck || run.r0Converged(others())
	}
	if !run.until(done, divergentRepairTicksMax) {
		return run.fail(Liveness, "repair: r0 neither reached its completion %d nor converged", run.p.crashAt)
	}
	run.boundaryOpen = false
	if run.rot.filtering && run.struck {
		run.counts["divergent_matrix.checkpoint_crash"]++
	}
	run.rot.filtering = false
	if run.struck {
		run.counts["divergent_matrix.crash_in_repair"]++
		run.counts["divergent_matrix.crash_at."+run.crashIO.Op.String()]++
	} else {
		run.armed = 0
		run.counts["divergent_matrix.crash_after_converged"]++
		run.note("r0 converged before its completion %d: crashed now", run.p.crashAt)
		c.CrashReplica(0)
	}
	run.inspect()
	run.aimBoundary()
	run.placeDamage()
	if run.lowDamage > 0 {
		run.damageLow(run.lowDamage)
	}
	c.StartReplica(0)
	return run.crashAgain()
}

// maybeHold holds the primary's messages to r0 for holdTicks once r0 runs in the newer view
// (it has installed its log), once.
func (run *divergentRun) maybeHold() {
	hold := max(run.p.holdTicks, run.p.sync.pastHold)
	if hold == 0 || run.held {
		return
	}
	rep, primary := run.c.Replica(0), run.othersPrimary()
	if rep == nil || primary < 0 {
		return
	}
	if s := rep.TraceState(); s.Status == vsr.StatusNormal && s.View > 0 {
		run.held = true
		run.c.Network.Clog(primary, 0, sim.Duration(hold)*sim.TickInterval)
		run.counts["divergent_matrix.hold"]++
	}
}

// crashAgain crashes r0 at its drawn first or second completion after the restart, as the
// swarm's crash after a cut does, and starts it once more.
func (run *divergentRun) crashAgain() (Outcome, string) {
	if run.p.secondCrash == 0 {
		return Pass, ""
	}
	run.struck, run.armed = false, run.p.secondCrash
	if !run.until(func() bool { return run.struck }, divergentPhaseTicksMax) {
		return run.fail(Liveness, "restart: r0 did not reach its completion %d", run.p.secondCrash)
	}
	run.counts["divergent_matrix.second_crash"]++
	run.inspect()
	run.c.StartReplica(0)
	return Pass, ""
}

// converge has client 0 write once more and waits for r0 to have converged on every op committed
// by the last start, and a new write to be acknowledged.
func (run *divergentRun) converge() (Outcome, string) {
	run.lastStart, run.ackedAtStart = run.ticks, run.acked
	for r := range run.c.ReplicaCount() {
		if rep := run.c.Replica(r); rep != nil {
			run.target = max(run.target, rep.TraceState().CommitMax)
		}
	}
	run.quota = run.submitted + 1 // one write: more would run the others a checkpoint past r0
	done := func() bool { return run.acked > run.ackedAtStart && run.r0Converged(run.target) }
	if !run.until(done, divergentWindowTicks) {
		return run.fail(Liveness, "divergent_matrix: r0 not converged %s after its last start (%s)",
			sim.Duration(run.ticks-run.lastStart)*sim.TickInterval, run.progress())
	}
	run.counts["divergent_matrix.recovery_ms"] = uint64(sim.Duration(run.ticks-run.lastStart) * sim.TickInterval / sim.Millisecond)
	return Pass, ""
}

// r0Converged: r0 runs normally, has executed up to target, and every op to target was
// executed with its committed prepare by every replica (or lies at or below the checkpoint
// the replica holds: a state sync installs it without executing it).
func (run *divergentRun) r0Converged(target uint64) bool {
	rep := run.c.Replica(0)
	if rep == nil || target == 0 {
		return false
	}
	if s := rep.TraceState(); s.Status != vsr.StatusNormal || s.CommitMin < target {
		return false
	}
	return run.firstMissing(target) == ""
}

// firstMissing names the first op to target some replica has not executed with its committed
// prepare, "" if none.
func (run *divergentRun) firstMissing(target uint64) string {
	run.grow(target)
	for r := range run.c.ReplicaCount() {
		rep := run.c.Replica(r)
		if rep == nil {
			return fmt.Sprintf("r%d down", r)
		}
		floor := rep.TraceState().Checkpoint
		for op := floor + 1; op <= target; op++ {
			if !run.executed[op][r] {
				return fmt.Sprintf("r%d has not executed op %d", r, op)
			}
		}
	}
	return ""
}

// progress says how far r0 got, for a liveness failure.
func (run *divergentRun) progress() string {
	missing := run.firstMissing(run.target)
	if missing == "" {
		missing = "every op executed"
	}
	return fmt.Sprintf("target op %d: %s; new writes acknowledged %d", run.target, missing, run.acked-run.ackedAtStart)
}
