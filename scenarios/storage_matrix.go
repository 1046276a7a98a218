package scenarios

import (
	"fmt"
	"math"
	"strings"

	"vopr/cluster/checksum"
	"vopr/cluster/client"
	"vopr/cluster/kv"
	"vopr/cluster/storage"
	"vopr/cluster/vsr"
	"vopr/faults"
	"vopr/sim"
)

// The storage_matrix scenarios are PAR's targeted-corruption experiment (Alagappan et al.,
// "Protocol-Aware Recovery for Consensus-Based Storage", FAST'18, section 5): commit a few
// ops, damage chosen copies of them on chosen replicas, restart everything and hold the
// cluster to what protocol-aware recovery promises.
//
//  1. Setup: one client registers (op 1) and puts three values of about 600 bytes (ops 2-4,
//     entries of two sectors), one op at a time; each op must be executed by, and durably
//     written on, every replica that is to hold it (a lagging replica of storage_matrix5 is
//     crashed before the ops it must not have). The durable check reads the simulated
//     disk's durable image, so the damage never lands on a copy that was not written.
//  2. Every replica crashes. Each damaged copy gets a flipped bit or an unreadable sector, on
//     the sector of its entry header or the entry's last (body) sector. Entries are found by
//     scanning the segment for their header, never at a fixed offset.
//  3. The replicas start again, except those drawn down: they start 0.5-3 s later, or never.
//     The client keeps writing.
//  4. The judge, with every invariant checker of the Suite running throughout (and the
//     prepare_ok durability check):
//     - never, on any placement: a committed op executed with another prepare, or a normal
//     primary whose log lacks a committed op or holds another prepare in its place
//     (correctness);
//     - when the replicas that eventually run are a quorum and hold an intact copy of every
//     op (expectAvailable), within matrixWindowTicks of the last start every op must be
//     executed again with its original prepare by a quorum and a new write acknowledged
//     (liveness);
//     - otherwise the cluster may stay unavailable; it passes if nothing above broke during
//     the window.
//
// storage_matrix: 3 replicas, seed k damages the copies of bitmask (k-1) mod 4096 (12 copies),
// so seeds 1..4096 are every placement once: 2,401 recoverable (every op keeps an intact
// copy: 7^4), 1,695 not. storage_matrix5: 5 replicas with lagging ones, sampled
// (drawMatrix5).
func init() {
	register(Scenario{
		Name:    "storage_matrix",
		Runbook: "none (PAR targeted corruption)",
		Summary: "PAR's targeted-corruption matrix: 3 replicas, 4 committed ops; seed k damages copies bitmask k-1 of 12 (bit flip or unreadable sector, header or body, a quarter with their record: identity lost), some replicas down; recoverable placements must recover every op, none may lose one",
		Params:  func(seed uint64) string { return drawMatrix3(seed).String() },
		Run:     func(o Options) Result { return runMatrix(o, drawMatrix3(o.Seed), matrixKnobs{}) },
	})
	register(Scenario{
		Name:    "storage_matrix5",
		Runbook: "none (PAR targeted corruption)",
		Summary: "PAR's targeted-corruption matrix with 5 replicas, lagging (never received the later ops) and crashed ones; placements sampled around the recoverable boundary",
		Params:  func(seed uint64) string { return drawMatrix5(seed).String() },
		Run:     func(o Options) Result { return runMatrix(o, drawMatrix5(o.Seed), matrixKnobs{}) },
	})
}

const (
	// matrixSetupTicksMax bounds the commit of each setup op (a healthy cluster takes a few).
	matrixSetupTicksMax = 500
	// matrixWindowTicks is how long after the last start the cluster has to recover (a view
	// change and a few repairs; matrix.recovery_ms reports what it took), and how long an
	// unrecoverable placement is watched for a lost op.
	matrixWindowTicks = 800
	// matrixValueSize makes each put's entry span two sectors, so header and body differ.
	matrixValueSize = 600
)

// matrixKnobs change the judge for the tests that show it has teeth; the zero value is the
// scenario.
type matrixKnobs struct {
	// expectEvery judges every placement as if it were recoverable: a judge that expects
	// the impossible must fail the unrecoverable ones.
	expectEvery bool
}

// matrixRun is one run of a storage_matrix scenario.
type matrixRun struct {
	*swarmRun
	p      matrixParams
	knobs  matrixKnobs
	ticks  int
	budget int
	// quota is how many requests (the register included) the client may submit.
	quota, submitted int
	// origin is the prepare committed at each op, from the first execution.
	origin [matrixOps + 1]checksum.Sum
	// damaged is set once the copies are damaged; executed then records, per op, the
	// replicas that have executed it again with its original prepare.
	damaged      bool
	executed     [matrixOps + 1][]bool
	ackedAtCrash int
	// counts are the run's own counters, named prefix+".<what>".
	counts map[string]uint64
	prefix string
}

func runMatrix(o Options, p matrixParams, knobs matrixKnobs) Result {
	run := newMatrixRun(o, p, knobs)
	setup := run.setup
	if p.views != nil {
		setup = run.setupViews
	}
	outcome, reason := setup()
	if outcome == Pass {
		outcome, reason = run.crashAndDamage()
		run.c.Network.Heal() // storage_matrix_views cut the straggler off
	}
	if outcome == Pass {
		run.start()
		outcome, reason = run.recover()
	}
	if outcome == Pass {
		if v := run.suite.Finish(); v != nil {
			outcome, reason = Correctness, v.Error()
		}
	}
	return run.result(o, outcome, reason)
}

func newMatrixRun(o Options, p matrixParams, knobs matrixKnobs) *matrixRun {
	run := newMatrixHarness(o, matrixHarness{replicas: p.replicas, clients: 1, prefix: "matrix",
		budget: matrixOps*matrixSetupTicksMax + 300 + matrixWindowTicks})
	run.p, run.knobs = p, knobs
	run.onReplicaEvent = run.onMatrixEvent
	for op := range run.executed {
		run.executed[op] = make([]bool, p.replicas)
	}
	run.c.SetClientTick(0, run.clientTick)
	return run
}

// clientTick submits the client's next request while the quota allows: the register, then
// puts of matrixValueSize bytes, recorded in the history the linearizability checker reads.
func (run *matrixRun) clientTick() {
	cl := run.c.Client(0)
	if cl.Busy() || run.submitted >= run.quota {
		return
	}
	run.submitted++
	if !cl.Registered() {
		cl.Submit(nil, nil)
		return
	}
	n := run.submitted
	op := kv.Op{Kind: kv.KindPut, Key: fmt.Sprintf("k%d", n%3),
		Value: fmt.Sprintf("%d-", n) + strings.Repeat(string(rune('a'+n%26)), matrixValueSize)}
	history := run.suite.History()
	id := -1
	if run.checked {
		id = history.Invoke(0, op, int64(run.c.Loop.Now()))
	}
	cl.Submit(kv.EncodeOp(op), func(r client.Result) {
		if r.Outcome == client.OK {
			run.acked++
		}
		if id >= 0 {
			history.Complete(id, r, int64(run.c.Loop.Now()))
		}
	})
}

// onMatrixEvent records the committed prepares before the damage and their executions
// after it; an execution of another prepare at a committed op breaks the judge.
func (run *matrixRun) onMatrixEvent(e vsr.Event) {
	if e.Kind != vsr.EventCommit || e.Op == 0 || e.Op > uint64(run.p.committedOps()) {
		return
	}
	switch {
	case !run.damaged && run.origin[e.Op].IsZero():
		run.origin[e.Op] = e.Checksum
	case !run.damaged:
	case e.Checksum == run.origin[e.Op]:
		run.executed[e.Op][e.Replica] = true
	case run.broken == "":
		run.broken = fmt.Sprintf("storage_matrix: replica %d executed prepare %016x at op %d, but prepare %016x was committed there: a committed op was replaced",
			e.Replica, e.Checksum.Low64(), e.Op, run.origin[e.Op].Low64())
	}
}

// step is one tick of the world, the checkers and the judge.
func (run *matrixRun) step() {
	run.ticks++
	run.c.RunFor(sim.TickInterval)
	run.inspect()
	if run.damaged {
		run.judgePrimaries()
	}
}

// until steps until done, a violation, ticksMax or the budget; it reports done.
func (run *matrixRun) until(done func() bool, ticksMax int) bool {
	for t := 0; t < ticksMax && run.ticks < run.budget; t++ {
		if run.safety() != "" || done() {
			break
		}
		run.step()
	}
	return run.safety() == "" && done()
}

// fail classifies a phase that did not reach its goal: a violation first.
func (run *matrixRun) fail(outcome Outcome, format string, args ...any) (Outcome, string) {
	if reason := run.safety(); reason != "" {
		return Correctness, reason
	}
	return outcome, fmt.Sprintf(format, args...) + ": " + run.describe()
}

// setup commits the ops one at a time, stopping each lagging replica before the first op it
// must not have, until each op is executed and durable on every replica that holds it.
func (run *matrixRun) setup() (Outcome, string) {
	c := run.c
	for op := 1; op <= matrixOps; op++ {
		for r, head := range run.p.heads {
			if head == op-1 {
				c.CrashReplica(r)
			}
		}
		run.quota = op
		if !run.until(func() bool { return run.setupDone(op) }, matrixSetupTicksMax) {
			return run.fail(Liveness, "setup: op %d not executed and durable on every replica that has it", op)
		}
	}
	for r, head := range run.p.heads {
		if rep := c.Replica(r); rep != nil && rep.Inspect().Op != matrixOps {
			return run.fail(Liveness, "setup: replica %d has op_number %d, want exactly %d ops", r,
				rep.Inspect().Op, matrixOps)
		}
		if head < matrixOps && run.holds(r, head+1) {
			return run.fail(Liveness, "setup: lagging replica %d holds op %d", r, head+1)
		}
	}
	return Pass, ""
}

func (run *matrixRun) setupDone(op int) bool {
	if run.submitted < op || run.c.Client(0).Busy() || run.origin[op].IsZero() {
		return false
	}
	for r, head := range run.p.heads {
		if head < op {
			continue
		}
		rep := run.c.Replica(r)
		if rep == nil || rep.Inspect().CommitMin < uint64(op) || !run.holds(r, op) {
			return false
		}
	}
	return true
}

// holds reports whether replica r's disk durably holds op's committed prepare.
func (run *matrixRun) holds(r, op int) bool {
	_, ok := run.disks.entry(r, uint64(op), run.origin[op])
	return ok
}

// crashAndDamage crashes every replica and damages the drawn copies.
func (run *matrixRun) crashAndDamage() (Outcome, string) {
	c := run.c
	for r := range run.p.replicas {
		if c.Replica(r) != nil {
			c.CrashReplica(r)
		}
	}
	run.inspect()
	for r := range run.p.replicas {
		for op := 1; op <= run.p.heads[r]; op++ {
			if d := run.p.damage[r][op-1]; d.kind != damageNone {
				if reason := run.damage(r, op, d); reason != "" {
					return Liveness, "harness: " + reason
				}
			}
		}
	}
	run.damaged, run.ackedAtCrash = true, run.acked
	return Pass, ""
}

// start starts the replicas that are not drawn down, and lets the client write on.
func (run *matrixRun) start() {
	for r := range run.p.replicas {
		if !run.p.down[r].late {
			run.c.StartReplica(r)
		}
	}
	run.quota = math.MaxInt
}

// damage places d on replica r's copy of op, located by its entry header.
func (run *matrixRun) damage(r, op int, d copyDamage) string {
	place, ok := run.disks.entry(r, uint64(op), run.origin[op])
	if !ok {
		return fmt.Sprintf("replica %d's copy of op %d not found on its disk", r, op)
	}
	return run.damageEntry(r, op, place, d)
}

// damageEntry places d on the entry of op that lies at place on replica r's disk (whichever
// prepare it holds: divergent_matrix damages an old view's entries too).
func (run *matrixRun) damageEntry(r, op int, place parsedEntry, d copyDamage) string {
	disk := run.c.Nodes[r].Disk
	name, offset := segmentName(segmentOf(uint64(op))), place.offset
	if d.identity { // first: the record is found by the entry's header, intact until then
		if reason := run.damageRecord(r, op, d.kind, name, place.offset); reason != "" {
			return reason
		}
	}
	if d.body {
		offset += place.size - storage.SectorSize
	}
	switch d.kind {
	case damageCorrupt:
		disk.CorruptSector(name, offset)
		run.counts[run.prefix+".damage.corrupt"]++
	case damageLatent:
		disk.LatentSectorError(name, offset)
		run.counts[run.prefix+".damage.latent"]++
	}
	if offset != place.offset {
		run.counts[run.prefix+".damage.body_sector"]++
	} else {
		run.counts[run.prefix+".damage.header_sector"]++
	}
	return ""
}

// damageRecord damages the redundant record of the entry at entryAt, found by its content,
// with the entry's kind of damage: recovery then knows op existed, not which prepare.
func (run *matrixRun) damageRecord(r, op int, kind damageKind, name string, entryAt int64) string {
	disk := run.c.Nodes[r].Disk
	at, ok := faults.RecordSectorOf(disk.Pristine(name), entryAt)
	if !ok {
		return fmt.Sprintf("replica %d's record of op %d not found on its disk", r, op)
	}
	if kind == damageLatent {
		disk.LatentSectorError(name, at)
	} else {
		disk.CorruptSector(name, at)
	}
	run.counts[run.prefix+".damage.identity"]++
	return ""
}

// recover runs until the judge is satisfied or the window after the last start is over.
func (run *matrixRun) recover() (Outcome, string) {
	start, last := run.ticks, run.ticks
	for _, d := range run.p.down {
		if d.late && !d.never {
			last = max(last, start+d.delayTicks)
		}
	}
	expect := run.p.expectAvailable() || run.knobs.expectEvery
	for {
		if reason := run.safety(); reason != "" {
			return Correctness, reason
		}
		for r, d := range run.p.down {
			if d.late && !d.never && run.ticks == start+d.delayTicks {
				run.c.StartReplica(r)
			}
		}
		if expect && run.ticks >= last && run.recovered() {
			run.counts["matrix.recovery_ms"] = uint64(sim.Duration(run.ticks-last) * sim.TickInterval / sim.Millisecond)
			return Pass, ""
		}
		if run.ticks >= last+matrixWindowTicks || run.ticks >= run.budget {
			break
		}
		run.step()
	}
	if expect {
		return run.fail(Liveness, "storage_matrix: not recovered %s after the last start (%s)",
			sim.Duration(run.ticks-last)*sim.TickInterval, run.progress())
	}
	return Pass, ""
}

// recovered: every op executed again with its original prepare by a quorum, and a new
// write acknowledged.
func (run *matrixRun) recovered() bool {
	for op := 1; op <= run.p.committedOps(); op++ {
		if count(run.executed[op]) < run.p.quorum() {
			return false
		}
	}
	return run.acked > run.ackedAtCrash
}

// progress says how far recovery got, for a liveness failure.
func (run *matrixRun) progress() string {
	var ops []string
	for op := 1; op <= run.p.committedOps(); op++ {
		ops = append(ops, fmt.Sprintf("op%d:%d", op, count(run.executed[op])))
	}
	return fmt.Sprintf("re-executed by %s of quorum %d, new writes acknowledged %d", strings.Join(ops, " "),
		run.p.quorum(), run.acked-run.ackedAtCrash)
}

func count(flags []bool) int {
	n := 0
	for _, f := range flags {
		if f {
			n++
		}
	}
	return n
}

// judgePrimaries holds every normal primary to the committed ops: its log reaches them all,
// and where it holds a header for one, it is the committed prepare's.
func (run *matrixRun) judgePrimaries() {
	for r := range run.p.replicas {
		rep := run.c.Replica(r)
		if rep == nil || run.broken != "" {
			continue
		}
		in := rep.Inspect()
		if in.Status != vsr.StatusNormal || in.Role != vsr.RolePrimary {
			continue
		}
		committed := uint64(run.p.committedOps())
		if in.Op < committed {
			run.broken = fmt.Sprintf("storage_matrix: replica %d is the normal primary of view %d with op_number %d: committed ops %d..%d were truncated",
				r, in.View, in.Op, in.Op+1, committed)
			return
		}
		for op := uint64(1); op <= committed; op++ {
			if h, ok := rep.Header(op); ok && h.Checksum != run.origin[op] {
				run.broken = fmt.Sprintf("storage_matrix: replica %d, the normal primary of view %d, holds prepare %016x at op %d, but prepare %016x was committed there",
					r, in.View, h.Checksum.Low64(), op, run.origin[op].Low64())
				return
			}
		}
	}
}

// result reports the run with the matrix counters: the placement's class and expectation,
// its outcome by class (summed over a batch, they are the matrix's table), the damage done
// and the protocol paths taken.
func (run *matrixRun) result(o Options, outcome Outcome, reason string) Result {
	c, p := run.c, run.p
	r := Result{Scenario: p.name, Seed: o.Seed, Params: p.String(), Outcome: outcome, Reason: reason,
		TraceHash: c.Trace.Hash(), Events: c.Trace.Count(), SimTime: c.Loop.Now(), Trace: c.Trace.Detach()}
	r.Counters = map[string]uint64{"requests_acked": uint64(run.acked), "replica.restarts": c.Restarts(),
		"node.fail_stops": uint64(len(c.Failures())), "matrix.placements": 1,
		"matrix.recoverable": 0, "matrix.unrecoverable": 0, "matrix.expect_available": 0,
		"matrix.expect_unavailable": 0, "matrix.available": 0,
		"matrix.damaged_copies": uint64(p.damagedCopies())}
	for k, v := range run.counts {
		r.Counters[k] = v
	}
	r.Counters["matrix."+p.class()] = 1
	r.Counters["matrix."+p.class()+"."+outcome.String()] = 1
	if p.expectAvailable() {
		r.Counters["matrix.expect_available"] = 1
	} else {
		r.Counters["matrix.expect_unavailable"] = 1
	}
	if run.damaged && run.acked > run.ackedAtCrash {
		r.Counters["matrix.available"] = 1
	}
	for _, path := range []string{"view_change", "recovered", "repair", "truncate", "nack_truncation"} {
		r.Counters["coverage.path."+path] = run.paths[path]
	}
	return r
}
