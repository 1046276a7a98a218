package scenarios

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"

	"vopr/cluster/storage"
	"vopr/sim"
)

// The storage episode: the storage engine alone on a simulated disk, driven as a replica
// drives it (appends in op order, superblock writes, checkpoints, compactions, truncations,
// appends that replace an op), crashed after a drawn number of completions (unsynced writes
// lost or torn as the disk draws), then damaged on purpose, then opened again. What Open
// recovers is held to a model of what the engine acknowledged:
//
//   - the checkpoint is the newest acknowledged one (or the one in flight), with its snapshot;
//     if the episode damaged its file, Open falls back to an older acknowledged checkpoint,
//     with that checkpoint's snapshot and audit head, or reports the checkpoint lost;
//   - every recovered entry holds a body that was acknowledged at its op, or the one in flight;
//   - no acknowledged entry above the checkpoint is lost: it comes back intact, or, if the
//     episode damaged it, faulty (never silently absent);
//   - only a damaged op, or the append in flight, is faulty.
//
// The damage is PAR's menu, aimed at one acknowledged copy: a flipped bit or an unreadable
// sector in an entry's header or body, the same with its redundant record (identity lost), an
// entry's bytes misdirected to the same offset of another segment file (what only the scan's
// segment check rejects), or the newest checkpoint file corrupted. The engine's own unit
// tests cover each fault alone; the episode draws them against random histories and crash
// points, on every swarm seed (swarm_episode.go), so that a recovery-scan, compaction or
// truncation bug in the engine fails seeds, not only tests.
//
// The model is written here from the engine's contract (Recovery's documentation), never
// from its code.

// storageEpisodeOptions keep segments small, so that a history spans several of them.
var storageEpisodeOptions = storage.Options{SegmentEntriesMax: 4, EntryBodyMax: 4096, RecordPrefix: 16}

type storeKind int

const (
	storeAppend storeKind = iota
	storeSaveState
	storeCheckpoint
	storeCompact
	storeTruncate
	storeReplace // an Append of an op already in the log: a view change's replacement
)

// storeStep is one operation of an episode's history.
type storeStep struct {
	kind     storeKind
	op       uint64 // Append, Replace, Checkpoint: the op; Truncate: truncate after op
	body     []byte
	view     uint32
	snapshot []byte
}

func (s storeStep) String() string {
	return fmt.Sprintf("%s(%d)", [...]string{"append", "save_state", "checkpoint", "compact", "truncate_after", "replace"}[s.kind], s.op)
}

// drawStoreSteps draws a valid history of n operations.
func drawStoreSteps(r *rand.Rand, n int) []storeStep {
	var steps []storeStep
	head, cp, view, generation := uint64(0), uint64(0), uint32(1), 0
	body := func(op uint64) []byte {
		b := fmt.Appendf(nil, "op %d generation %d ", op, generation)
		return append(b, bytes.Repeat([]byte{byte(op) | 1}, r.IntN(1400))...)
	}
	for len(steps) < n {
		switch k := r.IntN(13); {
		case k < 7 || head == 0:
			head++
			steps = append(steps, storeStep{kind: storeAppend, op: head, body: body(head)})
		case k == 7:
			view++
			steps = append(steps, storeStep{kind: storeSaveState, view: view})
		case k == 8 && head > cp:
			cp += 1 + r.Uint64N(head-cp)
			steps = append(steps, storeStep{kind: storeCheckpoint, op: cp,
				snapshot: fmt.Appendf(nil, "snapshot at %d generation %d", cp, generation)})
		case k == 9:
			steps = append(steps, storeStep{kind: storeCompact})
		case (k == 10 || k == 11) && head > cp:
			head = cp + r.Uint64N(head-cp)
			generation++
			steps = append(steps, storeStep{kind: storeTruncate, op: head})
		case k == 12 && head > cp:
			head = cp + 1 + r.Uint64N(head-cp)
			generation++
			steps = append(steps, storeStep{kind: storeReplace, op: head, body: body(head)})
		}
	}
	return steps
}

// storeModel is what the engine acknowledged, and the one operation in flight at the crash.
type storeModel struct {
	log       map[uint64][]byte // acknowledged entries by op (kept below the checkpoint too)
	head, cp  uint64
	snapshots map[uint64][]byte   // acknowledged checkpoints' snapshots
	audits    map[uint64][32]byte // and their audit heads
	view      uint32
	pending   *storeStep
	acked     int
}

func (m *storeModel) acknowledged(step storeStep, st storage.State) {
	switch step.kind {
	case storeAppend:
		m.log[step.op], m.head = step.body, step.op
	case storeSaveState:
		m.view = step.view
	case storeCheckpoint:
		m.cp, m.snapshots[step.op], m.audits[step.op] = step.op, step.snapshot, st.AuditHead
	case storeTruncate, storeReplace:
		for op := step.op + 1; op <= m.head; op++ {
			delete(m.log, op)
		}
		m.head = step.op
		if step.kind == storeReplace {
			m.log[step.op] = step.body
		}
	}
	m.pending = nil
	m.acked++
}

func (m *storeModel) pendingIs(k storeKind) bool { return m.pending != nil && m.pending.kind == k }

// pendingWrites: the operation in flight writes an entry for op.
func (m *storeModel) pendingWrites(op uint64) bool {
	return (m.pendingIs(storeAppend) || m.pendingIs(storeReplace)) && m.pending.op == op
}

// pendingMayDrop: the operation in flight may have removed op's entry.
func (m *storeModel) pendingMayDrop(op uint64) bool {
	return (m.pendingIs(storeTruncate) && op > m.pending.op) || (m.pendingIs(storeReplace) && op >= m.pending.op)
}

// storeEpisode is one run.
type storeEpisode struct {
	rng     *rand.Rand
	loop    *sim.Loop
	trace   *sim.Trace
	disk    *sim.Disk
	s       *storage.Storage
	steps   []storeStep
	m       storeModel
	failure string
	// damaged are the acknowledged ops whose copy the episode damaged; checkpointDamaged the
	// checkpoint whose file it corrupted (0: none).
	damaged           map[uint64]bool
	checkpointDamaged uint64
	counters          map[string]uint64
}

func init() {
	register(Scenario{
		Name:    "storage_crash",
		Runbook: "none (storage engine alone)",
		Summary: "the storage engine alone on a simulated disk: a drawn history of appends, view changes, checkpoints, compactions and truncations, a crash at a drawn completion, one aimed fault (entry, identity, misdirected copy, checkpoint file); what Open recovers is held to the acknowledged history",
		Run:     runStorageCrash,
	})
}

// runStorageCrash is the storage_crash scenario: the storage episode of o.Seed alone.
func runStorageCrash(o Options) Result {
	e := newStorageEpisode(o.Seed)
	// An operation takes about four completions (write, sync, record write, sync): crash
	// points up to six per operation crash most runs in mid-history, an operation in flight.
	e.run(e.rng.IntN(6*len(e.steps) + 1))
	r := Result{Scenario: "storage_crash", Seed: o.Seed, Outcome: Pass, Counters: e.counters,
		TraceHash: e.trace.Hash(), Events: e.trace.Count(), SimTime: e.loop.Now()}
	if e.failure != "" {
		r.Outcome, r.Reason = Correctness, e.failure
	}
	return r
}

func newStorageEpisode(seed uint64) *storeEpisode {
	rng := sim.Stream(seed, "storage_episode")
	opts := sim.DiskOptions{ReadLatencyMin: 10 * sim.Microsecond, ReadLatencyMean: 50 * sim.Microsecond,
		WriteLatencyMin: 20 * sim.Microsecond, WriteLatencyMean: 200 * sim.Microsecond, Capacity: 16 << 20,
		CrashLostProbability: []float64{0, 0.2, 0.5, 1}[rng.IntN(4)], CrashTornProbability: []float64{0, 0.5, 1}[rng.IntN(3)]}
	loop := sim.NewLoop()
	trace := sim.NewTrace(loop.Now)
	return &storeEpisode{rng: rng, loop: loop, trace: trace, steps: drawStoreSteps(rng, 10+rng.IntN(50)),
		disk:    sim.NewDisk(loop, sim.Stream(seed, "storage_episode/disk"), trace, 0, opts),
		damaged: map[uint64]bool{}, counters: map[string]uint64{"storage_episode.runs": 1},
		m: storeModel{log: map[uint64][]byte{}, snapshots: map[uint64][]byte{}, audits: map[uint64][32]byte{},
			view: storeEpisodeState.View}}
}

var storeEpisodeState = storage.State{Cluster: 7, Replica: 1, ReplicaCount: 3, View: 1, LogView: 1, Release: 1}

func (e *storeEpisode) run(crashAfter int) {
	if err := e.wait(func(done func(error)) { storage.Format(e.disk, storageEpisodeOptions, storeEpisodeState, done) }); err != nil {
		e.fail("format: %v", err)
		return
	}
	if s, _, err := e.open(); err != nil {
		e.fail("open after format: %v", err)
		return
	} else {
		e.s = s
	}
	e.issue()
	for i := 0; i < crashAfter && e.failure == "" && e.loop.Step(); i++ {
	}
	if e.failure != "" {
		return
	}
	if e.m.pending != nil {
		e.counters["storage_episode.crash_in_flight"]++
	}
	e.disk.Crash()
	e.damage()
	if e.failure != "" {
		return
	}
	_, rec, err := e.open()
	if err != nil {
		e.fail("open after the crash: %v", err)
		return
	}
	e.check(rec)
}

func (e *storeEpisode) fail(format string, args ...any) {
	if e.failure == "" {
		e.failure = fmt.Sprintf("storage episode (%d of %d operations acknowledged, in flight %v, damaged ops %v, damaged checkpoint %d): ",
			e.m.acked, len(e.steps), e.m.pending, slices.Sorted(maps.Keys(e.damaged)), e.checkpointDamaged) + fmt.Sprintf(format, args...)
	}
}

// wait issues an operation and runs the loop until it completes.
func (e *storeEpisode) wait(issue func(done func(error))) error {
	var got error
	fired := false
	issue(func(err error) { got, fired = err, true })
	for steps := 0; !fired; steps++ {
		if steps > 10_000_000 || !e.loop.Step() {
			return fmt.Errorf("the loop stopped before the operation completed")
		}
	}
	return got
}

func (e *storeEpisode) open() (*storage.Storage, *storage.Recovery, error) {
	var s *storage.Storage
	var rec *storage.Recovery
	err := e.wait(func(done func(error)) {
		storage.Open(e.disk, storageEpisodeOptions, func(got *storage.Storage, r *storage.Recovery, err error) {
			s, rec = got, r
			done(err)
		})
	})
	return s, rec, err
}

// issue starts the next operation; its completion updates the model and issues the next.
func (e *storeEpisode) issue() {
	if e.m.acked == len(e.steps) || e.failure != "" {
		return
	}
	step := e.steps[e.m.acked]
	e.m.pending = &step
	done := func(err error) {
		if err != nil {
			e.fail("%v failed: %v", step, err)
			return
		}
		e.m.acknowledged(step, e.s.State())
		e.issue()
	}
	switch step.kind {
	case storeAppend, storeReplace:
		e.s.Append(storage.Entry{Op: step.op, Body: step.body}, done)
	case storeSaveState:
		st := e.s.State()
		st.View, st.LogView = step.view, step.view
		e.s.SaveState(st, done)
	case storeCheckpoint:
		if _, err := e.s.Commit(step.op); err != nil {
			e.fail("Commit(%d): %v", step.op, err)
			return
		}
		e.s.Checkpoint(step.op, step.snapshot, done)
	case storeCompact:
		e.s.Compact(func(_ int64, err error) { done(err) })
	case storeTruncate:
		e.s.TruncateAfter(step.op, done)
	}
}
