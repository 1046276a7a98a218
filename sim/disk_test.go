package sim

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"vopr/cluster/storage"
	"vopr/cluster/storage/fstest"
)

const diskSector = storage.SectorSize

// diskHarness drives one disk synchronously: each helper issues an operation, runs the loop
// until nothing is left, checks that the callback ran exactly once and the disk's
// invariants still hold, and returns the result.
type diskHarness struct {
	t     *testing.T
	loop  *Loop
	trace *Trace
	disk  *Disk
	// skipInvariants spares settle the invariant check, which replays every unsynced write:
	// for tests that issue thousands of operations on a large file.
	skipInvariants bool
}

// diskOptionsClean is a disk with latency and no faults.
func diskOptionsClean() DiskOptions {
	return DiskOptions{
		ReadLatencyMin: 10 * Microsecond, ReadLatencyMean: 100 * Microsecond,
		WriteLatencyMin: 20 * Microsecond, WriteLatencyMean: 200 * Microsecond,
		Capacity: 16 << 20,
	}
}

func newDiskHarness(t *testing.T, seed uint64, opts DiskOptions) *diskHarness {
	loop := NewLoop()
	trace := NewTrace(loop.Now)
	return &diskHarness{t: t, loop: loop, trace: trace,
		disk: NewDisk(loop, Stream(seed, "disk/0"), trace, 0, opts)}
}

func (h *diskHarness) settle() {
	h.t.Helper()
	for i := 0; h.loop.Step(); i++ {
		require.Less(h.t, i, 1_000_000, "loop does not settle")
	}
	if !h.skipInvariants {
		h.disk.checkInvariants()
	}
}

func (h *diskHarness) create(name string) error {
	h.t.Helper()
	var got error
	calls := 0
	h.disk.Create(name, func(err error) { got = err; calls++ })
	h.settle()
	require.Equal(h.t, 1, calls)
	return got
}

func (h *diskHarness) write(name string, offset int64, data []byte) error {
	h.t.Helper()
	var got error
	calls := 0
	h.disk.WriteAt(name, data, offset, func(err error) { got = err; calls++ })
	h.settle()
	require.Equal(h.t, 1, calls)
	return got
}

func (h *diskHarness) read(name string, offset int64, length int) ([]byte, error) {
	h.t.Helper()
	buf := make([]byte, length)
	var got error
	n, calls := 0, 0
	h.disk.ReadAt(name, buf, offset, func(k int, err error) { n, got = k, err; calls++ })
	h.settle()
	require.Equal(h.t, 1, calls)
	return buf[:n], got
}

func (h *diskHarness) sync(name string) error {
	h.t.Helper()
	var got error
	calls := 0
	h.disk.Sync(name, func(err error) { got = err; calls++ })
	h.settle()
	require.Equal(h.t, 1, calls)
	return got
}

func (h *diskHarness) truncate(name string, size int64) error {
	h.t.Helper()
	var got error
	calls := 0
	h.disk.Truncate(name, size, func(err error) { got = err; calls++ })
	h.settle()
	require.Equal(h.t, 1, calls)
	return got
}

func (h *diskHarness) remove(name string) error {
	h.t.Helper()
	var got error
	calls := 0
	h.disk.Remove(name, func(err error) { got = err; calls++ })
	h.settle()
	require.Equal(h.t, 1, calls)
	return got
}

func (h *diskHarness) readAll(name string) []byte {
	h.t.Helper()
	size, err := h.disk.Size(name)
	require.NoError(h.t, err)
	data, err := h.read(name, 0, int(size))
	require.NoError(h.t, err)
	return data
}

// diskFill returns n bytes of b.
func diskFill(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }

// sectorsOf returns a file with count sectors, sector i filled with byte i+1.
func diskSectorsOf(count int) []byte {
	var data []byte
	for i := 0; i < count; i++ {
		data = append(data, diskFill(byte(i+1), diskSector)...)
	}
	return data
}

func diskBitsDiffering(a, b []byte) int {
	n := 0
	for i := range a {
		x := a[i] ^ b[i]
		for ; x != 0; x &= x - 1 {
			n++
		}
	}
	return n
}

func requireNoDiskFaults(t *testing.T, s DiskStats) {
	t.Helper()
	require.Zero(t, s.LatentSectorErrors+s.ReadCorruptions+s.WriteCorruptions+s.Misdirects)
	require.Zero(t, s.CrashLost+s.CrashTorn+s.ReadErrors)
}

func TestDiskRoundTripWithoutFaults(t *testing.T) {
	h := newDiskHarness(t, 1, diskOptionsClean())
	require.NoError(t, h.create("f"))
	require.ErrorIs(t, h.create("f"), storage.ErrExist)
	rng := Stream(1, "test")
	var model []byte
	for i := 0; i < 200; i++ {
		offset := int64(rng.IntN(20 * diskSector))
		data := make([]byte, 1+rng.IntN(3*diskSector))
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		require.NoError(t, h.write("f", offset, data))
		model = resizeBytes(model, max(int64(len(model)), offset+int64(len(data))))
		copy(model[offset:], data)
		if i%7 == 0 {
			require.NoError(t, h.sync("f"))
		}
		if i%50 == 0 {
			h.disk.Crash()
			h.settle()
		}
		require.Equal(t, model, h.readAll("f"))
	}
	require.NoError(t, h.sync("f"))
	h.disk.Crash()
	require.Equal(t, model, h.readAll("f"), "a crash after sync loses nothing")
	require.Equal(t, model, h.disk.Durable("f"))
	got, err := h.read("f", int64(len(model))-10, 100)
	require.NoError(t, err, "a read past the end is short, not an error")
	require.Equal(t, model[len(model)-10:], got)
	requireNoDiskFaults(t, h.disk.Stats())
	require.Empty(t, h.disk.Faults())
}

func TestDiskMissingFile(t *testing.T) {
	h := newDiskHarness(t, 1, diskOptionsClean())
	_, err := h.read("nope", 0, 10)
	require.ErrorIs(t, err, storage.ErrNotExist)
	require.ErrorIs(t, h.write("nope", 0, []byte{1}), storage.ErrNotExist)
	require.ErrorIs(t, h.sync("nope"), storage.ErrNotExist)
	require.ErrorIs(t, h.truncate("nope", 0), storage.ErrNotExist)
	require.ErrorIs(t, h.remove("nope"), storage.ErrNotExist)
	_, err = h.disk.Size("nope")
	require.ErrorIs(t, err, storage.ErrNotExist)
	for _, name := range []string{"c", "a", "b"} {
		require.NoError(t, h.create(name))
	}
	var names []string
	h.disk.List(func(n []string, err error) { require.NoError(t, err); names = n })
	h.settle()
	require.Equal(t, []string{"a", "b", "c"}, names)
}

func TestDiskCrashLosesUnsyncedWrites(t *testing.T) {
	h, synced := newSyncedFile(t, 2)
	require.NoError(t, h.write("f", 2*diskSector, diskFill(0xEE, 5*diskSector)))
	require.NoError(t, h.write("f", 100, diskFill(0xDD, 10)))
	require.Equal(t, int64(7*diskSector), h.disk.Usage().Used)
	h.disk.Crash()
	h.disk.checkInvariants()
	require.Equal(t, synced, h.readAll("f"), "every unsynced write is lost, synced data is not")
	require.Equal(t, int64(4*diskSector), h.disk.Usage().Used)
	require.Equal(t, uint64(2), h.disk.Stats().CrashLost)
}

func TestDiskCrashTearsUnsyncedWrites(t *testing.T) {
	opts := diskOptionsClean()
	opts.CrashTornProbability = 1
	h := newDiskHarness(t, 3, opts)
	require.NoError(t, h.create("f"))
	require.NoError(t, h.create("g"))
	require.NoError(t, h.write("f", 0, diskFill(0xAA, 16*diskSector)))
	require.NoError(t, h.write("g", 0, diskFill(0x11, 16*diskSector)))
	require.NoError(t, h.sync("f"))
	require.NoError(t, h.sync("g"))
	require.NoError(t, h.write("f", 0, diskFill(0xBB, 16*diskSector)))
	h.disk.Crash()
	h.disk.checkInvariants()
	got := h.readAll("f")
	require.Len(t, got, 16*diskSector)
	old, new := 0, 0
	for s := 0; s < 16; s++ {
		sec := got[s*diskSector : (s+1)*diskSector]
		switch {
		case bytes.Equal(sec, diskFill(0xAA, diskSector)):
			old++
		case bytes.Equal(sec, diskFill(0xBB, diskSector)):
			new++
		default:
			t.Fatalf("sector %d is half written", s)
		}
	}
	require.Positive(t, old, "a torn write loses some sectors")
	require.Positive(t, new, "a torn write keeps some sectors")
	require.Equal(t, diskFill(0x11, 16*diskSector), h.readAll("g"), "synced data is never torn")
	require.Equal(t, uint64(1), h.disk.Stats().CrashTorn)
}

// TestDiskCrashProperty checks the durability contract over random sequences of
// sector-aligned writes, syncs, waits and crashes, with writes in flight: after a crash every
// sector holds either its last synced content or the content of a later unsynced write of
// it; a sector with no later write keeps its synced content; with CrashLostProbability 1 only
// synced data remains; with no crash faults every write, even one in flight, is kept.
func TestDiskCrashProperty(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		opts := diskOptionsClean()
		opts.CrashLostProbability = rapid.SampledFrom([]float64{0, 0.3, 1}).Draw(rt, "lost")
		opts.CrashTornProbability = rapid.SampledFrom([]float64{0, 0.5, 1}).Draw(rt, "torn")
		loop := NewLoop()
		disk := NewDisk(loop, Stream(rapid.Uint64().Draw(rt, "seed"), "disk"), NewTrace(loop.Now), 0, opts)
		m := &diskCrashModel{rt: rt, disk: disk, loop: loop, opts: opts}
		disk.Create("f", func(err error) { m.mustOK(err) })
		loop.RunUntil(Time(Second))
		steps := rapid.IntRange(1, 60).Draw(rt, "steps")
		for i := 0; i < steps; i++ {
			m.step(rapid.IntRange(0, 9).Draw(rt, "action"))
			disk.checkInvariants()
		}
		m.crashAndCheck()
	})
}

const diskModelSectors = 16

type diskModelWrite struct {
	first, count int
	value        byte
	done, synced bool
}

func (w *diskModelWrite) touches(s int) bool { return s >= w.first && s < w.first+w.count }

// diskCrashModel is the reference for TestDiskCrashProperty: each write fills whole sectors with
// its own byte, so a sector's content names the write that left it.
type diskCrashModel struct {
	rt         *rapid.T
	disk       *Disk
	loop       *Loop
	opts       DiskOptions
	base       [diskModelSectors]byte // contents after the last crash (0: zeros or absent)
	writes     []*diskModelWrite      // issued since the last crash, in issue order
	completed  []*diskModelWrite      // completed since the last crash, in completion order
	generation int
	values     int
}

func (m *diskCrashModel) mustOK(err error) {
	if err != nil {
		m.rt.Fatalf("unexpected error %v", err)
	}
}

func (m *diskCrashModel) step(action int) {
	switch {
	case action <= 4:
		m.values++
		w := &diskModelWrite{first: rapid.IntRange(0, diskModelSectors-1).Draw(m.rt, "first"),
			value: byte(m.values%250 + 1)}
		w.count = rapid.IntRange(1, min(4, diskModelSectors-w.first)).Draw(m.rt, "count")
		m.writes = append(m.writes, w)
		generation := m.generation
		m.disk.WriteAt("f", diskFill(w.value, w.count*diskSector), int64(w.first*diskSector), func(err error) {
			m.mustCurrent(generation)
			m.mustOK(err)
			w.done = true
			m.completed = append(m.completed, w)
		})
	case action <= 6:
		upTo, generation := len(m.completed), m.generation
		m.disk.Sync("f", func(err error) {
			m.mustCurrent(generation)
			m.mustOK(err)
			for _, w := range m.completed[:upTo] {
				w.synced = true
			}
		})
	case action <= 8:
		wait := Duration(rapid.IntRange(0, 400).Draw(m.rt, "wait_us")) * Microsecond
		m.loop.RunUntil(m.loop.Now() + Time(wait))
	default:
		m.crashAndCheck()
	}
}

func (m *diskCrashModel) mustCurrent(generation int) {
	if generation != m.generation {
		m.rt.Fatalf("a completion issued before a crash ran after it")
	}
}

// lastSynced is the content a sector must at least fall back to.
func (m *diskCrashModel) lastSynced(s int) byte {
	v := m.base[s]
	for _, w := range m.completed {
		if w.synced && w.touches(s) {
			v = w.value
		}
	}
	return v
}

// allKept is the content of a sector if every write, in flight or not, survived.
func (m *diskCrashModel) allKept(s int) byte {
	v := m.base[s]
	for _, w := range m.completed {
		if w.touches(s) {
			v = w.value
		}
	}
	for _, w := range m.writes {
		if !w.done && w.touches(s) {
			v = w.value
		}
	}
	return v
}

func (m *diskCrashModel) crashAndCheck() {
	m.disk.Crash()
	m.generation++
	data := m.disk.Pristine("f")
	if len(data)%diskSector != 0 || len(data) > diskModelSectors*diskSector {
		m.rt.Fatalf("file size %d after crash", len(data))
	}
	for s := 0; s < diskModelSectors; s++ {
		got := byte(0)
		if (s+1)*diskSector <= len(data) {
			got = data[s*diskSector]
			if !bytes.Equal(data[s*diskSector:(s+1)*diskSector], diskFill(got, diskSector)) {
				m.rt.Fatalf("sector %d holds parts of two writes", s)
			}
		}
		m.checkSector(s, got)
	}
	for s := range m.base {
		m.base[s] = 0
		if (s+1)*diskSector <= len(data) {
			m.base[s] = data[s*diskSector]
		}
	}
	m.writes, m.completed = nil, nil
	m.loop.RunUntil(m.loop.Now() + Time(Second)) // stale completions must not run
}

func (m *diskCrashModel) checkSector(s int, got byte) {
	synced := m.lastSynced(s)
	if m.opts.CrashLostProbability == 1 && got != synced {
		m.rt.Fatalf("sector %d: %d, want synced %d with every unsynced write lost", s, got, synced)
	}
	if m.opts.CrashLostProbability == 0 && m.opts.CrashTornProbability == 0 && got != m.allKept(s) {
		m.rt.Fatalf("sector %d: %d, want %d with every write kept", s, got, m.allKept(s))
	}
	if got == synced {
		return
	}
	for _, w := range m.writes {
		if !w.synced && w.touches(s) && w.value == got {
			return
		}
	}
	m.rt.Fatalf("sector %d: %d is neither its synced content %d nor a later write of it", s, got, synced)
}

func TestDiskInflightWritesAtCrash(t *testing.T) {
	for _, lost := range []float64{0, 1} {
		opts := diskOptionsClean()
		opts.CrashLostProbability = lost
		h := newDiskHarness(t, 4, opts)
		require.NoError(t, h.create("f"))
		require.NoError(t, h.write("f", 0, diskFill(1, diskSector)))
		require.NoError(t, h.sync("f"))
		h.disk.WriteAt("f", diskFill(2, 2*diskSector), 0, func(error) { t.Fatal("callback after crash") })
		h.disk.Crash()
		h.settle()
		if lost == 0 {
			require.Equal(t, diskFill(2, 2*diskSector), h.readAll("f"), "a write in flight may reach the disk")
		} else {
			require.Equal(t, diskFill(1, diskSector), h.readAll("f"))
		}
	}
}

func TestDiskCompletionsNeverInline(t *testing.T) {
	h := newDiskHarness(t, 5, DiskOptions{Capacity: 1 << 20}) // zero latency
	calls := 0
	count := func(error) { calls++ }
	h.disk.Create("f", count)
	h.disk.WriteAt("f", []byte("x"), 0, count)
	h.disk.ReadAt("f", make([]byte, 1), 0, func(int, error) { calls++ })
	h.disk.Sync("f", count)
	h.disk.Truncate("f", 0, count)
	h.disk.List(func([]string, error) { calls++ })
	h.disk.Remove("f", count)
	require.Zero(t, calls, "no completion runs inside the call")
	require.Equal(t, 7, h.loop.Pending())
	h.settle()
	require.Equal(t, 7, calls)
}

func TestDiskCrashDropsPendingCompletions(t *testing.T) {
	h := newDiskHarness(t, 6, diskOptionsClean())
	require.NoError(t, h.create("f"))
	require.NoError(t, h.write("f", 0, diskFill(7, diskSector)))
	fail := func(error) { t.Fatal("a completion issued before the crash ran") }
	h.disk.WriteAt("f", diskFill(8, diskSector), 0, fail)
	h.disk.ReadAt("f", make([]byte, diskSector), 0, func(int, error) { fail(nil) })
	h.disk.Sync("f", fail)
	h.disk.Create("g", fail)
	h.disk.Remove("f", fail)
	h.disk.Crash()
	h.settle()
	_, err := h.disk.Size("g")
	require.ErrorIs(t, err, storage.ErrNotExist, "an operation that never completed did nothing")
	require.NoError(t, h.write("f", 0, diskFill(9, diskSector)), "the disk works after a crash")
}

func TestDiskNoSpace(t *testing.T) {
	opts := diskOptionsClean()
	opts.Capacity = 8 * diskSector
	h := newDiskHarness(t, 7, opts)
	require.NoError(t, h.create("a"))
	first := diskFill(1, 3000)
	require.NoError(t, h.write("a", 0, first))
	require.Equal(t, storage.Usage{Used: 6 * diskSector, Capacity: 8 * diskSector}, h.disk.Usage())
	require.ErrorIs(t, h.write("a", 3000, diskFill(2, 2000)), storage.ErrNoSpace)
	require.Equal(t, first, h.readAll("a"), "a refused write applies nothing")
	require.NoError(t, h.write("a", 3000, diskFill(3, 8*diskSector-3000)))
	require.Equal(t, 100, h.disk.Usage().Percent())
	require.NoError(t, h.write("a", 0, diskFill(4, 100)), "overwriting needs no space")
	require.ErrorIs(t, h.truncate("a", 8*diskSector+1), storage.ErrNoSpace)
	require.NoError(t, h.create("b"), "an empty file takes no space")
	require.ErrorIs(t, h.write("b", 0, []byte{1}), storage.ErrNoSpace)
	require.Equal(t, uint64(3), h.disk.Stats().NoSpace)
	want := append(append(diskFill(4, 100), first[100:]...), diskFill(3, 8*diskSector-3000)...)
	require.Equal(t, want, h.readAll("a"), "earlier data intact")
	require.NoError(t, h.remove("a"))
	require.Zero(t, h.disk.Usage().Used, "remove frees space")
	require.NoError(t, h.write("b", 0, diskFill(5, 4*diskSector)))
	h.disk.SetCapacity(2 * diskSector)
	require.ErrorIs(t, h.write("b", 4*diskSector, []byte{1}), storage.ErrNoSpace)
	require.NoError(t, h.truncate("b", diskSector), "shrinking frees space")
	require.Equal(t, int64(diskSector), h.disk.Usage().Used)
}

func TestDiskTruncateIsDurable(t *testing.T) {
	h := newDiskHarness(t, 8, diskOptionsClean()) // no crash faults: unsynced writes are kept
	require.NoError(t, h.create("f"))
	data := diskSectorsOf(8)
	require.NoError(t, h.write("f", 0, data[:4*diskSector]))
	require.NoError(t, h.sync("f"))
	require.NoError(t, h.write("f", 4*diskSector, data[4*diskSector:]))
	require.NoError(t, h.truncate("f", 1280))
	h.disk.Crash()
	require.Equal(t, data[:1280], h.readAll("f"), "a crash cannot undo a truncate")
	require.NoError(t, h.truncate("f", 3000))
	h.disk.Crash()
	require.Equal(t, append(bytes.Clone(data[:1280]), make([]byte, 3000-1280)...), h.readAll("f"))
}

func TestDiskLatentSectorError(t *testing.T) {
	h := newDiskHarness(t, 9, diskOptionsClean())
	require.NoError(t, h.create("f"))
	data := diskSectorsOf(3)
	require.NoError(t, h.write("f", 0, data))
	h.disk.LatentSectorError("f", 600)
	require.Equal(t, []DiskFault{{Name: "f", Sector: 1, Offset: diskSector, Kind: FaultLatentSectorError}},
		h.disk.Faults())
	_, err := h.read("f", 0, 3*diskSector)
	require.ErrorIs(t, err, storage.ErrIO)
	_, err = h.read("f", 1000, 1)
	require.ErrorIs(t, err, storage.ErrIO, "sticky")
	got, err := h.read("f", 2*diskSector, diskSector)
	require.NoError(t, err, "other sectors read fine")
	require.Equal(t, data[2*diskSector:], got)
	require.NoError(t, h.write("f", 700, []byte{0xFF}), "any write to the sector rewrites it")
	got, err = h.read("f", diskSector, diskSector)
	require.NoError(t, err)
	require.Equal(t, byte(0xFF), got[700-diskSector])
	require.Empty(t, h.disk.Faults())
	require.Equal(t, uint64(2), h.disk.Stats().ReadErrors)

	// Random latent sector errors: every read turns one healthy sector latent.
	opts := diskOptionsClean()
	opts.ReadFaultProbability = 1
	h = newDiskHarness(t, 9, opts)
	require.NoError(t, h.create("f"))
	require.NoError(t, h.write("f", 0, data[:diskSector]))
	for i := 0; i < 3; i++ {
		_, err = h.read("f", 0, 10)
		require.ErrorIs(t, err, storage.ErrIO)
	}
	require.Equal(t, uint64(1), h.disk.Stats().LatentSectorErrors)
	require.Equal(t, uint64(3), h.disk.Stats().ReadErrors)
}

func TestDiskReadCorruptionIsSticky(t *testing.T) {
	opts := diskOptionsClean()
	opts.ReadCorruptionProbability = 1
	h := newDiskHarness(t, 10, opts)
	require.NoError(t, h.create("f"))
	data := diskSectorsOf(1)
	require.NoError(t, h.write("f", 0, data))
	corrupt := h.readAll("f")
	require.Equal(t, 1, diskBitsDiffering(data, corrupt), "one bit flipped")
	for i := 0; i < 5; i++ {
		require.Equal(t, corrupt, h.readAll("f"), "the same corrupt bytes every read")
	}
	require.Equal(t, uint64(1), h.disk.Stats().ReadCorruptions)
	h.disk.SetFaultsEnabled(false)
	require.Equal(t, data, h.readAll("f"), "pristine with faults off")
	require.Len(t, h.disk.Faults(), 1, "the overlay is kept")
	h.disk.SetFaultsEnabled(true)
	require.Equal(t, corrupt, h.readAll("f"), "and applies again when faults are back")
	h.disk.SetFaultsEnabled(false)
	require.NoError(t, h.write("f", 0, data))
	require.Empty(t, h.disk.Faults(), "a rewrite clears it")
}

func TestDiskWriteCorruption(t *testing.T) {
	opts := diskOptionsClean()
	opts.WriteCorruptionProbability = 1
	h := newDiskHarness(t, 11, opts)
	require.NoError(t, h.create("f"))
	data := diskSectorsOf(4)
	require.NoError(t, h.write("f", 0, data))
	got := h.readAll("f")
	require.Equal(t, 1, diskBitsDiffering(data, got))
	require.Equal(t, data, h.disk.Pristine("f"))
	faults := h.disk.Faults()
	require.Len(t, faults, 1)
	require.Equal(t, FaultWriteCorruption, faults[0].Kind)
	require.NoError(t, h.sync("f"))
	h.disk.Crash()
	require.Equal(t, got, h.readAll("f"), "synced corruption survives a crash")
	require.Equal(t, faults, h.disk.Faults())
}

func TestDiskMisdirectedWrite(t *testing.T) {
	opts := diskOptionsClean()
	opts.WriteMisdirectProbability = 1
	opts.CrashLostProbability = 1
	h := newDiskHarness(t, 12, opts)
	require.NoError(t, h.create("f"))
	data := diskSectorsOf(8)
	h.disk.SetFaultsEnabled(false)
	require.NoError(t, h.write("f", 0, data))
	require.NoError(t, h.sync("f"))
	h.disk.SetFaultsEnabled(true)
	require.NoError(t, h.write("f", 3*diskSector, diskFill(0xEE, diskSector)))
	require.Equal(t, uint64(1), h.disk.Stats().Misdirects)
	got := h.readAll("f")
	require.Equal(t, data[3*diskSector:4*diskSector], got[3*diskSector:4*diskSector], "the intended sector keeps its old bytes")
	landed := -1
	for s := 0; s < 8; s++ {
		if bytes.Equal(got[s*diskSector:(s+1)*diskSector], diskFill(0xEE, diskSector)) {
			landed = s
		} else {
			require.Equal(t, data[s*diskSector:(s+1)*diskSector], got[s*diskSector:(s+1)*diskSector])
		}
	}
	require.NotEqual(t, -1, landed, "the data landed elsewhere")
	require.NotEqual(t, 3, landed)
	wantFaults := []DiskFault{
		{Name: "f", Sector: 3, Offset: 3 * diskSector, Kind: FaultMisdirectedAway},
		{Name: "f", Sector: int64(landed), Offset: int64(landed) * diskSector, Kind: FaultMisdirectedHere},
	}
	slices.SortFunc(wantFaults, func(a, b DiskFault) int { return cmp.Compare(a.Sector, b.Sector) })
	require.Equal(t, wantFaults, h.disk.Faults())
	want := bytes.Clone(data)
	copy(want[3*diskSector:], diskFill(0xEE, diskSector))
	require.Equal(t, want, h.disk.Pristine("f"), "pristine holds the intended write")
	h.disk.SetFaultsEnabled(false)
	require.Equal(t, want, h.readAll("f"))
	h.disk.Crash()
	require.Equal(t, data, h.readAll("f"), "the lost write takes its misdirect with it")
	require.Empty(t, h.disk.Faults())
}

func TestDiskSlowMode(t *testing.T) {
	completion := func(slow int) Time {
		h := newDiskHarness(t, 13, diskOptionsClean())
		h.disk.SetSlow(slow)
		var at Time
		h.disk.Create("f", func(error) { at = h.loop.Now() })
		h.settle()
		return at
	}
	normal := completion(1)
	require.Positive(t, normal)
	require.Equal(t, normal, completion(0))
	require.Equal(t, 7*normal, completion(7))
}

// InFlightUntil is when the slowest operation issued completes: one issued in slow mode keeps
// its slow latency once the disk is fast again; none in flight, or after a crash, is now.
func TestDiskInFlightUntil(t *testing.T) {
	h := newDiskHarness(t, 13, diskOptionsClean())
	require.Equal(t, h.loop.Now(), h.disk.InFlightUntil())
	h.disk.SetSlow(50)
	var slow Time
	h.disk.Create("f", func(error) { slow = h.loop.Now() })
	h.disk.SetSlow(1)
	var fast Time
	h.disk.Create("g", func(error) { fast = h.loop.Now() })
	until := h.disk.InFlightUntil()
	h.settle()
	require.Less(t, fast, slow)
	require.Equal(t, slow, until)
	require.Equal(t, h.loop.Now(), h.disk.InFlightUntil())
	h.disk.Create("h", func(error) {})
	h.disk.Crash()
	require.Equal(t, h.loop.Now(), h.disk.InFlightUntil())
}

func TestDiskPausedHoldsCompletions(t *testing.T) {
	order := func(pause bool) []int {
		h := newDiskHarness(t, 14, diskOptionsClean())
		require.NoError(t, h.create("f"))
		var got []int
		h.disk.SetPaused(pause)
		for i := 0; i < 10; i++ {
			h.disk.WriteAt("f", []byte{byte(i)}, int64(i), func(err error) {
				require.NoError(t, err)
				got = append(got, i)
			})
		}
		h.loop.RunUntil(h.loop.Now() + Time(Second))
		if pause {
			require.Empty(t, got, "nothing completes while paused")
			require.Zero(t, h.loop.Pending())
			h.disk.SetPaused(false)
			require.Empty(t, got, "resuming runs nothing inline")
		}
		h.settle()
		return got
	}
	require.Len(t, order(false), 10)
	require.Equal(t, order(false), order(true), "held completions run in the order they fell due")

	h := newDiskHarness(t, 14, diskOptionsClean())
	h.disk.SetPaused(true)
	h.disk.Create("f", func(error) { t.Fatal("a held completion survived a crash") })
	h.loop.RunUntil(Time(Second))
	h.disk.Crash()
	h.disk.SetPaused(false)
	h.settle()
}

func TestDiskFaultFilter(t *testing.T) {
	opts := diskOptionsClean()
	opts.ReadFaultProbability = 1
	opts.WriteCorruptionProbability = 1
	h := newDiskHarness(t, 15, opts)
	h.disk.SetFaultsEnabled(false)
	for _, name := range []string{"a", "b"} {
		require.NoError(t, h.create(name))
		require.NoError(t, h.write(name, 0, diskSectorsOf(16)))
	}
	h.disk.SetFaultsEnabled(true)
	h.disk.SetFaultFilter(func(name string, offset int64) bool { return name == "a" && offset < 4*diskSector })
	for _, name := range []string{"a", "b"} {
		for s := int64(0); s < 16; s++ {
			_, _ = h.read(name, s*diskSector, diskSector)
		}
	}
	var want []DiskFault
	for s := int64(0); s < 4; s++ {
		want = append(want, DiskFault{Name: "a", Sector: s, Offset: s * diskSector, Kind: FaultLatentSectorError})
	}
	require.Equal(t, want, h.disk.Faults(), "random faults only where the atlas allows")
	for _, name := range []string{"a", "b"} {
		for s := int64(0); s < 16; s++ {
			require.NoError(t, h.write(name, s*diskSector, diskFill(9, diskSector)))
		}
	}
	for i := range want {
		want[i].Kind = FaultWriteCorruption
	}
	require.Equal(t, want, h.disk.Faults())

	opts = diskOptionsClean()
	opts.WriteMisdirectProbability = 1
	h = newDiskHarness(t, 15, opts)
	h.disk.SetFaultFilter(func(string, int64) bool { return false })
	require.NoError(t, h.create("a"))
	for s := int64(0); s < 16; s++ {
		require.NoError(t, h.write("a", s*diskSector, diskFill(9, diskSector)))
	}
	require.Zero(t, h.disk.Stats().Misdirects)
	require.Empty(t, h.disk.Faults())
}

func TestDiskFaultsDisabledInjectNothing(t *testing.T) {
	opts := diskOptionsClean()
	opts.ReadFaultProbability = 1
	opts.ReadCorruptionProbability = 1
	opts.WriteCorruptionProbability = 1
	opts.WriteMisdirectProbability = 1
	h := newDiskHarness(t, 16, opts)
	h.disk.SetFaultsEnabled(false)
	require.NoError(t, h.create("f"))
	data := diskSectorsOf(8)
	require.NoError(t, h.write("f", 0, data))
	for i := 0; i < 10; i++ {
		require.NoError(t, h.write("f", int64(i*100), diskFill(byte(i), 100)))
		copy(data[i*100:], diskFill(byte(i), 100))
		require.Equal(t, data, h.readAll("f"))
	}
	requireNoDiskFaults(t, h.disk.Stats())
	require.Empty(t, h.disk.Faults())
}

// TestDiskFaultRates checks that each random fault fires at roughly its probability per
// operation (binomial, n = 2000, p = 0.1: mean 200, sd 13.4; the bounds are about 5 sd).
func TestDiskFaultRates(t *testing.T) {
	const n, p = 2000, 0.1
	within := func(name string, got uint64) {
		require.InDelta(t, n*p, float64(got), 70, "%s: %d of %d", name, got, n)
	}
	opts := diskOptionsClean()
	opts.ReadFaultProbability = p
	opts.ReadCorruptionProbability = p
	opts.WriteCorruptionProbability = p
	opts.WriteMisdirectProbability = p
	opts.CrashLostProbability = p
	opts.CrashTornProbability = p / (1 - p) // so that torn is p of all writes, too
	h := newDiskHarness(t, 17, opts)
	h.skipInvariants = true
	require.NoError(t, h.create("f"))
	h.disk.SetFaultsEnabled(false)
	require.NoError(t, h.write("f", 0, make([]byte, n*diskSector)))
	require.NoError(t, h.sync("f"))
	h.disk.SetFaultsEnabled(true)
	for s := 0; s < n; s++ {
		_, _ = h.read("f", int64(s*diskSector), diskSector)
	}
	stats := h.disk.Stats()
	within("latent sector errors", stats.LatentSectorErrors)
	// A one-sector read that just turned latent has no healthy sector left to corrupt.
	within("read corruptions", stats.ReadCorruptions*n/(n-stats.LatentSectorErrors))
	for s := 0; s < n; s++ {
		require.NoError(t, h.write("f", int64(s*diskSector), diskFill(1, diskSector)))
	}
	stats = h.disk.Stats()
	within("misdirects", stats.Misdirects)
	within("write corruptions", stats.WriteCorruptions*n/(n-stats.Misdirects))
	h.disk.Crash()
	h.disk.checkInvariants()
	stats = h.disk.Stats()
	within("crash lost", stats.CrashLost)
	within("crash torn", stats.CrashTorn)
}

// runDiskWorkload drives a disk with every fault on through a random mix of operations,
// crashes, pauses and targeted faults, checking the invariants as it goes.
func runDiskWorkload(t *testing.T, seed uint64, ops int) (uint64, []DiskFault, DiskStats) {
	opts := DiskOptions{
		ReadLatencyMin: Microsecond, ReadLatencyMean: 50 * Microsecond,
		WriteLatencyMin: Microsecond, WriteLatencyMean: 100 * Microsecond,
		ReadFaultProbability: 0.02, ReadCorruptionProbability: 0.02,
		WriteCorruptionProbability: 0.02, WriteMisdirectProbability: 0.02,
		CrashLostProbability: 0.3, CrashTornProbability: 0.3,
		Capacity: 40 * diskSector,
	}
	h := newDiskHarness(t, seed, opts)
	rng := Stream(seed, "workload")
	names := []string{"a", "b", "c"}
	ignore := func(error) {}
	for i := 0; i < ops; i++ {
		name := names[rng.IntN(len(names))]
		offset := int64(rng.IntN(24 * diskSector))
		switch k := rng.IntN(20); {
		case k < 6:
			h.disk.WriteAt(name, diskFill(byte(i), 1+rng.IntN(3*diskSector)), offset, ignore)
		case k < 9:
			h.disk.ReadAt(name, make([]byte, 1+rng.IntN(2*diskSector)), offset, func(int, error) {})
		case k < 11:
			h.disk.Sync(name, ignore)
		case k < 12:
			h.disk.Create(name, ignore)
		case k < 13:
			h.disk.Truncate(name, offset, ignore)
		case k < 14:
			h.disk.Remove(name, ignore)
		case k < 15:
			h.disk.Crash()
		case k < 16:
			h.disk.SetPaused(rng.IntN(2) == 0)
		case k < 17:
			h.disk.SetFaultsEnabled(rng.IntN(3) > 0)
		case k < 18:
			if size, err := h.disk.Size(name); err == nil && size > 0 {
				h.disk.CorruptSector(name, rng.Int64N(size))
			}
		default:
			h.loop.RunUntil(h.loop.Now() + Time(rng.IntN(300))*Time(Microsecond))
		}
		h.disk.checkInvariants()
	}
	h.disk.SetPaused(false)
	h.settle()
	return h.trace.Hash(), h.disk.Faults(), h.disk.Stats()
}

func TestDiskRandomWorkloadKeepsInvariants(t *testing.T) {
	for seed := uint64(0); seed < 10; seed++ {
		runDiskWorkload(t, seed, 2000)
	}
}

func TestDiskDeterminism(t *testing.T) {
	hash1, faults1, stats1 := runDiskWorkload(t, 42, 3000)
	hash2, faults2, stats2 := runDiskWorkload(t, 42, 3000)
	require.Equal(t, hash1, hash2, "same seed, same trace")
	require.Equal(t, faults1, faults2)
	require.Equal(t, stats1, stats2)
	require.Positive(t, stats1.Crashes)
	require.Positive(t, stats1.ReadErrors+stats1.WriteCorruptions+stats1.Misdirects+stats1.CrashTorn)
	hash3, _, _ := runDiskWorkload(t, 43, 3000)
	require.NotEqual(t, hash1, hash3, "another seed, another trace")
}

func TestDiskOptionsValidate(t *testing.T) {
	require.NoError(t, diskOptionsClean().Validate())
	for i, bad := range []func(*DiskOptions){
		func(o *DiskOptions) { o.Capacity = 0 },
		func(o *DiskOptions) { o.ReadLatencyMean = -1 },
		func(o *DiskOptions) { o.CrashTornProbability = 1.5 },
		func(o *DiskOptions) { o.ReadFaultProbability = -0.1 },
		func(o *DiskOptions) { o.SlowMultiplier = -1 },
	} {
		o := diskOptionsClean()
		bad(&o)
		require.Error(t, o.Validate(), "case %d", i)
	}
}

func BenchmarkDiskWrite(b *testing.B) {
	loop := NewLoop()
	disk := NewDisk(loop, Stream(1, "disk"), NewTrace(loop.Now), 0, DiskOptions{
		WriteLatencyMin: Microsecond, WriteLatencyMean: 20 * Microsecond, Capacity: 1 << 30,
	})
	disk.Create("f", func(error) {})
	loop.Step()
	data := diskFill(7, 4096)
	done := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		disk.WriteAt("f", data, int64(i%1024)*4096, done)
		if i%64 == 63 {
			disk.Sync("f", done)
			for loop.Step() {
			}
		}
	}
	for loop.Step() {
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

func ExampleDisk() {
	loop := NewLoop()
	disk := NewDisk(loop, Stream(1, "disk/0"), NewTrace(loop.Now), 0, DiskOptions{Capacity: 1 << 20})
	disk.Create("wal", func(err error) {
		disk.WriteAt("wal", []byte("prepare"), 0, func(err error) {
			disk.Sync("wal", func(err error) { fmt.Println("durable:", err == nil) })
		})
	})
	for loop.Step() {
	}
	fmt.Println(string(disk.Pristine("wal")), disk.Usage().Used)
	// Output:
	// durable: true
	// prepare 512
}

// TestDiskConformance runs the storage.FS conformance checker (the one osfs passes) on the
// simulated disk, with room to spare and on a nearly full disk (so that ErrNoSpace is
// checked too).
func TestDiskConformance(t *testing.T) {
	for _, capacity := range []int64{16 << 20, 64 << 10} {
		h := newDiskHarness(t, 18, diskOptionsClean())
		h.disk.SetCapacity(capacity)
		require.NoError(t, h.create("ballast"))
		require.NoError(t, h.write("ballast", 0, make([]byte, 16<<10)))
		require.NoError(t, fstest.TestFS(h.disk, h.loop.Step), "capacity %d", capacity)
		h.disk.checkInvariants()
	}
}

// BenchmarkDiskSegmentGrowth writes files the way the storage engine writes log segments: a
// record area left for later, entries appended after it, each write synced, and a record
// written back into the area per entry; one new file per 64 entries, none removed (a log
// below its compaction threshold). It measures what growing the files' images costs (the
// pristine and the durable one): -benchmem's B/op is the bytes allocated per segment.
func BenchmarkDiskSegmentGrowth(b *testing.B) {
	loop := NewLoop()
	disk := NewDisk(loop, Stream(1, "disk"), NewTrace(loop.Now), 0, DiskOptions{
		WriteLatencyMin: Microsecond, WriteLatencyMean: 20 * Microsecond, Capacity: 1 << 40,
	})
	entry, record := diskFill(7, 2048), diskFill(8, 512)
	done := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	const entries, recordArea = 64, 64 * 512
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		name := fmt.Sprintf("log-%016x", i)
		disk.Create(name, done)
		for e := int64(0); e < entries; e++ {
			disk.WriteAt(name, entry, recordArea+e*int64(len(entry)), done)
			disk.Sync(name, done)
			disk.WriteAt(name, record, e*512, done)
			disk.Sync(name, done)
			for loop.Step() {
			}
		}
	}
	b.StopTimer()
	for loop.Step() {
	}
}

// TestDiskRemembersRemovedDamage: a file removed while damaged is named by RemovedDamaged (and
// by a snapshot), a clean one is not, and creating the name again forgets it.
func TestDiskRemembersRemovedDamage(t *testing.T) {
	h := newDiskHarness(t, 5, DiskOptions{Capacity: 1 << 20})
	for _, name := range []string{"clean", "damaged"} {
		require.NoError(t, h.create(name))
		require.NoError(t, h.write(name, 0, make([]byte, 1024)))
		require.NoError(t, h.sync(name))
	}
	h.disk.CorruptSector("damaged", 512)
	require.NoError(t, h.remove("clean"))
	require.NoError(t, h.remove("damaged"))
	require.Equal(t, []string{"damaged"}, h.disk.RemovedDamaged())
	loop := NewLoop()
	require.Equal(t, []string{"damaged"}, h.disk.Snapshot(loop, Stream(1, "snap"), NewTrace(loop.Now)).RemovedDamaged())
	require.NoError(t, h.create("damaged"))
	require.Empty(t, h.disk.RemovedDamaged())
}

// newSyncedFile is a disk whose crashes lose every unsynced write, holding file "f": four
// sectors, written and synced (returned).
func newSyncedFile(t *testing.T, seed uint64) (*diskHarness, []byte) {
	t.Helper()
	opts := diskOptionsClean()
	opts.CrashLostProbability = 1
	h := newDiskHarness(t, seed, opts)
	require.NoError(t, h.create("f"))
	synced := diskSectorsOf(4)
	require.NoError(t, h.write("f", 0, synced))
	require.NoError(t, h.sync("f"))
	return h, synced
}

// TestDiskArmedMisdirect: with no random misdirects, a misdirect armed for sectors 2-3 spares
// a write outside them, takes the next write that starts inside them (its sector keeps its
// old bytes, its data lands elsewhere), and is spent: the write after goes through.
// DisarmMisdirect reports that it landed, once.
func TestDiskArmedMisdirect(t *testing.T) {
	h := newDiskHarness(t, 12, diskOptionsClean())
	require.NoError(t, h.create("f"))
	data := diskSectorsOf(8)
	require.NoError(t, h.write("f", 0, data))
	require.NoError(t, h.sync("f"))
	h.disk.ArmMisdirect("f", 2*diskSector, 4*diskSector)
	require.NoError(t, h.write("f", 5*diskSector, diskFill(0xAA, diskSector)))
	require.Zero(t, h.disk.Stats().Misdirects, "a write outside the armed sectors")
	require.False(t, h.disk.MisdirectLanded())
	require.NoError(t, h.write("f", 3*diskSector, diskFill(0xEE, diskSector)))
	require.Equal(t, uint64(1), h.disk.Stats().Misdirects)
	require.True(t, h.disk.MisdirectLanded())
	got := h.readAll("f")
	require.Equal(t, data[3*diskSector:4*diskSector], got[3*diskSector:4*diskSector], "the intended sector keeps its old bytes")
	require.NoError(t, h.write("f", 2*diskSector, diskFill(0xBB, diskSector)))
	require.Equal(t, uint64(1), h.disk.Stats().Misdirects, "spent by the first write")
	require.Equal(t, diskFill(0xBB, diskSector), h.readAll("f")[2*diskSector:3*diskSector])
	require.True(t, h.disk.DisarmMisdirect())
	require.False(t, h.disk.DisarmMisdirect(), "disarmed")
}
