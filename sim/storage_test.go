package sim_test

// The storage engine (cluster/storage) on the simulated disk. The engine's own tests run on
// osfs only (cluster/ must not import the harness, not even in tests), so the tests that need
// the simulated disk's crash semantics and fault injection live here.
//
// The storage.FS conformance of sim.Disk is TestDiskConformance in disk_test.go.

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"vopr/cluster/storage"
	"vopr/internal/storagemodel"
	"vopr/sim"
)

// tb is what the helpers need from *testing.T, *testing.B and *rapid.T.
type tb interface {
	require.TestingT
	Helper()
}

// engineDisk drives the engine on one simulated disk: each helper issues an operation and
// runs the loop until its completion.
type engineDisk struct {
	t    tb
	loop *sim.Loop
	disk *sim.Disk
}

func engineDiskOptions(capacity int64) sim.DiskOptions {
	return sim.DiskOptions{
		ReadLatencyMin: 10 * sim.Microsecond, ReadLatencyMean: 50 * sim.Microsecond,
		WriteLatencyMin: 20 * sim.Microsecond, WriteLatencyMean: 200 * sim.Microsecond,
		Capacity: capacity,
	}
}

func newEngineDisk(t tb, seed uint64, opts sim.DiskOptions) *engineDisk {
	loop := sim.NewLoop()
	return &engineDisk{t: t, loop: loop,
		disk: sim.NewDisk(loop, sim.Stream(seed, "disk/0"), sim.NewTrace(loop.Now), 0, opts)}
}

// wait runs the loop until *fired.
func (d *engineDisk) wait(fired *bool) {
	d.t.Helper()
	for steps := 0; !*fired; steps++ {
		require.Less(d.t, steps, 10_000_000, "loop spinning before the completion")
		require.True(d.t, d.loop.Step(), "loop idle before the completion")
	}
}

// do issues an operation and waits for its completion, which must not be inline.
func (d *engineDisk) do(issue func(done func(error))) error {
	d.t.Helper()
	var got error
	fired := false
	issue(func(err error) {
		require.False(d.t, fired, "completion delivered twice")
		got, fired = err, true
	})
	require.False(d.t, fired, "completion delivered inline")
	d.wait(&fired)
	return got
}

func (d *engineDisk) format(opts storage.Options) {
	d.t.Helper()
	require.NoError(d.t, d.do(func(done func(error)) { storage.Format(d.disk, opts, engineState, done) }))
}

func (d *engineDisk) open(opts storage.Options) (*storage.Storage, *storage.Recovery, error) {
	d.t.Helper()
	var s *storage.Storage
	var rec *storage.Recovery
	err := d.do(func(done func(error)) {
		storage.Open(d.disk, opts, func(got *storage.Storage, r *storage.Recovery, err error) {
			s, rec = got, r
			done(err)
		})
	})
	return s, rec, err
}

func (d *engineDisk) mustOpen(opts storage.Options) (*storage.Storage, *storage.Recovery) {
	d.t.Helper()
	s, rec, err := d.open(opts)
	require.NoError(d.t, err, "Open")
	return s, rec
}

func (d *engineDisk) append(s *storage.Storage, op uint64, body []byte) error {
	d.t.Helper()
	return d.do(func(done func(error)) { s.Append(storage.Entry{Op: op, Body: body}, done) })
}

func (d *engineDisk) read(s *storage.Storage, op uint64) ([]byte, error) {
	d.t.Helper()
	var body []byte
	err := d.do(func(done func(error)) {
		s.Read(op, func(b []byte, err error) { body = b; done(err) })
	})
	return body, err
}

func (d *engineDisk) verify(s *storage.Storage) storage.VerifyReport {
	d.t.Helper()
	var r storage.VerifyReport
	require.NoError(d.t, d.do(func(done func(error)) {
		s.Verify(func(got storage.VerifyReport) { r = got; done(nil) })
	}))
	return r
}

func (d *engineDisk) compact(s *storage.Storage) (int64, error) {
	d.t.Helper()
	var freed int64
	err := d.do(func(done func(error)) {
		s.Compact(func(n int64, err error) { freed = n; done(err) })
	})
	return freed, err
}

// checkpoint commits through op and checkpoints there, as a replica does.
func (d *engineDisk) checkpoint(s *storage.Storage, op uint64, snapshot []byte) error {
	d.t.Helper()
	_, err := s.Commit(op)
	require.NoError(d.t, err, "Commit(%d)", op)
	return d.do(func(done func(error)) { s.Checkpoint(op, snapshot, done) })
}

// fill formats the disk and appends ops 1..n with bodyOf(op).
func (d *engineDisk) fill(opts storage.Options, n uint64, bodyOf func(uint64) []byte) *storage.Storage {
	d.t.Helper()
	d.format(opts)
	s, _ := d.mustOpen(opts)
	for op := uint64(1); op <= n; op++ {
		require.NoError(d.t, d.append(s, op, bodyOf(op)), "Append(%d)", op)
	}
	return s
}

// segmentNames lists the log segment files, sorted.
func (d *engineDisk) segmentNames() []string {
	d.t.Helper()
	var names []string
	require.NoError(d.t, d.do(func(done func(error)) {
		d.disk.List(func(got []string, err error) { names = got; done(err) })
	}))
	return slices.DeleteFunc(names, func(n string) bool { return !strings.HasPrefix(n, "log-") })
}

// entryPlace is where an entry lies in a segment file.
type entryPlace struct {
	file         string
	offset, size int64
}

// places locates every intact entry by decoding the pristine bytes of the segments.
func (d *engineDisk) places() map[uint64]entryPlace {
	d.t.Helper()
	out := map[uint64]entryPlace{}
	for _, name := range d.segmentNames() {
		b := d.disk.Pristine(name)
		for pos := int64(0); pos+storage.SectorSize <= int64(len(b)); {
			h, _, err := storage.DecodeEntry(b[pos:])
			if err != nil {
				pos += storage.SectorSize
				continue
			}
			out[h.Op] = entryPlace{file: name, offset: pos, size: h.Size()}
			pos += h.Size()
		}
	}
	return out
}

var engineState = storage.State{Cluster: 7, Replica: 1, ReplicaCount: 3, View: 1, LogView: 1, Release: 1}

// faultBody is a body of one to three sectors (with the header), different for every op.
func faultBody(op uint64) []byte {
	b := make([]byte, 200+int(op*389%1100))
	for i := range b {
		b[i] = byte(op*31+uint64(i)) | 1 // no zero bytes: a lost sector never looks intact
	}
	return b
}

func recoveredBodies(rec *storage.Recovery) map[uint64][]byte {
	out := map[uint64][]byte{}
	for _, e := range rec.Entries {
		out[e.Op] = e.Body
	}
	return out
}

func opsExcept(first, last uint64, except ...uint64) []uint64 {
	var ops []uint64
	for op := first; op <= last; op++ {
		if !slices.Contains(except, op) {
			ops = append(ops, op)
		}
	}
	return ops
}

func entryOps(rec *storage.Recovery) []uint64 {
	var ops []uint64
	for _, e := range rec.Entries {
		ops = append(ops, e.Op)
	}
	return ops
}

// requireBodies checks that every recovered entry is the body appended for its op.
func requireBodies(t tb, rec *storage.Recovery, bodyOf func(uint64) []byte) {
	t.Helper()
	for _, e := range rec.Entries {
		require.Equal(t, bodyOf(e.Op), e.Body, "op %d recovered with a body never appended", e.Op)
	}
}

// --- Crash points ---------------------------------------------------------------------------

// crashWorkload draws the history of seed (storagemodel.Draw on the seed's workload stream).
func crashWorkload(seed uint64, n int) []storagemodel.Step {
	return storagemodel.Draw(sim.Stream(seed, "workload"), n)
}

// crashRun runs a workload on a fresh disk, one operation at a time as a replica does.
type crashRun struct {
	d     *engineDisk
	opts  storage.Options
	s     *storage.Storage
	steps []storagemodel.Step
	m     *storagemodel.Model
}

var crashOptions = storage.Options{SegmentEntriesMax: 4, EntryBodyMax: 4096}

func newCrashRun(t tb, seed uint64, lost, torn float64, steps []storagemodel.Step) *crashRun {
	opts := engineDiskOptions(16 << 20)
	opts.CrashLostProbability, opts.CrashTornProbability = lost, torn
	run := &crashRun{d: newEngineDisk(t, seed, opts), opts: crashOptions, steps: steps,
		m: storagemodel.New(engineState.View)}
	run.d.format(run.opts)
	run.s, _ = run.d.mustOpen(run.opts)
	run.issue()
	return run
}

// issue starts the next operation; its completion updates the model and issues the next.
func (run *crashRun) issue() {
	if run.m.Acked == len(run.steps) {
		return
	}
	step := run.steps[run.m.Acked]
	run.m.Pending = &step
	done := func(err error) {
		require.NoError(run.d.t, err, "%v", step)
		run.m.Acknowledged(step, run.s.State().AuditHead)
		run.issue()
	}
	storagemodel.Issue(run.s, step, done)
}

// checkRecovery checks what Open found after the crash against the model: nothing that was
// acknowledged is lost, nothing that was never written (or was truncated with an
// acknowledgement) comes back, and only the append in flight may be faulty.
func checkRecovery(t tb, m *storagemodel.Model, rec *storage.Recovery, where string) {
	t.Helper()
	cp := rec.State.CheckpointOp
	require.True(t, cp == m.CP || (m.PendingCheckpoint() && cp == m.Pending.Op),
		"%s: recovered checkpoint %d, acknowledged %d, pending %v", where, cp, m.CP, m.Pending)
	require.Zero(t, rec.CheckpointDamaged, where)
	if cp > 0 {
		want := m.Snapshots[cp]
		if m.PendingCheckpoint() && cp == m.Pending.Op {
			want = m.Pending.Snapshot
		}
		require.Equal(t, want, rec.Snapshot, "%s: snapshot of checkpoint %d", where, cp)
	}
	require.True(t, rec.State.View == m.View || (m.PendingIs(storagemodel.SaveState) && rec.State.View == m.Pending.View),
		"%s: recovered view %d, acknowledged %d, pending %v", where, rec.State.View, m.View, m.Pending)
	got := recoveredBodies(rec)
	for op, body := range got {
		inFlight := m.PendingWrites(op) && bytes.Equal(m.Pending.Body, body)
		acked, ok := m.Log[op]
		require.True(t, inFlight || (ok && op <= m.Head && bytes.Equal(acked, body)),
			"%s: op %d recovered with a body that was never acknowledged nor in flight", where, op)
	}
	for op := cp + 1; op <= m.Head; op++ {
		if m.PendingMayDrop(op) {
			continue // the truncation in flight may have removed it
		}
		require.Contains(t, got, op, "%s: acknowledged op %d lost (checkpoint %d, faulty %v)",
			where, op, cp, rec.Faulty)
	}
	for _, op := range rec.Faulty {
		require.True(t, m.PendingWrites(op),
			"%s: op %d faulty, but only the append in flight (%v) may be", where, op, m.Pending)
	}
}

// rejoin does what a recovering replica does with its log: drop the faulty tail, append the
// next op, and find it all again after a clean restart, with nothing left for Verify.
func (run *crashRun) rejoin(s *storage.Storage, rec *storage.Recovery, where string) {
	t, d := run.d.t, run.d
	t.Helper()
	got := recoveredBodies(rec)
	prefix := rec.State.CheckpointOp
	for got[prefix+1] != nil {
		prefix++
	}
	require.NoError(t, d.do(func(done func(error)) { s.TruncateAfter(prefix, done) }), where)
	require.NoError(t, d.append(s, prefix+1, []byte("after the crash")), where)
	require.True(t, d.verify(s).OK, "%s: Verify after rejoining: %v", where, d.verify(s).Problems)
	_, again := d.mustOpen(run.opts)
	require.Empty(t, again.Faulty, where)
	require.Equal(t, opsExcept(again.State.CheckpointOp+1, prefix+1), entryOps(again), where)
	require.Equal(t, []byte("after the crash"), recoveredBodies(again)[prefix+1], where)
}

// crashAt runs the workload for n loop steps (completions), crashes the disk, and checks the
// recovery. It reports whether the workload had finished before the crash.
func crashAt(t tb, seed uint64, lost, torn float64, steps []storagemodel.Step, n int) bool {
	t.Helper()
	run := newCrashRun(t, seed, lost, torn, steps)
	for i := 0; i < n && run.d.loop.Step(); i++ {
	}
	finished := run.m.Acked == len(steps) && run.d.loop.Pending() == 0
	run.d.disk.Crash()
	where := fmt.Sprintf("seed %d, crash after %d completions (%d of %d operations acknowledged, pending %v)",
		seed, n, run.m.Acked, len(steps), run.m.Pending)
	s, rec, err := run.d.open(run.opts)
	require.NoError(t, err, where)
	checkRecovery(t, run.m, rec, where)
	run.rejoin(s, rec, where)
	return finished
}

// TestStorageCrashPoints (issue 4 acceptance: the crash-point test, at the engine level): for
// a workload of appends, superblock writes, checkpoints, compactions, truncations and
// replacing appends, the disk crashes after every completion (every write, sync, create,
// truncate, remove, list) in turn, losing or tearing the unsynced writes. Open never loses
// an acknowledged entry, view or checkpoint, never brings back an entry that was not written
// or was truncated, reports at most the append in flight as faulty, and the log can be
// continued.
func TestStorageCrashPoints(t *testing.T) {
	for _, c := range []struct {
		seed       uint64
		lost, torn float64
	}{{1, 0, 1}, {2, 0.5, 0.5}, {3, 0.3, 0.7}, {4, 0, 0}} {
		steps := crashWorkload(c.seed, 60)
		points := 0
		for n := 0; !crashAt(t, c.seed, c.lost, c.torn, steps, n); n++ {
			points++
		}
		require.Greater(t, points, 2*len(steps), "seed %d: too few crash points", c.seed)
	}
}

// TestStorageCrashPointsProperty draws the workload, the disk's seed, the crash outcome
// probabilities and the crash point.
func TestStorageCrashPointsProperty(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		seed := rapid.Uint64().Draw(rt, "seed")
		steps := crashWorkload(seed, rapid.IntRange(1, 40).Draw(rt, "operations"))
		lost := rapid.SampledFrom([]float64{0, 0.2, 0.5, 1}).Draw(rt, "lost")
		torn := rapid.SampledFrom([]float64{0, 0.5, 1}).Draw(rt, "torn")
		crashAt(rt, seed, lost, torn, steps, rapid.IntRange(0, 20*len(steps)).Draw(rt, "crash point"))
	})
}

// --- Faults detected by Open -----------------------------------------------------------------

var faultOptions = storage.Options{SegmentEntriesMax: 4, EntryBodyMax: 4096}

// TestStorageSectorFaultDetected: one sticky corruption (CorruptSector) or one latent sector
// error (LatentSectorError) anywhere in any log segment makes exactly the op whose entry
// holds that sector faulty at Open; every other entry is recovered with its own body. Read
// of that op on the running storage fails, again and again (the fault is sticky), and
// Verify reports it.
func TestStorageSectorFaultDetected(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		d := newEngineDisk(rt, rapid.Uint64().Draw(rt, "seed"), engineDiskOptions(16<<20))
		const n = 13
		s := d.fill(faultOptions, n, faultBody)
		places := d.places()
		require.Len(rt, places, n)
		victim := rapid.Uint64Range(1, n).Draw(rt, "victim")
		p := places[victim]
		offset := p.offset + rapid.Int64Range(0, p.size-1).Draw(rt, "byte")
		latent := rapid.Bool().Draw(rt, "latent")
		if latent {
			d.disk.LatentSectorError(p.file, offset)
		} else {
			d.disk.CorruptSector(p.file, offset)
		}
		for range 2 {
			_, err := d.read(s, victim)
			require.ErrorIs(rt, err, storage.ErrCorrupt)
		}
		require.Contains(rt, d.verify(s).Faulty, victim)

		_, rec := d.mustOpen(faultOptions)
		require.Equal(rt, []uint64{victim}, rec.Faulty, "latent %v at %s+%d", latent, p.file, offset)
		require.Equal(rt, opsExcept(1, n, victim), entryOps(rec))
		requireBodies(rt, rec, faultBody)
	})
}

// TestStorageTornWriteDetected: the disk crashes after an append's write completed and
// before its sync did, and the crash tears the write (CrashTornProbability 1). The append
// never finished (its redundant record was never written), so it was never acknowledged:
// Open drops the torn op, rather than reporting it faulty, and recovers every earlier one.
// The op is in the middle of a segment or the first of a new one.
func TestStorageTornWriteDetected(t *testing.T) {
	opts := engineDiskOptions(16 << 20)
	opts.CrashTornProbability = 1
	for _, victim := range []uint64{6, 8} {
		for seed := uint64(1); seed <= 12; seed++ {
			d := newEngineDisk(t, seed, opts)
			s := d.fill(faultOptions, victim-1, faultBody)
			body := bytes.Repeat([]byte{0x5a}, 1300) // three sectors with the header
			writes := d.disk.Stats().Writes
			s.Append(storage.Entry{Op: victim, Body: body}, func(error) { t.Fatal("the append completed") })
			for d.disk.Stats().Writes == writes {
				require.True(t, d.loop.Step())
			}
			d.disk.Crash()
			require.Equal(t, uint64(1), d.disk.Stats().CrashTorn, "seed %d: the write was not torn", seed)
			_, rec := d.mustOpen(faultOptions)
			require.Empty(t, rec.Faulty, "seed %d, op %d", seed, victim)
			require.Equal(t, opsExcept(1, victim-1), entryOps(rec), "seed %d, op %d", seed, victim)
			requireBodies(t, rec, faultBody)
		}
	}
}

// TestStorageLostRepairLeavesDamage: an entry repaired in place (Append of the same op,
// rewritten over its own extent) whose rewrite a crash loses before the sync is still
// damaged after the crash, and Open reports it faulty again; once a rewrite is synced, it is
// intact. (The disk used to forget the damage under a lost rewrite and show the old, intact
// bytes: a repair looked durable when it was not.)
func TestStorageLostRepairLeavesDamage(t *testing.T) {
	opts := engineDiskOptions(16 << 20)
	opts.CrashLostProbability = 1
	const n, victim = 7, 2
	for _, latent := range []bool{false, true} {
		d := newEngineDisk(t, 5, opts)
		d.fill(faultOptions, n, faultBody)
		p := d.places()[victim]
		if latent {
			d.disk.LatentSectorError(p.file, p.offset+storage.SectorSize)
		} else {
			d.disk.CorruptSector(p.file, p.offset+storage.SectorSize)
		}
		s, rec := d.mustOpen(faultOptions)
		require.Equal(t, []uint64{victim}, rec.Faulty)
		writes := d.disk.Stats().Writes
		s.Append(storage.Entry{Op: victim, Body: faultBody(victim)}, func(error) { t.Fatal("the repair completed") })
		for d.disk.Stats().Writes == writes {
			require.True(t, d.loop.Step())
		}
		require.Empty(t, d.disk.Faults(), "the rewrite's completion shows the sector rewritten")
		d.disk.Crash()
		require.Equal(t, uint64(1), d.disk.Stats().CrashLost)
		s, rec = d.mustOpen(faultOptions)
		require.Equal(t, []uint64{victim}, rec.Faulty, "latent %v: the lost repair left the damage", latent)
		require.NoError(t, d.append(s, victim, faultBody(victim)))
		d.disk.Crash()
		_, rec = d.mustOpen(faultOptions)
		require.Empty(t, rec.Faulty, "a synced repair survives")
		requireBodies(t, rec, faultBody)
	}
}

// TestStorageLostRepairOfTheHeadKeepsIt: the head op's entry and its record are both damaged
// (faulty of unknown identity), and its repair (an Append of the same body) is cut short by a
// crash after its first write reached the disk. The op must still be in the log: the replica
// acknowledged it. The repair used to truncate first, tombstoning the op's record, so a crash
// before the new entry was durable left nothing of the op (swarm seed 2026720855: view 6's
// op 149, committed, lost as view 7 began).
func TestStorageLostRepairOfTheHeadKeepsIt(t *testing.T) {
	const n = 7 // the head, the fourth entry of segment 1
	d := newEngineDisk(t, 5, engineDiskOptions(16<<20))
	d.fill(faultOptions, n, faultBody)
	p := d.places()[n]
	d.disk.CorruptSector(p.file, p.offset)
	d.disk.CorruptSector(p.file, int64(n%uint64(faultOptions.SegmentEntriesMax))*storage.SectorSize)
	s, rec := d.mustOpen(faultOptions)
	require.Equal(t, []uint64{n}, rec.Faulty)
	require.Empty(t, rec.FaultyPrefix, "the record is damaged: the op is of unknown identity")
	writes := d.disk.Stats().Writes
	s.Append(storage.Entry{Op: n, Body: faultBody(n)}, func(error) { t.Fatal("the repair completed") })
	for d.disk.Stats().Writes == writes {
		require.True(t, d.loop.Step())
	}
	d.disk.Crash()
	s, rec = d.mustOpen(faultOptions)
	require.Equal(t, uint64(n), s.Head(), "faulty %v: the acknowledged head op is gone", rec.Faulty)
}

// TestStorageRechainRunKeepsTheOpsAboveAtEveryCrash: ops 16 and 17 lose their identity (entry
// and record) and a peer's checkpoint 16 is installed, anchored at its file's checksum; op
// 17's repair no longer chains to op 18's parent, and an Append of it truncated ops 18-20
// (a replica may have acknowledged and committed them), so a crash before they were written
// again lost them (swarm seed 2026753315). RechainRun writes ops 17-20 again in place, linked
// from the new anchor: a crash at any of its writes leaves every op up to 20 in the log,
// intact with its body or faulty, never dropped.
func TestStorageRechainRunKeepsTheOpsAboveAtEveryCrash(t *testing.T) {
	requireRechainKeepsOpsAtEveryCrash(t, []uint64{16, 17}, nil)
}

// TestStorageRechainRunOverUnknownOpsBetweenKnownOnesAtEveryCrash: as
// TestStorageRechainRunKeepsTheOpsAboveAtEveryCrash, and op 19 lost its identity too, between
// ops 18 and 20 that the disk knows (swarm seed 2026919031: ops 134-136 so, above ops 129-131,
// and the repair of op 129 truncated view 9's ops 132-161). RechainRun lays op 19 below op 20
// and writes ops 17-20 in place: a crash at any of its writes leaves every op up to 20 in the
// log, intact with its body or faulty, never dropped.
func TestStorageRechainRunOverUnknownOpsBetweenKnownOnesAtEveryCrash(t *testing.T) {
	requireRechainKeepsOpsAtEveryCrash(t, []uint64{16, 17, 19}, func(s *storage.Storage, rec *storage.Recovery) {
		require.Equal(t, uint64(20), s.Head())
		require.Empty(t, rec.Faulty)
		got := recoveredBodies(rec)
		for op := uint64(17); op <= 20; op++ {
			require.Equal(t, faultBody(op), got[op], "op %d after the run", op)
		}
	})
}

// requireRechainKeepsOpsAtEveryCrash fills 20 ops over a checkpoint at 12, damages the
// entries and records of the ops lost (identity lost), installs a peer's checkpoint 16 and
// rechains ops 17-20, crashing after each of the run's writes in turn: after each crash
// every op up to 20 is in the log, intact with its body or faulty, never dropped. finished,
// if set, checks the engine reopened after the run completed without a crash.
func requireRechainKeepsOpsAtEveryCrash(t *testing.T, lost []uint64, finished func(*storage.Storage, *storage.Recovery)) {
	t.Helper()
	opts := storage.Options{SegmentEntriesMax: 12, EntryBodyMax: 4096}
	for crashAfter := uint64(1); ; crashAfter++ {
		d := newEngineDisk(t, 9, engineDiskOptions(16<<20))
		s := d.fill(opts, 20, faultBody)
		require.NoError(t, d.checkpoint(s, 12, []byte("state at 12")))
		at := d.places()
		for _, op := range lost {
			d.disk.CorruptSector(at[op].file, at[op].offset)
			d.disk.CorruptSector(at[op].file, int64(op%12)*storage.SectorSize)
		}
		s, rec := d.mustOpen(opts)
		require.Equal(t, lost, rec.Faulty)
		require.NoError(t, d.do(func(done func(error)) { s.InstallCheckpoint(16, []byte("a peer's state at 16"), done) }))
		var run []storage.Entry
		for op := uint64(17); op <= 20; op++ {
			run = append(run, storage.Entry{Op: op, Body: faultBody(op)})
		}
		require.True(t, s.RechainableRun(run), "ops 17-20 rechainable")
		writes := d.disk.Stats().Writes
		done := false
		s.RechainRun(run, func(n int, err error) {
			require.NoError(t, err)
			require.Equal(t, 4, n)
			done = true
		})
		for !done && d.disk.Stats().Writes < writes+crashAfter {
			require.True(t, d.loop.Step())
		}
		if done {
			require.Greater(t, crashAfter, uint64(4), "too few write points crashed")
			if finished != nil {
				finished(d.mustOpen(opts))
			}
			return // every write point crashed once
		}
		d.disk.Crash()
		s, rec = d.mustOpen(opts)
		require.Equal(t, uint64(20), s.Head(), "crash after %d writes: faulty %v: acknowledged ops dropped",
			crashAfter, rec.Faulty)
		got := recoveredBodies(rec)
		for op := uint64(17); op <= 20; op++ {
			if body, ok := got[op]; ok {
				require.Equal(t, faultBody(op), body, "crash after %d writes: op %d", crashAfter, op)
			} else {
				require.Contains(t, rec.Faulty, op, "crash after %d writes: op %d neither intact nor faulty", crashAfter, op)
			}
		}
	}
}

// TestStorageMisdirectedAppendDetected: one append's writes land elsewhere in its segment
// (WriteMisdirectProbability 1 while faults are on: the entry and its redundant record). The
// append is acknowledged (the disk does not know), but Open reports the op faulty or, with
// its record lost too, absent (a double fault on one replica: the atlas keeps the other
// copies), and the entries the writes overwrote faulty; no wrong body is ever recovered.
func TestStorageMisdirectedAppendDetected(t *testing.T) {
	opts := engineDiskOptions(16 << 20)
	opts.WriteMisdirectProbability = 1
	const victim = 10 // the third entry of segment 2
	for seed := uint64(1); seed <= 12; seed++ {
		d := newEngineDisk(t, seed, opts)
		d.disk.SetFaultsEnabled(false)
		s := d.fill(faultOptions, victim-1, faultBody)
		d.disk.SetFaultsEnabled(true) // only the append misdirects
		require.NoError(t, d.append(s, victim, faultBody(victim)))
		require.Equal(t, uint64(2), d.disk.Stats().Misdirects, "seed %d", seed)
		// Open may write too (a stray record in place, placeStrays): it lands where it aims.
		d.disk.SetFaultFilter(func(string, int64) bool { return false })
		s, rec := d.mustOpen(faultOptions)
		require.True(t, slices.Contains(rec.Faulty, uint64(victim)) || s.Head() == victim-1,
			"seed %d: op %d neither faulty nor dropped (faulty %v, head %d)", seed, victim, rec.Faulty, s.Head())
		for _, op := range rec.Faulty {
			require.Contains(t, []uint64{8, 9, victim}, op, "seed %d: faulty op outside the segment", seed)
		}
		require.Equal(t, opsExcept(1, s.Head(), rec.Faulty...), entryOps(rec), "seed %d", seed)
		requireBodies(t, rec, faultBody)
	}
}

// TestStorageMisdirectedCopyDetected: an entry's bytes written (and synced) over another
// entry of the same size, in the same segment or another one: the overwritten op is faulty;
// the op whose copy landed there keeps its own, intact entry.
func TestStorageMisdirectedCopyDetected(t *testing.T) {
	const n = 13
	sizeOf := func(op uint64) int64 { return (storage.HeaderSize + int64(len(faultBody(op))) + 511) / 512 }
	var pairs [][2]uint64 // (source, target) of equal sizes
	for a := uint64(1); a <= n; a++ {
		for b := uint64(1); b <= n; b++ {
			if a != b && sizeOf(a) == sizeOf(b) {
				pairs = append(pairs, [2]uint64{a, b})
			}
		}
	}
	require.NotEmpty(t, pairs)
	for _, pair := range pairs {
		src, dst := pair[0], pair[1]
		d := newEngineDisk(t, 1, engineDiskOptions(16<<20))
		d.fill(faultOptions, n, faultBody)
		places := d.places()
		from, to := places[src], places[dst]
		entry := d.disk.Pristine(from.file)[from.offset : from.offset+from.size]
		require.NoError(t, d.do(func(done func(error)) { d.disk.WriteAt(to.file, entry, to.offset, done) }))
		require.NoError(t, d.do(func(done func(error)) { d.disk.Sync(to.file, done) }))
		_, rec := d.mustOpen(faultOptions)
		require.Equal(t, []uint64{dst}, rec.Faulty, "copy of op %d (%s) onto op %d (%s)", src, from.file, dst, to.file)
		requireBodies(t, rec, faultBody)
	}
}

// --- Disk full ------------------------------------------------------------------------------

// TestStorageDiskFullSimDisk (issue 4 acceptance, engine level): appends fill the simulated
// disk until one fails with ErrNoSpace; nothing earlier is damaged (a restart recovers every
// entry, Verify finds nothing); the reserve lets a checkpoint be written on the full disk,
// compaction frees the segments below it, and appends resume.
func TestStorageDiskFullSimDisk(t *testing.T) {
	opts := storage.Options{SegmentEntriesMax: 4, EntryBodyMax: 4096, AutoCompactPercent: 100, ReserveBytes: 1024}
	d := newEngineDisk(t, 3, engineDiskOptions(32<<10))
	d.format(opts)
	s, _ := d.mustOpen(opts)
	bodyOf := func(op uint64) []byte { return bytes.Repeat([]byte{byte(op) | 1}, 1000) }
	op := uint64(1)
	for ; ; op++ {
		err := d.append(s, op, bodyOf(op))
		if errors.Is(err, storage.ErrNoSpace) {
			break
		}
		require.NoError(t, err, "Append(%d)", op)
		require.Less(t, op, uint64(100))
	}
	full := op - 1
	require.GreaterOrEqual(t, full, uint64(10))
	require.Equal(t, full, s.Head())
	require.Equal(t, uint64(1), s.Stats().NoSpace)
	require.GreaterOrEqual(t, s.UsagePercent(), 90)
	require.True(t, d.verify(s).OK)

	s, rec := d.mustOpen(opts) // a restart on the full disk
	require.Empty(t, rec.Faulty)
	require.Equal(t, opsExcept(1, full), entryOps(rec))
	requireBodies(t, rec, bodyOf)
	require.ErrorIs(t, d.append(s, full+1, bodyOf(full+1)), storage.ErrNoSpace)

	before := s.UsagePercent()
	require.NoError(t, d.checkpoint(s, full, []byte("snapshot")), "a checkpoint fits in the reserve")
	freed, err := d.compact(s)
	require.NoError(t, err)
	require.Positive(t, freed)
	require.Less(t, s.UsagePercent(), before)
	for op := full + 1; op <= full+4; op++ {
		require.NoError(t, d.append(s, op, bodyOf(op)), "Append(%d) after compaction", op)
	}
	_, rec = d.mustOpen(opts)
	require.Equal(t, full, rec.State.CheckpointOp)
	require.Equal(t, opsExcept(full+1, full+4), entryOps(rec))
	require.Empty(t, rec.Faulty)
}

// TestStorageCapacityShrunk: the disk's capacity drops below its usage (SetCapacity), first
// between two appends (the engine's own space check refuses), then while an append's write
// is in flight (the disk refuses the write with ErrNoSpace). Neither damages the log; once
// the capacity is back, the same op is appended.
func TestStorageCapacityShrunk(t *testing.T) {
	for _, inFlight := range []bool{false, true} {
		d := newEngineDisk(t, 4, engineDiskOptions(1<<20))
		s := d.fill(faultOptions, 6, faultBody)
		used := d.disk.Usage().Used
		var err error
		if inFlight {
			fired := false
			s.Append(storage.Entry{Op: 7, Body: faultBody(7)}, func(e error) { err, fired = e, true })
			d.disk.SetCapacity(used) // the engine checked the space already
			d.wait(&fired)
		} else {
			d.disk.SetCapacity(used / 2)
			err = d.append(s, 7, faultBody(7))
		}
		require.ErrorIs(t, err, storage.ErrNoSpace, "in flight %v", inFlight)
		require.Equal(t, uint64(6), s.Head())
		require.True(t, d.verify(s).OK, "in flight %v: %v", inFlight, d.verify(s).Problems)
		_, rec := d.mustOpen(faultOptions)
		require.Equal(t, opsExcept(1, 6), entryOps(rec))
		require.Empty(t, rec.Faulty)

		d.disk.SetCapacity(1 << 20)
		require.NoError(t, d.append(s, 7, faultBody(7)), "in flight %v", inFlight)
		_, rec = d.mustOpen(faultOptions)
		require.Equal(t, opsExcept(1, 7), entryOps(rec))
		requireBodies(t, rec, faultBody)
	}
}

// --- Benchmarks -----------------------------------------------------------------------------

// BenchmarkAppendSimDisk measures one durable append (write and sync) of a 1 KiB body on the
// simulated disk: the engine's and the simulator's CPU cost per append, and the virtual time
// an append takes with the disk latencies of engineDiskOptions.
func BenchmarkAppendSimDisk(b *testing.B) {
	d := newEngineDisk(b, 1, engineDiskOptions(1<<40))
	opts := storage.Options{}
	d.format(opts)
	s, _ := d.mustOpen(opts)
	body := make([]byte, 1024)
	start := d.loop.Now()
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for op := uint64(1); op <= uint64(b.N); op++ {
		if err := d.append(s, op, body); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(d.loop.Now()-start)/float64(b.N), "virtual-ns/op")
}

// BenchmarkRecoverySimDisk measures Open of a log of 2000 entries of 1 KiB in 2 segments on
// the simulated disk.
func BenchmarkRecoverySimDisk(b *testing.B) {
	d := newEngineDisk(b, 1, engineDiskOptions(1<<30))
	opts := storage.Options{}
	const entries = 2000
	d.fill(opts, entries, func(uint64) []byte { return make([]byte, 1024) })
	b.SetBytes(entries * 1024)
	b.ResetTimer()
	for range b.N {
		if _, rec := d.mustOpen(opts); len(rec.Entries) != entries {
			b.Fatal("entries lost")
		}
	}
}
