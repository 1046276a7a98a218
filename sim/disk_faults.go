package sim

import (
	"bytes"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"

	"vopr/cluster/storage"
	"vopr/internal/assert"
)

// FaultKind names a sector fault overlay.
type FaultKind string

// The overlays a sector can carry. Each is sticky until the sector is rewritten.
const (
	// FaultLatentSectorError: reads of the sector fail with ErrIO.
	FaultLatentSectorError FaultKind = "latent_sector_error"
	// FaultReadCorruption: a read turned the sector corrupt (one bit flipped).
	FaultReadCorruption FaultKind = "read_corruption"
	// FaultWriteCorruption: a write stored the sector with one bit flipped.
	FaultWriteCorruption FaultKind = "write_corruption"
	// FaultMisdirectedAway: the sector's write landed elsewhere; it holds its old bytes.
	FaultMisdirectedAway FaultKind = "misdirected_away"
	// FaultMisdirectedHere: the sector holds bytes a misdirected write meant for another.
	FaultMisdirectedHere FaultKind = "misdirected_here"
	// FaultCorruption: a scenario corrupted the sector on purpose (CorruptSector).
	FaultCorruption FaultKind = "corruption"
)

// DiskFault is one active overlay, for reports and tests.
type DiskFault struct {
	Name   string
	Sector int64
	Offset int64 // Sector * storage.SectorSize
	Kind   FaultKind
}

// sectorFault is the overlay of one sector. data, when set, is what reads return for the
// sector's first len(data) bytes instead of the pristine ones; it never reaches past the end
// of the file at the time it was placed and is never mutated. owner is the seq of the write
// that left it (a write corruption or misdirect), which a crash may lose with the write; 0
// for a fault of its own (a read fault, a targeted fault), which only a rewrite that
// survives removes.
type sectorFault struct {
	kind  FaultKind
	data  []byte
	owner uint64
}

// Crash applies crash semantics, then drops every pending completion: no callback of an
// operation issued before the crash ever runs.
//
// Each write that completed since its file's last sync is independently lost (with
// CrashLostProbability), torn (with CrashTornProbability: each sector survives with
// probability 1/2, and a write of two or more sectors always keeps some and loses some) or
// kept; the file becomes its durable image with the surviving sectors replayed in
// completion order. Writes still in flight were on their way to the platter: they get the
// same treatment after the completed ones, in issue order, and land if they fit. Synced data
// and completed Create/Remove/Truncate always survive. Crash outcomes are the FS durability
// contract, not disk defects, so SetFaultsEnabled and the fault filter do not affect them.
//
// Overlays follow the sectors' history: a sector ends as if its history were replayed
// without the lost sectors of writes. A sector written since the sync keeps the overlay that
// stood after the last write of it that survived (that write's own corruption or misdirect,
// or a fault that struck it later), or, if none survived, the overlay it had before them
// (a damaged sector stays damaged: a rewrite heals it only if the rewrite lands). A fault
// that struck a sector after a lost write of it stays too: it damaged the sector, whatever
// the sector now holds. A misdirected write's landing elsewhere survives with the sector of
// the write it carried. Writes in flight that land clear the overlays of what they land on.
func (d *Disk) Crash() {
	d.stats.Crashes++
	inflight := d.inflightWrites()
	d.generation++
	d.held = nil
	d.trace.Emit(LevelShort, d.node, "disk", "crash: dropping pending completions, "+
		strconv.Itoa(len(inflight))+" writes in flight")
	names := d.names()
	for _, name := range names {
		d.files[name].excuseKept()
		d.crashFile(name, d.files[name], d.crashOutcome)
	}
	d.used = 0
	for _, name := range names {
		d.used += roundUp(int64(len(d.files[name].data)))
	}
	d.landInflight(inflight)
	for _, name := range names {
		f := d.files[name]
		f.durableLen = int64(len(f.data))
		d.touch(f)
		f.fitFaults()
		assert.That(len(f.volatile) == 0, "disk: volatile writes survived a crash")
	}
}

// crashFile rebuilds one file from its durable image and the surviving volatile sectors,
// outcome deciding which sectors of each volatile write survive.
func (d *Disk) crashFile(name string, f *diskFile, outcome func(name string, id uint64, first int64, count int) []bool) {
	f.own()
	image := f.data[:f.durableLen] // data's own array, turned in place into the durable image
	f.undo(image, 0)
	survivals := make([][]bool, len(f.volatile))
	for k, w := range f.volatile {
		if len(w.images) == 0 {
			continue // cut away whole by a truncate
		}
		survivals[k] = outcome(name, w.id, w.first, len(w.images))
		image = applyImages(image, w, survivals[k])
		f.markLost(w.first, int64(len(w.images)), survivals[k])
	}
	d.stats.CrashKeptDamage += f.rollBackOverlays(survivals)
	f.data = image
	f.volatile = nil
}

// sectorEvent is one volatile write's effect on one sector: whether the crash kept it, and
// the overlay the sector had just before it.
type sectorEvent struct {
	kept  bool
	under sectorFault
}

// rollBackOverlays sets each sector's overlay after a crash (see Crash), given which sectors
// of each volatile write survived. A sector's events are its writes (and misdirected
// landings) in order; the overlay standing after an event is the event's own or a fault of
// its own placed since (a write replaces the overlay). Walking back from the newest event,
// the overlay standing after the last kept event is the answer; an event that was lost is
// skipped unless a fault of its own struck after it. It returns how many sectors got back an
// overlay that a lost write had displaced.
func (f *diskFile) rollBackOverlays(survivals [][]bool) uint64 {
	restored := uint64(0)
	for s, history := range f.sectorEvents(survivals) {
		overlay, displaced := f.overlayAfterCrash(s, history)
		if overlay.kind == "" {
			delete(f.faults, s)
			continue
		}
		if displaced {
			restored++
		}
		f.putFault(s, overlay)
	}
	return restored
}

// sectorEvents returns, per sector, the volatile writes' events on it in order, given which
// sectors of each write survive (all lost if survivals is nil).
func (f *diskFile) sectorEvents(survivals [][]bool) map[int64][]sectorEvent {
	if len(f.volatile) == 0 {
		return nil // no events: reads as empty, and most files checked have none
	}
	events := map[int64][]sectorEvent{}
	kept := func(k, i int) bool { return survivals != nil && survivals[k][i] }
	for k, w := range f.volatile {
		for i := range w.images {
			e := sectorEvent{kept: kept(k, i)}
			if w.under != nil {
				e.under = w.under[i]
			}
			events[w.first+int64(i)] = append(events[w.first+int64(i)], e)
		}
		for _, p := range w.faults {
			if p.fault.kind == FaultMisdirectedHere {
				events[p.sector] = append(events[p.sector], sectorEvent{kept: kept(k, p.index), under: p.under})
			}
		}
	}
	return events
}

// overlayAfterCrash is the overlay sector s holds after a crash with its events history: the
// one standing after its last kept event, or a fault of its own that struck after a lost one
// (see rollBackOverlays); displaced reports that a lost write had displaced it.
func (f *diskFile) overlayAfterCrash(s int64, history []sectorEvent) (overlay sectorFault, displaced bool) {
	overlay = f.faults[s]
	for k := len(history) - 1; k >= 0; k-- {
		if history[k].kept || (overlay.kind != "" && overlay.owner == 0) {
			break
		}
		overlay, displaced = history[k].under, true
	}
	return overlay, displaced
}

// DurablyAltered is Altered as a crash that lost every unsynced write would leave it: the
// sectors of [offset, offset+n) that would then read otherwise than written, with the
// overlay they would carry. A sector Altered does not list but DurablyAltered does is damage
// that only an unsynced write repaired. Nil if the file does not exist.
func (d *Disk) DurablyAltered(name string, offset, n int64) []DiskFault {
	d.assertLive()
	f := d.peek(name)
	if f == nil || n <= 0 {
		return nil
	}
	first, count := sectorSpan(max(offset, 0), n)
	events := f.sectorEvents(nil)
	var out []DiskFault
	for s := first; s < first+count; s++ {
		overlay, _ := f.overlayAfterCrash(s, events[s])
		if overlay.kind != "" {
			out = append(out, DiskFault{Name: name, Sector: s, Offset: s * storage.SectorSize, Kind: overlay.kind})
		}
	}
	return out
}

// landInflight lands the surviving sectors of the writes that were in flight at the crash,
// in issue order.
func (d *Disk) landInflight(inflight []inflightWrite) {
	for _, w := range inflight {
		f := d.files[w.name]
		if f == nil || len(w.data) == 0 {
			continue
		}
		length := int64(len(w.data))
		first, count := sectorSpan(w.offset, length)
		survive := d.crashOutcome(w.name, w.id, first, int(count))
		end := int64(0)
		for i, ok := range survive {
			if ok {
				end = max(end, min(w.offset+length, (first+int64(i)+1)*storage.SectorSize))
			}
		}
		if end == 0 {
			f.markLost(first, count, survive)
			continue
		}
		if !d.fits(int64(len(f.data)), end) {
			d.trace.Emit(LevelShort, d.node, "disk", "crash: in-flight write "+w.name+" "+
				span(w.offset, len(w.data))+" does not fit, dropped")
			f.markLost(first, count, make([]bool, count))
			continue
		}
		f.markLost(first, count, survive)
		f.own()
		d.resize(f, max(end, int64(len(f.data))))
		for i, ok := range survive {
			s := first + int64(i)
			lo := max(w.offset, s*storage.SectorSize)
			hi := min(w.offset+length, (s+1)*storage.SectorSize)
			if ok {
				copy(f.data[lo:hi], w.data[lo-w.offset:hi-w.offset])
				delete(f.faults, s)
			}
		}
	}
}

// crashOutcome decides what of one unsynced write (issue number id) of count sectors
// survives a crash.
func (d *Disk) crashOutcome(name string, id uint64, first int64, count int) []bool {
	assert.That(count > 0, "disk: crash outcome of an empty write")
	survive := make([]bool, count)
	where := name + " sectors " + strconv.FormatInt(first, 10) + "+" + strconv.Itoa(count)
	switch {
	case Chance(d.rng, d.opts.CrashLostProbability):
		d.stats.CrashLost++
		d.trace.Emit(LevelShort, d.node, "disk", "fault crash_lost_write "+where)
	case Chance(d.rng, d.opts.CrashTornProbability):
		kept := d.tear(survive)
		d.stats.CrashTorn++
		d.trace.Emit(LevelShort, d.node, "disk", "fault crash_torn_write "+where+" kept "+
			strconv.Itoa(kept))
	default:
		for i := range survive {
			survive[i] = true
		}
		d.stats.CrashKept++
	}
	d.decided(diskDecision{kind: "crash", write: id, name: name, sector: first, survive: survive})
	return survive
}

// tear picks the surviving sectors of a torn write: each with probability 1/2, and if the
// write has two sectors or more, never all or none of them (that would be a kept or lost
// write, not a torn one). It returns how many survive.
func (d *Disk) tear(survive []bool) int {
	kept := 0
	for i := range survive {
		survive[i] = d.rng.IntN(2) == 0
		if survive[i] {
			kept++
		}
	}
	if len(survive) >= 2 && (kept == 0 || kept == len(survive)) {
		i := d.rng.IntN(len(survive))
		survive[i] = !survive[i]
		if survive[i] {
			kept++
		} else {
			kept--
		}
	}
	assert.That(len(survive) < 2 || (kept > 0 && kept < len(survive)), "disk: torn write not torn")
	return kept
}

// misdirectTarget decides whether a write of count sectors from first misdirects, and where
// to: another sector-aligned start inside the file as it will be after the write (so the
// write uses no extra space). It returns -1 for no misdirect.
func (d *Disk) misdirectTarget(name string, first, count, newSize int64) int64 {
	armed := d.armed.on && d.armed.name == name && first >= d.armed.lo && first < d.armed.hi
	if !d.faultsEnabled || (!armed && !Chance(d.rng, d.opts.WriteMisdirectProbability)) {
		return -1
	}
	d.armed.on = d.armed.on && !armed // taken by this write, whether it finds a place or not
	starts := (newSize+storage.SectorSize-1)/storage.SectorSize - count + 1
	assert.That(first < starts, "disk: write outside its own file")
	if starts < 2 {
		return -1 // no other place to land
	}
	target := d.rng.Int64N(starts - 1)
	if target >= first {
		target++
	}
	for i := int64(0); i < count; i++ {
		if !d.allowed(name, first+i) || !d.allowed(name, target+i) {
			return -1
		}
	}
	d.armed.landed = d.armed.landed || armed
	return target
}

// armedMisdirect is a misdirect aimed at the next write starting in sectors [lo, hi) of name
// (while on); landed once such a write went elsewhere.
type armedMisdirect struct {
	on, landed bool
	name       string
	lo, hi     int64
}

// ArmMisdirect makes the next write of name that starts in bytes [lo, hi) land elsewhere in
// the file, as a random misdirect would (where the fault filter allows both places; a write
// with no place to land goes through, and the arming is spent all the same). It replaces an
// arming not yet spent; faults off, it does nothing. The nemesis aims it at the moment a
// replica rewrites what it holds, where a misdirect leaves the old bytes in place.
func (d *Disk) ArmMisdirect(name string, lo, hi int64) {
	d.armed = armedMisdirect{on: true, name: name, lo: lo / storage.SectorSize,
		hi: (hi + storage.SectorSize - 1) / storage.SectorSize}
}

// MisdirectLanded reports whether a write landed elsewhere by the armed misdirect.
func (d *Disk) MisdirectLanded() bool { return d.armed.landed }

// DisarmMisdirect withdraws the armed misdirect; it reports whether a write landed elsewhere
// by it.
func (d *Disk) DisarmMisdirect() (landed bool) {
	landed = d.armed.landed
	d.armed = armedMisdirect{}
	return landed
}

// misdirect places the overlays of a write that landed at target instead of w.first: the
// intended sectors read as before, their old bytes (zero-extended where the write grew the
// file) with the overlay they had (a latent error stays one); the target sectors show the
// write's sectors. Where the two ranges overlap, the landed data wins.
func (d *Disk) misdirect(name string, f *diskFile, w *volatileWrite, target int64, old [][]byte) []placedFault {
	assert.That(target != w.first, "disk: misdirect to its own place")
	assert.That(len(old) == len(w.images), "disk: misdirect without the old sectors")
	d.stats.Misdirects++
	d.trace.Emit(LevelShort, d.node, "disk", "fault misdirected_write "+name+" sectors "+
		strconv.FormatInt(w.first, 10)+"+"+strconv.Itoa(len(w.images))+" landed at "+
		strconv.FormatInt(target, 10))
	d.decided(diskDecision{kind: "misdirect", write: w.id, name: name, sector: target})
	placed := make([]placedFault, 0, 2*len(w.images))
	for i, img := range w.images {
		away := sectorFault{kind: FaultMisdirectedAway, data: resizeBytes(old[i], int64(len(img))), owner: w.seq}
		if w.under != nil {
			switch before := w.under[i]; {
			case before.kind == FaultLatentSectorError:
				away = sectorFault{kind: FaultLatentSectorError, owner: w.seq}
			case before.data != nil:
				away.data = bytes.Clone(away.data)
				copy(away.data, before.data)
			}
		}
		placed = append(placed, placedFault{index: i, sector: w.first + int64(i), fault: away})
		f.setFault(w.first+int64(i), away)
	}
	for i, img := range w.images {
		s := target + int64(i)
		// A copy: the overlay outlives the write, whose buffer the FS keeps only until the
		// Sync after it (storage.FS.WriteAt).
		here := bytes.Clone(img[:min(len(img), len(f.sectorBytes(s)))])
		p := placedFault{index: i, sector: s, under: f.faults[s],
			fault: sectorFault{kind: FaultMisdirectedHere, data: here, owner: w.seq}}
		placed = append(placed, p)
		f.setFault(s, p.fault)
	}
	return placed
}

// corruptWrite maybe stores one sector of w with a bit flipped.
func (d *Disk) corruptWrite(name string, f *diskFile, w *volatileWrite) []placedFault {
	if !d.faultsEnabled || !Chance(d.rng, d.opts.WriteCorruptionProbability) {
		return nil
	}
	var candidates []int
	for i := range w.images {
		if d.allowed(name, w.first+int64(i)) {
			candidates = append(candidates, i)
		}
	}
	if len(candidates) == 0 {
		return nil
	}
	i := candidates[d.rng.IntN(len(candidates))]
	s := w.first + int64(i)
	fault := sectorFault{kind: FaultWriteCorruption, data: d.flipBit(w.images[i]), owner: w.seq}
	f.setFault(s, fault)
	d.stats.WriteCorruptions++
	d.traceFault(fault.kind, name, s)
	d.decided(diskDecision{kind: "write_corruption", write: w.id, name: name, sector: s, data: fault.data})
	return []placedFault{{index: i, sector: s, fault: fault}}
}

// injectReadFaults maybe turns one sector of a read latent, and maybe one corrupt.
func (d *Disk) injectReadFaults(name string, f *diskFile, offset, n int64) {
	if Chance(d.rng, d.opts.ReadFaultProbability) {
		if s, ok := d.pickSector(name, f, offset, n); ok {
			f.setFault(s, sectorFault{kind: FaultLatentSectorError})
			d.stats.LatentSectorErrors++
			d.traceFault(FaultLatentSectorError, name, s)
			d.decided(diskDecision{kind: "latent", name: name, sector: s})
		}
	}
	if Chance(d.rng, d.opts.ReadCorruptionProbability) {
		if s, ok := d.pickSector(name, f, offset, n); ok {
			fault := sectorFault{kind: FaultReadCorruption, data: d.flipBit(f.sectorBytes(s))}
			f.setFault(s, fault)
			d.stats.ReadCorruptions++
			d.traceFault(FaultReadCorruption, name, s)
			d.decided(diskDecision{kind: "read_corruption", name: name, sector: s, data: fault.data})
		}
	}
}

// pickSector picks a random sector of [offset, offset+n) that is healthy and that the fault
// filter allows.
func (d *Disk) pickSector(name string, f *diskFile, offset, n int64) (int64, bool) {
	first, count := sectorSpan(offset, n)
	var candidates []int64
	for s := first; s < first+count; s++ {
		if _, faulty := f.faults[s]; !faulty && d.allowed(name, s) {
			candidates = append(candidates, s)
		}
	}
	if len(candidates) == 0 {
		return 0, false
	}
	return candidates[d.rng.IntN(len(candidates))], true
}

// allowed asks the fault filter (the fault atlas) whether a random fault may hit sector s.
func (d *Disk) allowed(name string, s int64) bool {
	return d.filter == nil || d.filter(name, s*storage.SectorSize)
}

// flipBit returns a copy of b with one random bit flipped.
func (d *Disk) flipBit(b []byte) []byte {
	assert.That(len(b) > 0, "disk: flipping a bit of nothing")
	c := bytes.Clone(b)
	c[d.rng.IntN(len(c))] ^= 1 << d.rng.IntN(8)
	return c
}

func (d *Disk) traceFault(kind FaultKind, name string, s int64) {
	d.trace.Emit(LevelShort, d.node, "disk", "fault "+string(kind)+" "+name+" sector "+
		strconv.FormatInt(s, 10))
}

// setFault places an overlay on sector s, which must hold data, clipping it to the file.
func (f *diskFile) setFault(s int64, fault sectorFault) {
	bytesIn := len(f.sectorBytes(s))
	assert.That(bytesIn > 0, "disk: fault past the end of the file")
	if len(fault.data) > bytesIn {
		fault.data = fault.data[:bytesIn]
	}
	f.putFault(s, fault)
}

func (f *diskFile) putFault(s int64, fault sectorFault) {
	if f.faults == nil {
		f.faults = map[int64]sectorFault{}
	}
	f.faults[s] = fault
	f.damagedEver = true
}

// fitFaults makes the overlays fit the file after a crash changed its size: those of
// sectors past the end go, those of a shortened last sector are clipped.
func (f *diskFile) fitFaults() {
	for s, fault := range f.faults {
		bytesIn := len(f.sectorBytes(s))
		switch {
		case bytesIn == 0:
			delete(f.faults, s)
		case len(fault.data) > bytesIn:
			fault.data = fault.data[:bytesIn]
			f.faults[s] = fault
		}
	}
}

// latentIn reports whether [offset, offset+n) touches a sector with a latent error.
func (f *diskFile) latentIn(offset, n int64) bool {
	if len(f.faults) == 0 {
		return false
	}
	first, count := sectorSpan(offset, n)
	for s := first; s < first+count; s++ {
		if fault, ok := f.faults[s]; ok && fault.kind == FaultLatentSectorError {
			return true
		}
	}
	return false
}

// applyOverlays replaces the bytes of buf (read from offset) that overlays cover.
func (f *diskFile) applyOverlays(buf []byte, offset int64) {
	if len(f.faults) == 0 || len(buf) == 0 {
		return
	}
	end := offset + int64(len(buf))
	first, count := sectorSpan(offset, int64(len(buf)))
	for s := first; s < first+count; s++ {
		fault, ok := f.faults[s]
		if !ok || fault.data == nil {
			continue
		}
		start := s * storage.SectorSize
		lo, hi := max(start, offset), min(start+int64(len(fault.data)), end)
		if lo < hi {
			copy(buf[lo-offset:hi-offset], fault.data[lo-start:hi-start])
		}
	}
}

// SetPaused holds completions while paused (a paused node's process gets no I/O callbacks);
// on resume the held completions run in the order they fell due, each as a new event.
func (d *Disk) SetPaused(paused bool) {
	if d.paused == paused {
		return
	}
	d.paused = paused
	if paused {
		d.trace.Emit(LevelShort, d.node, "disk", "paused")
		return
	}
	d.trace.Emit(LevelShort, d.node, "disk", "resumed, "+strconv.Itoa(len(d.held))+" held completions")
	held := d.held
	d.held = nil
	for _, op := range held {
		d.schedule(0, op)
	}
}

// SetSlow sets the slow-disk multiplier for operations issued from now on (0 or 1: normal).
func (d *Disk) SetSlow(multiplier int) {
	assert.That(multiplier >= 0, "disk: negative slow multiplier")
	d.slow = multiplier
	d.trace.Emit(LevelShort, d.node, "disk", "slow x"+strconv.Itoa(multiplier))
}

// SetCapacity resizes the disk. A capacity below the current usage is allowed (a scenario
// filling the disk): growth then fails with ErrNoSpace until space is freed.
func (d *Disk) SetCapacity(bytes int64) {
	assert.That(bytes >= 0, "disk: negative capacity")
	d.capacity = bytes
	d.trace.Emit(LevelShort, d.node, "disk", "capacity "+strconv.FormatInt(bytes, 10))
}

// SetFaultsEnabled switches random faults on or off. Off, no new random fault is injected
// and reads return pristine bytes; the existing overlays are kept (and reported by Faults),
// so switching back on brings them back. Crash semantics are not affected.
func (d *Disk) SetFaultsEnabled(enabled bool) {
	d.faultsEnabled = enabled
	d.trace.Emit(LevelShort, d.node, "disk", "faults enabled "+strconv.FormatBool(enabled))
}

// FaultsEnabled reports whether random faults are on (SetFaultsEnabled).
func (d *Disk) FaultsEnabled() bool { return d.faultsEnabled }

// SetFaultFilter installs the fault atlas hook: a random fault (read, write or misdirect)
// may hit a sector only if filter(name, sector offset) is true. nil allows every sector.
// Targeted faults and crash outcomes ignore it.
func (d *Disk) SetFaultFilter(filter func(name string, offset int64) bool) {
	d.filter = filter
}

// CorruptSector flips one bit of the sector holding offset, sticky until rewritten. The
// sector must exist: a scenario that corrupts nothing would break its name's promise.
func (d *Disk) CorruptSector(name string, offset int64) {
	f := d.targetedSector(name, offset)
	s := offset / storage.SectorSize
	fault := sectorFault{kind: FaultCorruption, data: d.flipBit(f.sectorBytes(s))}
	f.setFault(s, fault)
	d.traceFault(FaultCorruption, name, s)
	d.decided(diskDecision{kind: "corruption", name: name, sector: s, data: fault.data})
}

// LatentSectorError makes reads of the sector holding offset fail with ErrIO until it is
// rewritten.
func (d *Disk) LatentSectorError(name string, offset int64) {
	f := d.targetedSector(name, offset)
	s := offset / storage.SectorSize
	f.setFault(s, sectorFault{kind: FaultLatentSectorError})
	d.traceFault(FaultLatentSectorError, name, s)
	d.decided(diskDecision{kind: "latent", name: name, sector: s})
}

func (d *Disk) targetedSector(name string, offset int64) *diskFile {
	f := d.files[name]
	assert.That(f != nil, "disk: targeted fault on a missing file")
	assert.That(offset >= 0 && offset < int64(len(f.data)), "disk: targeted fault past the end of the file")
	d.stats.TargetedFaults++
	return f
}

// Faults reports the active overlays, sorted by file and sector (one per sector).
func (d *Disk) Faults() []DiskFault {
	d.assertLive()
	var out []DiskFault
	for i, f := range d.sortedFiles {
		if len(f.faults) == 0 {
			continue
		}
		name := d.sorted[i]
		for _, s := range slices.Sorted(maps.Keys(f.faults)) {
			out = append(out, DiskFault{Name: name, Sector: s, Offset: s * storage.SectorSize,
				Kind: f.faults[s].kind})
		}
	}
	return out
}

// RemovedDamaged returns, sorted, the names of the files the node removed while a fault
// overlay or a crash-lost sector lay on them, and has not created again since. A checker
// needs them because such a file's damage outlives it: a storage engine that finds its newest
// checkpoint unreadable falls back to an older state and removes the damaged file, and the
// log above the older state then misses the ops that only the removed checkpoint held.
func (d *Disk) RemovedDamaged() []string {
	var names []string
	for name, current := range d.removedDamaged {
		if current {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// RemovedDamagedEver returns, sorted, the names of the files the node removed while damaged
// (as RemovedDamaged), whether or not it has created them again since; a reformat forgets
// them. A storage engine may keep what such a file's damage made it decide in the log: the
// entries a fallback past a damaged checkpoint could no longer trust stay distrusted until
// rewritten, after a state sync has fetched the checkpoint again.
func (d *Disk) RemovedDamagedEver() []string {
	return slices.Sorted(maps.Keys(d.removedDamaged))
}

// DamagedEver reports whether damage ever lay on the file since it was created: an overlay
// (Faults), a sector whose write a crash lost or tore (LostWrites, TornRemnants) or a write
// a failed sync kept (SyncKept), whether or not it has been written over since. A storage
// engine keeps some of what damage made it decide on the disk after the damage is gone: the
// faulty marks it writes over the record sectors of ops it holds of unknown identity, which
// stay until it writes each op again.
func (d *Disk) DamagedEver(name string) bool {
	d.assertLive()
	f := d.files[name]
	return f != nil && f.damagedEver
}

func (d *Disk) noteRemovedDamaged(name string) {
	if d.removedDamaged == nil {
		d.removedDamaged = map[string]bool{}
	}
	d.removedDamaged[name] = true
}

// Altered is the disk's own account of a byte range: the overlays on the sectors of
// [offset, offset+n) of a file, sorted by sector. A sector listed does not hold, as a read
// with faults enabled sees it, what the node wrote there (a corruption, a latent error, a
// misdirected write's old bytes or the bytes it landed there); a sector not listed holds
// exactly what the node wrote (Written), durable or not. Nil if the file does not exist.
func (d *Disk) Altered(name string, offset, n int64) []DiskFault {
	d.assertLive()
	f := d.peek(name)
	if f == nil || n <= 0 || len(f.faults) == 0 {
		return nil
	}
	first, count := sectorSpan(max(offset, 0), n)
	var out []DiskFault
	if count <= int64(len(f.faults)) { // a short range: look its sectors up, in order
		for s := first; s < first+count; s++ {
			if fault, ok := f.faults[s]; ok {
				out = append(out, DiskFault{Name: name, Sector: s, Offset: s * storage.SectorSize, Kind: fault.kind})
			}
		}
		return out
	}
	for _, s := range slices.Sorted(maps.Keys(f.faults)) {
		if s >= first && s < first+count {
			out = append(out, DiskFault{Name: name, Sector: s, Offset: s * storage.SectorSize, Kind: f.faults[s].kind})
		}
	}
	return out
}

// Visible returns a copy of up to n bytes of a file from offset as a read would return them
// now (with the overlays, if faults are enabled), fewer at the end of the file, or ErrIO if
// a sector of the range has a latent error; it injects nothing and counts nothing. ErrNotExist
// if the file does not exist.
func (d *Disk) Visible(name string, offset, n int64) ([]byte, error) {
	d.assertLive()
	f := d.files[name]
	if f == nil {
		return nil, storage.ErrNotExist
	}
	size := int64(len(f.data))
	if offset < 0 || offset >= size || n <= 0 {
		return nil, nil
	}
	n = min(n, size-offset)
	if d.faultsEnabled && f.latentIn(offset, n) {
		return nil, storage.ErrIO
	}
	buf := bytes.Clone(f.data[offset : offset+n])
	if d.faultsEnabled {
		f.applyOverlays(buf, offset)
	}
	return buf, nil
}

// Names returns the names of the disk's files, sorted.
func (d *Disk) Names() []string { return d.names() }

// LostWrites returns, sorted, the sectors of a file whose last write a crash lost or tore
// (the sector holds what an earlier write left there, or zeros) and that nothing rewrote
// since: damage a crash did, without any fault.
func (d *Disk) LostWrites(name string) []int64 {
	d.assertLive()
	f := d.files[name]
	if f == nil || len(f.lost) == 0 {
		return nil
	}
	return slices.Sorted(maps.Keys(f.lost))
}

// TornRemnants returns, sorted, the sectors of name that a torn write kept while it lost
// others, and that nothing has written since: each holds what was written, but the write it
// was part of (an entry, say) is not whole on the disk.
func (d *Disk) TornRemnants(name string) []int64 {
	d.assertLive()
	f := d.files[name]
	if f == nil || len(f.remnants) == 0 {
		return nil
	}
	return slices.Sorted(maps.Keys(f.remnants))
}

// SyncKept returns, sorted, the sectors of name that a failed sync kept whole (each write
// it covered is kept a quarter of the time, syncLoss), that nothing has written since, and
// that the engine could not yet have dealt with: durable as written, though the engine was
// told the sync failed. An engine that then treats the write as gone (a failed append: its
// entry cut and synced, then, in that sync's callback, a tombstone written over its record)
// leaves it on the disk beside state that no longer names it until it is through, and a
// crash (or a Snapshot, which stands for one) before then exposes it: damage the disk did,
// as a lost write is. The engine is through once its answer to the file's next successful
// sync has landed, or once that sync's callback returned without one (keptStage): kept
// sectors still there are its own doing then, unless a crash found them before, or the
// disk refused the answer (excused, until written over).
func (d *Disk) SyncKept(name string) []int64 {
	d.assertLive()
	f := d.files[name]
	if f == nil || len(f.kept) == 0 {
		return nil
	}
	if f.keptStage != keptHandled {
		return slices.Sorted(maps.Keys(f.kept))
	}
	if len(f.excused) == 0 {
		return nil
	}
	return slices.Sorted(maps.Keys(f.excused))
}

// Snapshot returns a copy of the disk as it is now (files, unsynced writes, overlays, lost
// writes), on loop, that injects no random fault and whose crashes lose nothing: a disk an
// operator can inspect without disturbing this one (which draws nothing for it). rng draws
// the copy's latencies.
func (d *Disk) Snapshot(loop *Loop, rng *rand.Rand, trace *Trace) *Disk {
	d.assertLive()
	opts := d.opts
	opts.ReadFaultProbability, opts.ReadCorruptionProbability = 0, 0
	opts.WriteCorruptionProbability, opts.WriteMisdirectProbability, opts.WriteErrorProbability = 0, 0, 0
	opts.SyncErrorProbability = 0
	opts.CrashLostProbability, opts.CrashTornProbability = 0, 0
	opts.SlowMultiplier, opts.Capacity = 0, max(d.capacity, 1)
	c := NewDisk(loop, rng, trace, d.node, opts)
	c.used, c.faultsEnabled, c.writeSeq, c.writeIDs = d.used, d.faultsEnabled, d.writeSeq, d.writeIDs
	c.bodySums, c.auditSums = d.bodySums, d.auditSums
	if d.pool != nil { // the copy shares arrays with d: reclaimed with it (DiskPool.release)
		c.pool = d.pool
		d.pool.disks = append(d.pool.disks, c)
	}
	c.sorted = slices.Clone(d.sorted)
	c.removedDamaged = maps.Clone(d.removedDamaged)
	for name, f := range d.files {
		volatile := slices.Clone(f.volatile)
		for i := range volatile { // a truncate of the copy edits these in place
			volatile[i].under, volatile[i].faults = slices.Clone(volatile[i].under), slices.Clone(volatile[i].faults)
			// Images may be pieces of the writers' buffers, which they take back once the
			// original's Sync completes (storage.FS.WriteAt): the copy's are its own.
			images := make([][]byte, len(volatile[i].images))
			for j, img := range volatile[i].images {
				images[j] = bytes.Clone(img)
			}
			volatile[i].images = images
		}
		f.shared = true // copied on the first change, here or in the copy (diskFile.own)
		c.files[name] = &diskFile{data: f.data, durableLen: f.durableLen, shared: true,
			volatile: volatile, faults: maps.Clone(f.faults), lost: maps.Clone(f.lost), remnants: maps.Clone(f.remnants),
			kept: maps.Clone(f.kept), excused: maps.Clone(f.excused), keptStage: f.keptStage, damagedEver: f.damagedEver}
	}
	for _, name := range c.sorted {
		c.touch(c.files[name])
		c.sortedFiles = append(c.sortedFiles, c.files[name])
	}
	return c
}

// Written returns a copy of up to n bytes of a file from offset as the node wrote them (its
// pristine bytes: synced or not, as the last crash left them, without overlays), fewer at
// the end of the file; nil if there are none.
func (d *Disk) Written(name string, offset, n int64) []byte {
	d.assertLive()
	f := d.files[name]
	if f == nil || offset < 0 || offset >= int64(len(f.data)) {
		return nil
	}
	return bytes.Clone(f.data[offset:min(offset+n, int64(len(f.data)))])
}

// Stats returns the disk's counters.
func (d *Disk) Stats() DiskStats { return d.stats }

// Pristine returns a copy of the file's bytes without fault overlays, volatile writes
// included; nil if the file does not exist.
func (d *Disk) Pristine(name string) []byte {
	d.assertLive()
	if f := d.files[name]; f != nil {
		return bytes.Clone(f.data)
	}
	return nil
}

// Durable returns a copy of the file's durable image: its bytes if every unsynced write
// were lost; nil if the file does not exist.
func (d *Disk) Durable(name string) []byte {
	d.assertLive()
	if f := d.files[name]; f != nil {
		return f.durableBytes(0, f.durableLen, true)
	}
	return nil
}

// DurableRange returns a copy of up to n durable bytes of a file from offset (fewer at the
// end of the file), for checkers that look for one record without copying the whole file.
func (d *Disk) DurableRange(name string, offset, n int64) []byte {
	d.assertLive()
	f := d.files[name]
	if f == nil || offset < 0 || offset >= f.durableLen {
		return nil
	}
	return f.durableBytes(offset, min(offset+n, f.durableLen), true)
}

// DurableView is DurableRange without the copy where it can (no unsynced write touched the
// range), for checkers on a hot path: the bytes may be the disk's own and change as it
// works, so the caller must neither modify them nor keep them past the event it runs in
// (copy what it keeps).
func (d *Disk) DurableView(name string, offset, n int64) []byte {
	f := d.peek(name)
	if f == nil || offset < 0 || offset >= f.durableLen {
		return nil
	}
	return f.durableBytes(offset, min(offset+n, f.durableLen), false)
}

// DurableStamp returns a number that is new whenever the file's bytes or durable image may
// have changed (a write, a sync, a truncate, a crash, the file created again), 0 if the file
// does not exist: a checker that keeps what it read of the durable image with the stamp
// need not read it again while the stamp, of the same disk, stays.
func (d *Disk) DurableStamp(name string) uint64 {
	if f := d.peek(name); f != nil {
		return f.stamp
	}
	return 0
}

// DurableSize returns the size of a file's durable image, or -1 if the file does not exist.
func (d *Disk) DurableSize(name string) int64 {
	if f := d.peek(name); f != nil {
		return f.durableLen
	}
	return -1
}

// Reformat wipes the disk (a node reformatted for reconfiguration): every file, overlay
// and pending completion goes. Options, slow mode, capacity and the fault switch stay.
func (d *Disk) Reformat() {
	d.generation++
	d.held = nil
	clear(d.files)
	clear(d.removedDamaged) // a new engine: nothing of the old one's damage shapes it
	d.lastFile, d.viewFile = nil, nil
	d.sorted, d.sortedFiles = nil, nil
	d.used = 0
	d.trace.Emit(LevelShort, d.node, "disk", "reformat")
}

// checkInvariants verifies the invariants listed on Disk; tests call it after every step.
// It replays every file's volatile writes, so it is too slow for the hot path.
func (d *Disk) checkInvariants() {
	used := int64(0)
	for _, name := range d.names() {
		f := d.files[name]
		used += roundUp(int64(len(f.data)))
		assert.That(f.durableLen <= int64(len(f.data)), "disk: durable image larger than the file")
		image := f.durableBytes(0, f.durableLen, true)
		for i, w := range f.volatile {
			assert.That(i == 0 || f.volatile[i-1].seq < w.seq, "disk: volatile writes out of order")
			assert.That(w.under == nil || len(w.under) == len(w.images), "disk: displaced overlays out of step")
			assert.That(int64(len(w.before)) <= int64(len(w.images))*storage.SectorSize, "disk: a write's before past its sectors")
			image = applyImages(image, w, nil)
		}
		assert.That(bytes.Equal(image, f.data), "disk: durable image + volatile writes != data")
		for s, fault := range f.faults {
			inFile := len(f.sectorBytes(s))
			assert.That(inFile > 0, "disk: overlay past the end of the file")
			assert.That(len(fault.data) <= inFile, "disk: overlay longer than its sector")
		}
	}
	assert.That(used == d.used, "disk: usage out of step with the files")
	assert.That(slices.Equal(d.sorted, slices.Sorted(maps.Keys(d.files))), "disk: sorted names out of step with the files")
	assert.That(len(d.sortedFiles) == len(d.sorted), "disk: sorted files out of step with the names")
	for i, name := range d.sorted {
		assert.That(d.sortedFiles[i] == d.files[name], "disk: sorted files out of step with the names")
	}
	assert.That(d.capacity >= 0, "disk: negative capacity")
}
