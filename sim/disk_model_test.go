package sim

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"vopr/cluster/storage"
)

// refDisk is a reference model of a sector disk, written apart from Disk (it shares no code
// with it) to check Disk's semantics: writes, syncs, truncation, crashes that lose or tear
// unsynced writes, fault overlays and misdirected writes. It takes the disk's random
// decisions (Disk.observe) as inputs and decides nothing itself.
//
// A file is a durable base (bytes and per-sector overlays) and its history since the last
// sync: completed writes, each with the content it left in every sector it touched and the
// overlays it placed, and faults that struck a sector, in the order they happened. The file
// now is the base with its whole history replayed. A crash replays the history without the
// sectors of writes it lost, then lands the surviving sectors of writes in flight. That is
// the contract: a sector ends as its history left it, so an overlay goes only with a write
// that lands over it.
type refDisk struct {
	files     map[string]*refFile
	inflight  []refPending // issued, not completed, in issue order
	issued    uint64       // WriteAt calls: the disk numbers writes from 1 in issue order
	completed uint64       // successful writes, in completion order
	faultsOn  bool
	decided   map[uint64][]diskDecision // decisions taken during a write, by write
	crashed   map[uint64][]bool         // survive vectors of the last crash, by write
}

type refPending struct {
	id     uint64
	name   string
	offset int64
	data   []byte
}

type refOverlay struct {
	kind FaultKind
	data []byte // shown over the sector's first len(data) bytes; nil for a latent error
}

type refState struct {
	data []byte
	over map[int64]refOverlay
}

type refFile struct {
	base    refState
	history []refEvent
}

// refEvent is a completed write (write > 0) or a fault of its own (write == 0).
type refEvent struct {
	write     uint64
	completed uint64
	sectors   []refSector
	landings  []refLanding
	sector    int64
	fault     refOverlay
}

// refSector is what a write left in one sector: its content, and an overlay it placed there.
type refSector struct {
	sector int64
	image  []byte
	own    *refOverlay
}

// refLanding is a misdirected sector's landing at another sector; always once a truncate
// cut away the sector it was meant for (the landing can no longer be lost).
type refLanding struct {
	index   int
	sector  int64
	overlay refOverlay
	always  bool
}

const refSectorSize = int64(storage.SectorSize)

func newRefDisk() *refDisk {
	return &refDisk{files: map[string]*refFile{}, faultsOn: true,
		decided: map[uint64][]diskDecision{}, crashed: map[uint64][]bool{}}
}

func (st refState) clone() refState {
	return refState{data: bytes.Clone(st.data), over: maps.Clone(st.over)}
}

func (st *refState) grow(end int64) {
	if end > int64(len(st.data)) {
		st.data = append(st.data, make([]byte, end-int64(len(st.data)))...)
	}
}

// fit drops the overlays of sectors past the end and clips the one of a short last sector.
func (st *refState) fit() {
	for s, o := range st.over {
		in := int64(len(st.data)) - s*refSectorSize
		switch {
		case in <= 0:
			delete(st.over, s)
		case int64(len(o.data)) > in:
			o.data = o.data[:in]
			st.over[s] = o
		}
	}
}

func (st refState) sectorBytes(s int64) []byte {
	lo := min(s*refSectorSize, int64(len(st.data)))
	return st.data[lo:min(lo+refSectorSize, int64(len(st.data)))]
}

// replay returns the file after its history, keeping the sectors of writes keep allows.
// Overlays are fitted to the file's size by the caller, once the file is whole (a crash
// lands the writes in flight first).
func (f *refFile) replay(keep func(write uint64, index int) bool) refState {
	st := f.base.clone()
	if st.over == nil {
		st.over = map[int64]refOverlay{}
	}
	for _, e := range f.history {
		if e.write == 0 {
			st.over[e.sector] = e.fault
			continue
		}
		for i, sw := range e.sectors {
			if !keep(e.write, i) {
				continue
			}
			st.grow(sw.sector*refSectorSize + int64(len(sw.image)))
			copy(st.data[sw.sector*refSectorSize:], sw.image)
			delete(st.over, sw.sector)
			if sw.own != nil {
				st.over[sw.sector] = *sw.own
			}
		}
		for _, l := range e.landings {
			if l.always || keep(e.write, l.index) {
				st.over[l.sector] = l.overlay
			}
		}
	}
	return st
}

func keepAll(uint64, int) bool { return true }

func (f *refFile) now() refState {
	st := f.replay(keepAll)
	st.fit()
	return st
}

// read is what a read of n bytes at offset returns: short at the end, ErrIO over a latent
// error, overlays shown (with faults on).
func (st refState) read(offset, n int64, faultsOn bool) ([]byte, error) {
	size := int64(len(st.data))
	if offset >= size || n == 0 {
		return nil, nil
	}
	n = min(n, size-offset)
	out := bytes.Clone(st.data[offset : offset+n])
	if !faultsOn {
		return out, nil
	}
	for s := offset / refSectorSize; s*refSectorSize < offset+n; s++ {
		o, ok := st.over[s]
		if !ok {
			continue
		}
		if o.kind == FaultLatentSectorError {
			return nil, storage.ErrIO
		}
		for j, b := range o.data {
			if at := s*refSectorSize + int64(j); at >= offset && at < offset+n {
				out[at-offset] = b
			}
		}
	}
	return out, nil
}

// fault records a fault of its own that struck sector s of a file.
func (m *refDisk) fault(name string, s int64, o refOverlay) {
	f := m.files[name]
	f.history = append(f.history, refEvent{sector: s, fault: o})
}

// wrote records the completion of write id: the content it leaves in each sector it
// touches, with the misdirect or corruption the disk decided for it.
func (m *refDisk) wrote(t *rapid.T, w refPending) {
	f := m.files[w.name]
	before := f.now()
	after := before.clone()
	after.grow(w.offset + int64(len(w.data)))
	copy(after.data[w.offset:], w.data)
	m.completed++
	e := refEvent{write: w.id, completed: m.completed}
	first := w.offset / refSectorSize
	for s := first; s*refSectorSize < w.offset+int64(len(w.data)); s++ {
		e.sectors = append(e.sectors, refSector{sector: s, image: bytes.Clone(after.sectorBytes(s))})
	}
	for _, d := range m.decided[w.id] {
		switch d.kind {
		case "misdirect":
			if d.sector == first || (d.sector+int64(len(e.sectors))-1)*refSectorSize >= int64(len(after.data)) {
				t.Fatalf("write %d misdirected to sector %d, outside the file or onto itself", w.id, d.sector)
			}
			for i := range e.sectors {
				e.sectors[i].own = refAway(before, e.sectors[i])
			}
			for i, sw := range e.sectors {
				s := d.sector + int64(i)
				here := sw.image[:min(len(sw.image), len(after.sectorBytes(s)))]
				e.landings = append(e.landings, refLanding{index: i, sector: s,
					overlay: refOverlay{kind: FaultMisdirectedHere, data: here}})
			}
		case "write_corruption":
			i := d.sector - first
			if i < 0 || i >= int64(len(e.sectors)) || diskBitsDiffering(d.data, e.sectors[i].image) != 1 {
				t.Fatalf("write %d: corruption of sector %d is not one bit of it", w.id, d.sector)
			}
			e.sectors[i].own = &refOverlay{kind: FaultWriteCorruption, data: d.data}
		default:
			t.Fatalf("write %d: unexpected decision %q", w.id, d.kind)
		}
	}
	delete(m.decided, w.id)
	f.history = append(f.history, e)
}

// refAway is the overlay of a sector a misdirected write missed: it reads as it did before
// (its old bytes, zero-extended to the write's image, with its old overlay; a latent error
// stays one).
func refAway(before refState, sw refSector) *refOverlay {
	old, had := before.over[sw.sector]
	if had && old.kind == FaultLatentSectorError {
		return &refOverlay{kind: FaultLatentSectorError}
	}
	data := make([]byte, len(sw.image))
	copy(data, before.sectorBytes(sw.sector))
	if had {
		copy(data, old.data)
	}
	return &refOverlay{kind: FaultMisdirectedAway, data: data}
}

// synced makes durable the history up to the last write completed by upTo.
func (m *refDisk) synced(name string, upTo uint64) {
	f := m.files[name]
	last := -1
	for i, e := range f.history {
		if e.write > 0 && e.completed <= upTo {
			last = i
		}
	}
	if last < 0 {
		return
	}
	head := &refFile{base: f.base, history: f.history[:last+1]}
	f.base = head.now()
	f.history = slices.Clone(f.history[last+1:])
}

// truncated applies a truncate, durable at once. One that shrinks the file removes
// everything at or past size, and the overlays of the sector holding size (it rewrote that
// sector); one that does not shrink it only sets the durable size.
func (m *refDisk) truncated(name string, size int64) {
	f := m.files[name]
	shrinks := size < int64(len(f.now().data))
	if int64(len(f.base.data)) > size {
		f.base.data = f.base.data[:size]
	} else {
		f.base.grow(size)
	}
	if !shrinks {
		return
	}
	boundary := size / refSectorSize
	cutOver := func(over map[int64]refOverlay) {
		for s := range over {
			if s >= boundary {
				delete(over, s)
			}
		}
	}
	cutOver(f.base.over)
	var history []refEvent
	for _, e := range f.history {
		if e.write == 0 {
			if e.sector < boundary {
				history = append(history, e)
			}
			continue
		}
		var kept []refSector
		for _, sw := range e.sectors {
			start := sw.sector * refSectorSize
			if start >= size {
				break
			}
			sw.image = sw.image[:min(int64(len(sw.image)), size-start)]
			if sw.sector >= boundary {
				sw.own = nil
			}
			kept = append(kept, sw)
		}
		var landings []refLanding
		for _, l := range e.landings {
			if l.sector >= boundary {
				continue
			}
			l.always = l.always || l.index >= len(kept)
			landings = append(landings, l)
		}
		e.sectors, e.landings = kept, landings
		history = append(history, e)
	}
	f.history = history
}

// crash applies a crash given the survive vectors the disk decided (m.crashed).
func (m *refDisk) crash(t *rapid.T) {
	keep := func(write uint64, index int) bool {
		survive, ok := m.crashed[write]
		if !ok || index >= len(survive) {
			t.Fatalf("crash: no outcome for sector %d of write %d", index, write)
		}
		return survive[index]
	}
	states := map[string]refState{}
	for name, f := range m.files {
		states[name] = f.replay(keep)
	}
	for _, w := range m.inflight {
		st, ok := states[w.name]
		if !ok {
			continue
		}
		end := w.offset + int64(len(w.data))
		for i, s := 0, w.offset/refSectorSize; s*refSectorSize < end; i, s = i+1, s+1 {
			if !keep(w.id, i) {
				continue
			}
			lo, hi := max(w.offset, s*refSectorSize), min(end, (s+1)*refSectorSize)
			st.grow(hi)
			copy(st.data[lo:hi], w.data[lo-w.offset:hi-w.offset])
			delete(st.over, s)
		}
		states[w.name] = st
	}
	for name, st := range states {
		st.fit()
		m.files[name] = &refFile{base: st}
	}
	m.inflight = nil
	clear(m.crashed)
}

// faults lists the model's overlays as Disk.Faults does.
func (m *refDisk) faults() []DiskFault {
	var out []DiskFault
	for _, name := range slices.Sorted(maps.Keys(m.files)) {
		st := m.files[name].now()
		for _, s := range slices.Sorted(maps.Keys(st.over)) {
			out = append(out, DiskFault{Name: name, Sector: s, Offset: s * refSectorSize, Kind: st.over[s].kind})
		}
	}
	return out
}

// refRun drives a Disk and the model through the same operations.
type refRun struct {
	t     *rapid.T
	loop  *Loop
	disk  *Disk
	model *refDisk
	fill  byte
}

var refNames = []string{"a", "b"}

const refSectorsMax = 8

func (r *refRun) observe(d diskDecision) {
	switch d.kind {
	case "crash":
		r.model.crashed[d.write] = d.survive
	case "misdirect", "write_corruption":
		r.model.decided[d.write] = append(r.model.decided[d.write], d)
	case "latent":
		r.model.fault(d.name, d.sector, refOverlay{kind: FaultLatentSectorError})
	case "read_corruption", "corruption":
		r.model.fault(d.name, d.sector, refOverlay{kind: FaultKind(d.kind), data: d.data})
	default:
		r.t.Fatalf("unknown decision %q", d.kind)
	}
}

func (r *refRun) expectErr(op string, got, want error) {
	if !errors.Is(got, want) && !(got == nil && want == nil) {
		r.t.Fatalf("%s: error %v, want %v", op, got, want)
	}
}

func (r *refRun) exists(name string) bool { return r.model.files[name] != nil }

func (r *refRun) step() {
	name := rapid.SampledFrom(refNames).Draw(r.t, "name")
	offset := int64(rapid.IntRange(0, refSectorsMax*int(refSectorSize)-1).Draw(r.t, "offset"))
	switch rapid.IntRange(0, 14).Draw(r.t, "action") {
	case 0, 1, 2, 3:
		r.write(name, offset)
	case 4, 5:
		r.read(name, offset)
	case 6, 7:
		upTo := r.model.completed
		r.disk.Sync(name, func(err error) {
			r.expectErr("sync", err, r.missing(name))
			if err == nil {
				r.model.synced(name, upTo)
			}
		})
	case 8:
		size := offset * int64(rapid.IntRange(0, 1).Draw(r.t, "shrink"))
		r.disk.Truncate(name, size, func(err error) {
			r.expectErr("truncate", err, r.missing(name))
			if err == nil {
				r.model.truncated(name, size)
			}
		})
	case 9:
		r.disk.Create(name, func(err error) {
			if r.exists(name) {
				r.expectErr("create", err, storage.ErrExist)
				return
			}
			r.expectErr("create", err, nil)
			r.model.files[name] = &refFile{}
		})
	case 10:
		if rapid.IntRange(0, 3).Draw(r.t, "remove") == 0 {
			r.disk.Remove(name, func(err error) {
				r.expectErr("remove", err, r.missing(name))
				delete(r.model.files, name)
			})
		}
	case 11:
		if size, err := r.disk.Size(name); err == nil && size > 0 {
			at := offset % size
			if rapid.Bool().Draw(r.t, "latent") {
				r.disk.LatentSectorError(name, at)
			} else {
				r.disk.CorruptSector(name, at)
			}
		}
	case 12:
		on := rapid.IntRange(0, 3).Draw(r.t, "faults_on") > 0
		r.disk.SetFaultsEnabled(on)
		r.model.faultsOn = on
	case 13:
		r.loop.RunUntil(r.loop.Now() + Time(rapid.IntRange(0, 400).Draw(r.t, "wait_us"))*Time(Microsecond))
	default:
		r.crash()
	}
	r.compare()
}

func (r *refRun) missing(name string) error {
	if r.exists(name) {
		return nil
	}
	return storage.ErrNotExist
}

func (r *refRun) write(name string, offset int64) {
	r.fill++
	data := bytes.Repeat([]byte{r.fill}, rapid.IntRange(1, 3*int(refSectorSize)).Draw(r.t, "length"))
	for i := range data {
		data[i] += byte(i / 7) // bytes that differ within a sector: a misplaced copy shows
	}
	r.model.issued++
	w := refPending{id: r.model.issued, name: name, offset: offset, data: bytes.Clone(data)}
	r.model.inflight = append(r.model.inflight, w)
	r.disk.WriteAt(name, data, offset, func(err error) {
		r.model.inflight = slices.DeleteFunc(r.model.inflight, func(p refPending) bool { return p.id == w.id })
		r.expectErr("write", err, r.missing(name))
		if err == nil {
			r.model.wrote(r.t, w)
		}
	})
}

func (r *refRun) read(name string, offset int64) {
	n := int64(rapid.IntRange(1, 2*int(refSectorSize)).Draw(r.t, "read_length"))
	buf := make([]byte, n)
	r.disk.ReadAt(name, buf, offset, func(k int, err error) {
		if !r.exists(name) {
			r.expectErr("read", err, storage.ErrNotExist)
			return
		}
		want, wantErr := r.model.files[name].now().read(offset, n, r.model.faultsOn)
		r.expectErr("read", err, wantErr)
		if err == nil && !bytes.Equal(buf[:k], want) {
			r.t.Fatalf("read %s %d+%d: %s", name, offset, n, refDiff(buf[:k], want))
		}
	})
}

// crash crashes the disk and the model, then reads every sector back through the disk.
func (r *refRun) crash() {
	r.disk.Crash()
	r.model.crash(r.t)
	r.compare()
	for _, name := range refNames {
		size, err := r.disk.Size(name)
		for s := int64(0); err == nil && s*refSectorSize < size; s++ {
			r.readAt(name, s*refSectorSize, refSectorSize)
		}
		if err == nil {
			r.readAt(name, 0, size)
		}
	}
}

func (r *refRun) readAt(name string, offset, n int64) {
	buf := make([]byte, n)
	done := false
	r.disk.ReadAt(name, buf, offset, func(k int, err error) {
		done = true
		want, wantErr := r.model.files[name].now().read(offset, n, r.model.faultsOn)
		r.expectErr("read after crash", err, wantErr)
		if err == nil && !bytes.Equal(buf[:k], want) {
			r.t.Fatalf("read after crash %s %d+%d: %s", name, offset, n, refDiff(buf[:k], want))
		}
	})
	for !done {
		if !r.loop.Step() {
			r.t.Fatalf("read after crash never completed")
		}
	}
}

// compare checks the disk's synchronous view against the model: files, pristine and
// durable bytes, overlays.
func (r *refRun) compare() {
	r.disk.checkInvariants()
	for _, name := range refNames {
		f := r.model.files[name]
		_, err := r.disk.Size(name)
		if (err == nil) != (f != nil) {
			r.t.Fatalf("file %s: exists on disk %v, in the model %v", name, err == nil, f != nil)
		}
		if f == nil {
			continue
		}
		if got, want := r.disk.Pristine(name), f.now().data; !bytes.Equal(got, want) {
			r.t.Fatalf("file %s: pristine bytes: %s", name, refDiff(got, want))
		}
		if got, want := r.disk.Durable(name), f.base.data; !bytes.Equal(got, want) {
			r.t.Fatalf("file %s: durable bytes: %s", name, refDiff(got, want))
		}
	}
	got, want := r.disk.Faults(), r.model.faults()
	if !slices.Equal(got, want) {
		r.t.Fatalf("overlays %v, model %v", got, want)
	}
}

// refDiff describes how got differs from want: lengths, and the first byte apart.
func refDiff(got, want []byte) string {
	i := 0
	for i < min(len(got), len(want)) && got[i] == want[i] {
		i++
	}
	if i < min(len(got), len(want)) {
		return fmt.Sprintf("%d bytes, model %d; first difference at %d: %#x, model %#x", len(got), len(want), i, got[i], want[i])
	}
	return fmt.Sprintf("%d bytes, model %d; equal up to the shorter", len(got), len(want))
}

// TestDiskMatchesReferenceModel runs random sequences of writes (some misdirected or
// corrupted), reads (some turning sectors latent or corrupt), syncs, truncates, creates,
// removes, targeted faults, waits (so that completions interleave and writes are in flight)
// and crashes (losing and tearing unsynced writes) on a Disk and on refDisk, and requires
// the same answers: every read, and after every step the files, pristine and durable bytes
// and overlays; after a crash every sector is read back.
func TestDiskMatchesReferenceModel(t *testing.T) {
	// Four batches of rapid's 100 cases (a few seconds): a planted slip in the overlay
	// bookkeeping (a fault that struck after a lost write forgotten) survives one batch in
	// about one run of four.
	for batch := 0; batch < 4 && !t.Failed(); batch++ {
		rapid.Check(t, checkDiskAgainstModel)
	}
}

func checkDiskAgainstModel(rt *rapid.T) {
	chance := func(label string) float64 {
		return rapid.SampledFrom([]float64{0, 0.1, 0.5, 1}).Draw(rt, label)
	}
	opts := diskOptionsClean()
	opts.ReadFaultProbability = chance("read_fault") / 4
	opts.ReadCorruptionProbability = chance("read_corruption") / 4
	opts.WriteCorruptionProbability = chance("write_corruption")
	opts.WriteMisdirectProbability = chance("misdirect")
	opts.CrashLostProbability = chance("crash_lost")
	opts.CrashTornProbability = chance("crash_torn")
	loop := NewLoop()
	r := &refRun{t: rt, loop: loop, model: newRefDisk(),
		disk: NewDisk(loop, Stream(rapid.Uint64().Draw(rt, "seed"), "disk"), NewTrace(loop.Now), 0, opts)}
	r.disk.observe = r.observe
	if rapid.Bool().Draw(rt, "pool") {
		r.disk.pool = garbagePool(rapid.IntRange(0, 6).Draw(rt, "pooled"))
	}
	for _, name := range refNames {
		r.disk.Create(name, func(error) {})
		r.model.files[name] = &refFile{}
	}
	loop.RunUntil(Time(Second))
	for steps := rapid.IntRange(1, 200).Draw(rt, "steps"); steps > 0; steps-- {
		r.step()
	}
	r.crash()
}

// TestDiskCrashKeepsDamageUnderLostRewrite is the case the model test was written for: a
// damaged sector rewritten without a sync must stay damaged when a crash loses the rewrite.
func TestDiskCrashKeepsDamageUnderLostRewrite(t *testing.T) {
	for _, damage := range []func(*Disk){
		func(d *Disk) { d.CorruptSector("f", diskSector) },
		func(d *Disk) { d.LatentSectorError("f", diskSector) },
	} {
		opts := diskOptionsClean()
		opts.CrashLostProbability = 1
		h := newDiskHarness(t, 20, opts)
		require.NoError(t, h.create("f"))
		require.NoError(t, h.write("f", 0, diskSectorsOf(3)))
		require.NoError(t, h.sync("f"))
		damage(h.disk)
		before := h.disk.Faults()
		require.Len(t, before, 1)
		require.NoError(t, h.write("f", diskSector, diskFill(0xEE, diskSector)))
		require.Empty(t, h.disk.Faults(), "a rewrite shows the sector intact until the crash")
		h.disk.Crash()
		h.disk.checkInvariants()
		require.Equal(t, before, h.disk.Faults(), "a crash that loses the rewrite brings the damage back")
		require.Equal(t, uint64(1), h.disk.Stats().CrashKeptDamage)
		got, err := h.read("f", diskSector, diskSector)
		require.False(t, err == nil && bytes.Equal(got, diskSectorsOf(3)[diskSector:2*diskSector]),
			"the damaged sector reads intact after a crash lost its rewrite")
	}
}
