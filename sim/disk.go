package sim

import (
	"bytes"
	"cmp"
	"errors"
	"math/bits"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/zeebo/xxh3"

	"vopr/cluster/checksum"
	"vopr/cluster/storage"
	"vopr/internal/assert"
)

// Disk is one node's simulated disk: a flat namespace of in-memory files behind the
// storage.FS interface, with latency, sticky sector faults, crash semantics for unsynced
// writes, a slow mode and a capacity (TigerBeetle's testing/storage.zig, per file rather
// than per zone).
//
// The model, and the choices it makes:
//
//   - Timing. Every operation completes after a latency drawn at issue, max(min, Exp(mean)),
//     times the slow-mode multiplier: reads use the read latency, WriteAt and Sync the write
//     latency, metadata operations (Create, Remove, Truncate, List) the read latency. The
//     completion is always a Loop event, never inline. Completions on one file need not come
//     in issue order (FS allows it).
//   - Visibility. An operation takes effect when it completes: a write's bytes become
//     visible to reads at its completion, a read copies the bytes present at its completion,
//     and errors (ErrNotExist, ErrNoSpace) are decided then too.
//   - Pristine bytes and overlays. Each file keeps its pristine bytes (what it would hold on
//     a perfect disk: what the node wrote) apart from per-sector fault overlays (latent
//     errors, corruptions, misdirected data). A read returns pristine bytes with the overlays
//     of its sectors applied; writing to any byte of a sector rewrites the whole sector from
//     pristine bytes and clears its overlay, until a crash loses that write (see Crash).
//     Because overlays are separate, SetFaultsEnabled(false) makes reads pristine again, and
//     Faults (or Altered, for a byte range) reports exactly what is damaged.
//   - Durability. Per file the disk keeps the writes completed since the durable image,
//     each as the post-write images of the sectors it touched and the bytes they held
//     before it. The durable image is not kept as bytes of its own: it is the file's bytes
//     with those writes undone, cut to its length (durableBytes), so a file written and
//     synced is held once, not twice. A Sync makes durable the writes that completed before
//     it was issued. Create, Remove and Truncate are durable at completion. See Crash for
//     what survives a crash.
//   - Capacity. Usage is the sum over files of their size rounded up to a sector. A write or
//     truncate that would push usage past the capacity fails with ErrNoSpace and changes
//     nothing; one that does not grow usage always succeeds, even on a full disk.
//
// Invariants (checked by checkInvariants in tests):
//   - used == sum over files of roundUpToSector(len(data)) and capacity >= 0;
//   - durableLen <= len(data), and the durable image with the volatile writes replayed ==
//     data;
//   - volatile writes are in completion order (increasing seq);
//   - every overlay lies inside its file.
type Disk struct {
	loop  *Loop
	rng   *rand.Rand
	trace *Trace
	node  int
	opts  DiskOptions

	files map[string]*diskFile
	// sorted holds the names of files, sorted (names): kept as files come and go rather than
	// sorted at every List (a log below its compaction threshold has hundreds of segments).
	sorted []string
	// sortedFiles are the files of sorted, in its order (Faults walks them without the map).
	sortedFiles []*diskFile
	// lastName and lastFile cache the last lookup of file (its runs of completions on one
	// file skip the map); lastFile is nil when nothing is cached.
	lastName string
	lastFile *diskFile
	// viewName and viewFile cache the last lookup of the checkers' reads (peek), apart from
	// the completions' (file); viewFile is nil when nothing is cached.
	viewName string
	viewFile *diskFile
	// stamps counts the stamps handed to files (diskFile.stamp).
	stamps   uint64
	used     int64
	capacity int64
	slow     int

	faultsEnabled bool
	filter        func(name string, offset int64) bool
	// armed is a misdirect the nemesis aimed at the next write into a range (ArmMisdirect).
	armed armedMisdirect
	// armedError is a write error aimed at the next write into a range (ArmWriteError).
	armedError armedWriteError
	// armedSync is a failed sync aimed at the next sync of a file (ArmSyncError).
	armedSync armedSyncError
	// armedLost is a lost write aimed at the next write into a range (ArmLostWrite).
	armedLost armedLostWrite
	// noSpaceAim picks the writes a standing ErrNoSpace aim refuses (AimNoSpace); nil for none.
	noSpaceAim noSpaceMatch
	// syncKeep is the stream that decides which writes a failed sync keeps whole
	// (SetSyncKeepStream, syncLoss); nil: a failed sync keeps none.
	syncKeep *rand.Rand
	// armedMeta are I/O errors aimed at the next Truncate or Remove of a file (disk_truncate.go).
	armedMeta armedMetaErrors

	paused bool
	// held are completions that fell due while paused, in the order they fell due.
	held []pendingOp
	// pending are the scheduled completions, by slot (the loop event's argument): a slot per
	// completion instead of a closure per completion.
	pending slots[pendingOp]
	fireFn  func(slot uint64) // d.fire, made once
	// generation increases at every Crash; a completion issued under an older generation
	// never runs, so no callback crosses a crash.
	generation uint64

	// writeSeq counts completed writes: the order Sync promotes them in.
	writeSeq uint64
	// writeIDs numbers issued writes. Those not yet completed, which a crash may still land
	// (see Crash), are the writes among the pending and held completions (inflightWrites).
	writeIDs uint64

	stats DiskStats
	// removedDamaged names the files removed while an overlay or a crash-lost sector lay on
	// them: true until a file of the name is created again (RemovedDamaged), false after
	// (RemovedDamagedEver).
	removedDamaged map[string]bool
	// spare holds the arrays of removed files' images for reuse (see grow): segments and
	// checkpoints are removed and created all the time, each growing to the same size.
	spare [][]byte
	// pool is where grow looks for an array after spare, and what takes the disk's arrays
	// back (WorldOptions.DiskPool); nil for none. released marks a disk whose arrays its
	// pool took back: any further use fails (assertLive).
	pool     *DiskPool
	released bool
	// families holds, per file family (a name less its trailing hex number: "log-",
	// "checkpoint-"), the largest size a file of the family reached: what a new file's images
	// reserve when they first grow (see grow).
	families map[string]*int64
	// imageSlab is what imageSlice carves the volatile writes' image slices from.
	imageSlab [][]byte
	// text is scratch space for trace lines (traceOp).
	text []byte
	// observe, if set, hears of every random decision the disk takes (a test's reference
	// model replays them); nil outside tests.
	observe func(diskDecision)
	// bodySums and auditSums are the memos of entry body sums and audit chain steps the disk
	// offers the engines on it (storage.Summer), shared by the world's disks and their
	// snapshots; nil for none.
	bodySums, auditSums *checksum.SHA256Memo
}

// DiskOptions is the disk model of one run, drawn from the seed. Probabilities are in
// [0, 1]; latencies and the capacity must be set explicitly (a zero Capacity is an error,
// not "unlimited").
type DiskOptions struct {
	ReadLatencyMin   Duration
	ReadLatencyMean  Duration
	WriteLatencyMin  Duration
	WriteLatencyMean Duration

	// ReadFaultProbability is the chance per read that one sector it touches gets a latent
	// sector error: that read and every later read of the sector return ErrIO until the
	// sector is rewritten.
	ReadFaultProbability float64
	// ReadCorruptionProbability is the chance per read that one sector it touches turns
	// corrupt (one bit flipped); sticky: every read returns the same bytes until rewritten.
	ReadCorruptionProbability float64
	// WriteCorruptionProbability is the chance per write that one of its sectors is stored
	// with a bit flipped.
	WriteCorruptionProbability float64
	// WriteMisdirectProbability is the chance per write that it lands at another
	// sector-aligned place of the same file: the intended sectors keep their old bytes and
	// the target sectors are overwritten.
	WriteMisdirectProbability float64
	// WriteErrorProbability is the chance per write that it fails with ErrIO and changes
	// nothing: the device reported the write failed (a transient error, a timeout, a failing
	// sector it could not remap in time). The engine must not count it done.
	WriteErrorProbability float64
	// SyncErrorProbability is the chance per Sync that it fails with ErrIO and each write it
	// was to make durable is, at once, lost, torn at sector boundaries, or (with a keep
	// stream, SetSyncKeepStream) kept whole: write-back failed, and the device (or the
	// kernel, which marks the pages clean and may drop them) kept only what had reached the
	// platter, which may be all of a write. A later Sync succeeds without bringing the lost
	// back, so only a rewrite makes the data durable, and a write the engine was told failed
	// may still be there (Rebello et al., "Can Applications Recover from fsync Failures?",
	// ATC'20). It strikes only a Sync no later write to the file completed behind (syncFails).
	SyncErrorProbability float64
	// CrashLostProbability is the chance, per unsynced write at a crash, that it is lost.
	CrashLostProbability float64
	// CrashTornProbability is the chance, per unsynced write at a crash that was not lost,
	// that only a random proper subset of its sectors survives.
	CrashTornProbability float64

	// SlowMultiplier multiplies every latency (slow-disk mode); 0 or 1 is normal speed.
	SlowMultiplier int
	// Capacity is the size of the disk in bytes.
	Capacity int64
}

// Validate reports the first option out of range, for callers that take options from input.
func (o DiskOptions) Validate() error {
	if o.ReadLatencyMin < 0 || o.ReadLatencyMean < 0 || o.WriteLatencyMin < 0 || o.WriteLatencyMean < 0 {
		return errors.New("disk options: negative latency")
	}
	probabilities := []float64{o.ReadFaultProbability, o.ReadCorruptionProbability,
		o.WriteCorruptionProbability, o.WriteMisdirectProbability, o.WriteErrorProbability,
		o.SyncErrorProbability, o.CrashLostProbability, o.CrashTornProbability}
	for _, p := range probabilities {
		if !(p >= 0 && p <= 1) {
			return errors.New("disk options: probability outside [0, 1]")
		}
	}
	if o.SlowMultiplier < 0 {
		return errors.New("disk options: negative slow multiplier")
	}
	if o.Capacity <= 0 {
		return errors.New("disk options: capacity must be positive")
	}
	return nil
}

// DiskStats counts what a disk did and which faults it injected.
type DiskStats struct {
	// Completed operations (whatever their result).
	Reads, Writes, Syncs, Creates, Removes, Truncates, Lists uint64
	// ReadErrors counts reads that returned ErrIO; WriteErrors, writes that failed with ErrIO
	// (WriteErrorProbability); SyncErrors, syncs that failed with ErrIO and lost what they
	// were to make durable (SyncErrorProbability).
	ReadErrors, WriteErrors, SyncErrors uint64
	// Random faults injected: latent sector errors (on reads), read and write corruptions,
	// misdirected writes.
	LatentSectorErrors, ReadCorruptions, WriteCorruptions, Misdirects uint64
	// Outcomes of unsynced writes at crashes.
	CrashLost, CrashTorn, CrashKept uint64
	// NoSpace counts writes and truncates refused with ErrNoSpace.
	NoSpace uint64
	// Crashes counts calls of Crash; TargetedFaults calls of CorruptSector and
	// LatentSectorError.
	Crashes, TargetedFaults uint64
	// CrashKeptDamage counts sectors a crash left damaged because it lost the rewrite that
	// had covered the damage (see Crash).
	CrashKeptDamage uint64
	// SyncKept counts the writes failed syncs kept whole (syncLoss); SyncKeptSettled, the
	// times an engine got through a failed sync that kept writes (keptStage) and left some
	// of them in place: the moment a check of the disk holds the engine to what it left.
	SyncKept, SyncKeptSettled uint64
	// LostWrites counts the writes an armed lost write took (ArmLostWrite): reported done,
	// never applied.
	LostWrites uint64
}

// diskFile is one file: pristine bytes, the durable image's length, unsynced writes and fault
// overlays. lost marks the sectors whose last write a crash lost (wholly or torn), until
// rewritten.
//
// The durable image is data with the volatile writes undone: a sector's durable bytes are
// what the first volatile write of it found there (its before), zero-extended, or data's
// own bytes if no volatile write touched it; and the image is durableLen long. A write
// keeps what it overwrote, a Sync drops the writes it makes durable, and nothing is copied
// for a write past the end of the file (a log's appends, a new checkpoint file).
type diskFile struct {
	data       []byte
	durableLen int64
	volatile   []volatileWrite
	faults     map[int64]sectorFault
	lost       map[int64]bool
	// remnants are the sectors a torn write kept while it lost others (markLost): what they
	// hold is as written, but the write they began is not whole. Written over, they are not.
	remnants map[int64]bool
	// kept are the sectors of writes a failed sync kept whole (failSync): durable, though
	// the engine was told the sync failed. Written over, they are not. keptStage is how far
	// the engine got in handling the last failed sync that kept some (keptUnhandled, ...);
	// excused are the kept sectors a crash (Crash) found before the engine was through
	// (SyncKept). Written over, they are not.
	kept, excused map[int64]bool
	keptStage     keptStage
	keptWrite     uint64 // the write issued at keptSynced (keptWriting)
	// damagedEver: an overlay, a lost or torn write or a kept write ever lay on the file
	// (DamagedEver), written over since or not.
	damagedEver bool
	// shared marks data as shared with a Snapshot (or the disk it was taken of): copied
	// (own) before any change in place, on either side.
	shared bool
	// family is the largest size a file of its family reached (Disk.families), nil for a
	// file a Snapshot copied.
	family *int64
	// stamp is a number of the disk's (Disk.stamps), new whenever the file's bytes or durable
	// image may change: DurableStamp.
	stamp uint64
}

// touch gives f a new stamp: its bytes or durable image may have changed.
func (d *Disk) touch(f *diskFile) {
	d.stamps++
	f.stamp = d.stamps
}

// reserve is the capacity f's images reserve when they grow to size: a sixteenth more than
// the largest file of its family, so that a log segment, written entry by entry to about the
// size of the one before it, allocates each image once instead of doubling through every
// power of two (and copying) on its way there. An image growing to the family's largest size
// or beyond (a file of fixed size, a checkpoint larger than the last) reserves nothing.
func (f *diskFile) reserve(size int64) int64 {
	if f.family == nil || size >= *f.family {
		return 0
	}
	return *f.family + *f.family/16
}

// own gives f an array of its own before a change in place, if a Snapshot shares it.
func (f *diskFile) own() {
	if f.shared {
		f.data, f.shared = bytes.Clone(f.data), false
	}
}

// volatileWrite is a completed write not yet made durable: the post-write content of each
// sector it touched (so that whatever survives a crash is a whole sector as some write left
// it, never half of one), the bytes those sectors held before it (before: from the start
// of sector first, at most as far as the file then reached, nil if they were all zeros;
// bytes past it held zeros), the overlays
// it displaced there (under: nil if none, else one per image, kind "" for none) and the
// overlays it left, each tied to one of its sectors.
type volatileWrite struct {
	seq    uint64
	id     uint64 // issue number (writeIDs)
	first  int64
	images [][]byte
	before []byte
	under  []sectorFault
	faults []placedFault
}

// placedFault is an overlay a write left on sector; it survives a crash only if the write's
// sector index did (a misdirected sector lands at its target or nowhere). under is the
// overlay a landing (FaultMisdirectedHere) displaced, kind "" for none.
type placedFault struct {
	index  int
	sector int64
	fault  sectorFault
	under  sectorFault
}

// inflightWrite is an issued write (id >= 1) until its completion runs.
type inflightWrite struct {
	id     uint64
	name   string
	offset int64
	data   []byte
}

// inflightWrites returns the writes issued under the current generation whose completion
// has not run (pending, or held while paused), in issue order. A completion taken from
// pending leaves a zero slot, and one of an earlier generation never runs.
func (d *Disk) inflightWrites() []inflightWrite {
	var out []inflightWrite
	for _, ops := range [][]pendingOp{d.pending.items, d.held} {
		for _, op := range ops {
			if op.write.id != 0 && op.generation == d.generation {
				out = append(out, op.write)
			}
		}
	}
	slices.SortFunc(out, func(a, b inflightWrite) int { return cmp.Compare(a.id, b.id) })
	return out
}

// diskDecision is a random decision of the disk, told to Disk.observe: a write's misdirect
// (sector: its target) or corruption (sector, data), a read's latent error or corruption, a
// targeted corruption, or a crash outcome (survive, per sector of the write).
type diskDecision struct {
	kind    string
	write   uint64 // issue number of the write, 0 if none
	name    string
	sector  int64
	data    []byte
	survive []bool
}

func (d *Disk) decided(decision diskDecision) {
	if d.observe != nil {
		d.observe(decision)
	}
}

var (
	_ storage.FS     = (*Disk)(nil)
	_ storage.Summer = (*Disk)(nil)
)

// SumMemos returns the disk's memos of entry body sums and audit chain steps
// (storage.Summer), nil if it has none: the world's disks share one pair, since each of its
// replicas appends every prepare and audits every committed op.
func (d *Disk) SumMemos() (bodies, audits *checksum.SHA256Memo) { return d.bodySums, d.auditSums }

// NewDisk returns an empty disk for node. rng is the disk's own stream; every latency and
// fault decision draws from it.
func NewDisk(loop *Loop, rng *rand.Rand, trace *Trace, node int, opts DiskOptions) *Disk {
	assert.That(loop != nil, "disk: nil loop")
	assert.That(rng != nil, "disk: nil rng")
	assert.That(trace != nil, "disk: nil trace")
	if err := opts.Validate(); err != nil {
		assert.Unreachable(err.Error())
	}
	return &Disk{
		loop: loop, rng: rng, trace: trace, node: node, opts: opts,
		files:         map[string]*diskFile{},
		capacity:      opts.Capacity,
		slow:          opts.SlowMultiplier,
		faultsEnabled: true,
	}
}

// Create makes an empty file; ErrExist if it exists.
func (d *Disk) Create(name string, done func(err error)) {
	assert.That(done != nil, "disk: nil callback")
	d.complete(d.latency(d.opts.ReadLatencyMin, d.opts.ReadLatencyMean), func() {
		d.stats.Creates++
		err := storage.ErrExist
		if d.files[name] == nil {
			f := &diskFile{family: d.familyOf(name)}
			d.touch(f)
			d.files[name] = f
			if _, ok := d.removedDamaged[name]; ok {
				d.removedDamaged[name] = false // created again: history only (RemovedDamagedEver)
			}
			i, _ := slices.BinarySearch(d.sorted, name)
			d.sorted = slices.Insert(d.sorted, i, name)
			d.sortedFiles = slices.Insert(d.sortedFiles, i, f)
			err = nil
		}
		d.traceOp("create", name, 0, noSpan, err)
		done(err)
	})
}

// ReadAt fills buf from offset with the bytes present when the read completes.
func (d *Disk) ReadAt(name string, buf []byte, offset int64, done func(n int, err error)) {
	d.readAt(name, buf, offset, done, nil)
}

func (d *Disk) readAt(name string, buf []byte, offset int64, done func(n int, err error), via *guardedFS) {
	assert.That(done != nil, "disk: nil callback")
	assert.That(offset >= 0, "disk: negative read offset")
	op := d.pend(d.latency(d.opts.ReadLatencyMin, d.opts.ReadLatencyMean))
	op.kind, op.name, op.buf, op.offset, op.doneRead, op.via = IORead, name, buf, offset, done, via
}

// WriteAt keeps data (read-only: storage.FS) and applies it when the write completes.
func (d *Disk) WriteAt(name string, data []byte, offset int64, done func(err error)) {
	d.writeAt(name, data, offset, done, nil)
}

func (d *Disk) writeAt(name string, data []byte, offset int64, done func(err error), via *guardedFS) {
	assert.That(done != nil, "disk: nil callback")
	assert.That(offset >= 0, "disk: negative write offset")
	d.writeIDs++
	id := d.writeIDs
	op := d.pend(d.latency(d.opts.WriteLatencyMin, d.opts.WriteLatencyMean))
	op.kind, op.name, op.offset, op.done, op.via = IOWrite, name, offset, done, via
	op.write.id, op.write.name, op.write.offset, op.write.data = id, name, offset, data
	if f := d.files[name]; f != nil && f.keptStage == keptSynced {
		f.keptStage, f.keptWrite = keptWriting, id // the engine's answer to the failed sync
	}
}

// Sync makes durable every write to the file that completed before Sync was called. Writes
// completing while the sync is in flight stay volatile, as with fsync on a real disk.
func (d *Disk) Sync(name string, done func(err error)) {
	d.sync(name, done, nil)
}

func (d *Disk) sync(name string, done func(err error), via *guardedFS) {
	assert.That(done != nil, "disk: nil callback")
	op := d.pend(d.latency(d.opts.WriteLatencyMin, d.opts.WriteLatencyMean))
	op.kind, op.name, op.upTo, op.done, op.via = IOSync, name, d.writeSeq, done, via
}

// completeRead, completeWrite and completeSync are the completions of ReadAt, WriteAt and
// Sync (pendingOp.run), each then handed to its caller (deliver).
func (d *Disk) completeRead(op *pendingOp) {
	n, err := d.applyRead(op.name, op.buf, op.offset)
	d.traceOp("read", op.name, op.offset, len(op.buf), err)
	if op.via == nil {
		op.doneRead(n, err)
		return
	}
	op.via.run(IOCompletion{Op: IORead, Name: op.name, Offset: op.offset, Size: n, Err: err},
		func() { op.doneRead(n, err) })
}

func (d *Disk) completeWrite(op *pendingOp) {
	w := &op.write
	if err := d.writeRefused(op.name, op.offset, w.data); err != nil {
		if f := d.file(op.name); f != nil {
			d.keptWritten(f, w.id, false)
		}
		d.traceOp("write", op.name, op.offset, len(w.data), err)
		d.deliver(op, IOCompletion{Op: IOWrite, Name: op.name, Offset: op.offset, Size: len(w.data), Err: err})
		return
	}
	if d.loseWrite(w.id, op.name, op.offset, len(w.data)) {
		d.traceOp("write", op.name, op.offset, len(w.data), nil)
		d.deliver(op, IOCompletion{Op: IOWrite, Name: op.name, Offset: op.offset, Size: len(w.data)})
		return
	}
	err := d.applyWrite(w.id, op.name, w.data, op.offset)
	d.traceOp("write", op.name, op.offset, len(w.data), err)
	d.deliver(op, IOCompletion{Op: IOWrite, Name: op.name, Offset: op.offset, Size: len(w.data), Err: err})
}

func (d *Disk) completeSync(op *pendingOp) {
	d.stats.Syncs++
	err := storage.ErrNotExist
	if f := d.file(op.name); f != nil {
		err = nil
		if d.syncFails(op.name, f, op.upTo) {
			err = storage.ErrIO
		} else {
			d.promote(f, op.upTo)
			if f.keptStage == keptUnhandled {
				f.keptStage = keptSynced // the engine answers in the sync's callback, or never
				defer d.keptAnswered(f)
			}
		}
	}
	d.traceOp("sync", op.name, 0, noSpan, err)
	d.deliver(op, IOCompletion{Op: IOSync, Name: op.name, Err: err})
}

// deliver hands a completion with an error result to its caller, through the node's
// guarded FS if it came from one.
func (d *Disk) deliver(op *pendingOp, io IOCompletion) {
	if op.via == nil {
		op.done(io.Err)
		return
	}
	err := io.Err // captured alone: a closure holding all of io copied it (a store-forwarding stall)
	op.via.run(io, func() { op.done(err) })
}

// Truncate sets the file's size at completion; durable at once.
func (d *Disk) Truncate(name string, size int64, done func(err error)) {
	assert.That(done != nil, "disk: nil callback")
	assert.That(size >= 0, "disk: negative truncate size")
	d.complete(d.latency(d.opts.ReadLatencyMin, d.opts.ReadLatencyMean), func() {
		err := d.truncateFails(name)
		if err == nil {
			err = d.applyTruncate(name, size)
		}
		d.trace.Emit(LevelFull, d.node, "disk", "truncate "+name+" "+strconv.FormatInt(size, 10)+" "+errName(err))
		done(err)
	})
}

// Remove deletes the file and frees its space at completion; durable at once.
func (d *Disk) Remove(name string, done func(err error)) {
	assert.That(done != nil, "disk: nil callback")
	d.complete(d.latency(d.opts.ReadLatencyMin, d.opts.ReadLatencyMean), func() {
		d.stats.Removes++
		if err := d.removeFails(name); err != nil {
			d.traceOp("remove", name, 0, noSpan, err)
			done(err)
			return
		}
		err := storage.ErrNotExist
		if f := d.files[name]; f != nil {
			d.used -= roundUp(int64(len(f.data)))
			if len(f.faults) > 0 || len(f.lost) > 0 {
				d.noteRemovedDamaged(name)
			}
			delete(d.files, name)
			d.lastFile, d.viewFile = nil, nil
			i, found := slices.BinarySearch(d.sorted, name)
			assert.That(found, "disk: a removed file missing from the sorted names")
			d.sorted = slices.Delete(d.sorted, i, i+1)
			d.sortedFiles = slices.Delete(d.sortedFiles, i, i+1)
			if !f.shared {
				d.keepSpare(f.data)
			}
			err = nil
		}
		d.traceOp("remove", name, 0, noSpan, err)
		done(err)
	})
}

// List returns the sorted names of the files present at completion.
func (d *Disk) List(done func(names []string, err error)) {
	assert.That(done != nil, "disk: nil callback")
	d.complete(d.latency(d.opts.ReadLatencyMin, d.opts.ReadLatencyMean), func() {
		d.stats.Lists++
		names := d.names()
		d.trace.Emit(LevelFull, d.node, "disk", "list "+strconv.Itoa(len(names)))
		done(names, nil)
	})
}

// Size returns the file's current size, volatile writes included.
func (d *Disk) Size(name string) (int64, error) {
	d.assertLive()
	f := d.file(name)
	if f == nil {
		return 0, storage.ErrNotExist
	}
	return int64(len(f.data)), nil
}

// Usage answers from metadata, synchronously.
func (d *Disk) Usage() storage.Usage {
	d.assertLive()
	return storage.Usage{Used: d.used, Capacity: d.capacity}
}

// pendingOp is a scheduled completion, issued under generation: run, or for the hot
// operations (reads, writes and syncs: kind) their fields, which spare a closure per
// operation. via is the node's guarded FS an operation came through, if any: the disk
// hands the completion to it rather than the FS wrapping every callback.
type pendingOp struct {
	generation uint64
	due        Time // when it completes (InFlightUntil)
	run        func()

	kind     IOOp
	name     string
	offset   int64
	buf      []byte        // a read's
	write    inflightWrite // a write's
	upTo     uint64        // a sync's
	done     func(error)
	doneRead func(int, error)
	via      *guardedFS
}

// complete schedules run as the completion of an operation, latency from now. The
// completion is dropped if the disk crashed since, and held while the disk is paused.
func (d *Disk) complete(latency Duration, run func()) {
	d.pend(latency).run = run
}

// schedule schedules op's completion latency from now.
func (d *Disk) schedule(latency Duration, op pendingOp) {
	op.due = d.loop.Now() + Time(latency)
	*d.pend(latency) = op
}

// pend schedules a completion latency from now and returns its pendingOp, zero but for the
// generation, for the caller to fill in at once: a pendingOp built apart and passed to
// schedule was copied into the table, and the copy stalled on the stores that had just made
// it (every read, write and sync).
func (d *Disk) pend(latency Duration) *pendingOp {
	assert.That(latency >= 0, "disk: negative latency")
	d.assertLive()
	slot, op := d.pending.add()
	if d.fireFn == nil {
		d.fireFn = d.fire
	}
	op.due = d.loop.Now() + Time(latency)
	d.loop.AtCall(op.due, d.fireFn, uint64(slot))
	op.generation = d.generation
	return op
}

// fire is the event of the completion in slot.
func (d *Disk) fire(slot uint64) {
	op := d.pending.take(uint32(slot))
	if op.generation != d.generation {
		return
	}
	if d.paused {
		d.held = append(d.held, op)
		return
	}
	switch {
	case op.run != nil:
		op.run()
	case op.kind == IOWrite:
		d.completeWrite(&op)
	case op.kind == IOSync:
		d.completeSync(&op)
	default:
		d.completeRead(&op)
	}
}

// latency draws one operation's latency, stretched in slow mode.
func (d *Disk) latency(min, mean Duration) Duration {
	l := ExpDuration(d.rng, min, mean)
	if d.slow > 1 {
		l *= Duration(d.slow)
	}
	assert.That(l >= 0, "disk: negative latency")
	return l
}

// applyRead is the completion of a read: maybe inject a read fault, then copy pristine
// bytes with the overlays applied (or fail on a latent sector error).
func (d *Disk) applyRead(name string, buf []byte, offset int64) (int, error) {
	d.stats.Reads++
	f := d.file(name)
	if f == nil {
		return 0, storage.ErrNotExist
	}
	size := int64(len(f.data))
	if offset >= size || len(buf) == 0 {
		return 0, nil
	}
	n := min(int64(len(buf)), size-offset)
	if d.faultsEnabled {
		d.injectReadFaults(name, f, offset, n)
		if f.latentIn(offset, n) {
			d.stats.ReadErrors++
			return 0, storage.ErrIO
		}
	}
	copy(buf, f.data[offset:offset+n])
	if d.faultsEnabled {
		f.applyOverlays(buf[:n], offset)
	}
	return int(n), nil
}

// applyWrite is the completion of write id: check space, update the pristine bytes, record
// the write as volatile, and maybe misdirect or corrupt it.
func (d *Disk) applyWrite(id uint64, name string, data []byte, offset int64) error {
	d.stats.Writes++
	f := d.file(name)
	if f == nil {
		return storage.ErrNotExist
	}
	if len(data) == 0 {
		return nil
	}
	end := offset + int64(len(data))
	if !d.fits(int64(len(f.data)), end) {
		d.stats.NoSpace++
		return storage.ErrNoSpace
	}
	f.own()
	first, count := sectorSpan(offset, int64(len(data)))
	target := d.misdirectTarget(name, first, count, max(end, int64(len(f.data))))
	before := f.sectorsBefore(first, count)
	d.resizeFor(f, max(end, int64(len(f.data))), offset)
	copy(f.data[offset:], data)
	f.markLost(first, count, nil)
	d.keptWritten(f, id, true)
	d.writeSeq++
	images := f.writtenImages(d.imageSlice(count), first, offset, data)
	under := f.displace(first, count)
	// The write joins the volatile ones first and is filled in place (misdirect and
	// corruptWrite read it alone): a composite literal, on the stack or appended, was
	// built apart and copied, and each copy stalled (wide loads of what had just been
	// stored narrow).
	f.volatile = append(f.volatile, volatileWrite{})
	w := &f.volatile[len(f.volatile)-1]
	w.seq, w.id, w.first = d.writeSeq, id, first
	w.images, w.before, w.under = images, before, under
	if target >= 0 {
		w.faults = d.misdirect(name, f, w, target, sectorsOf(before, count))
	} else {
		w.faults = d.corruptWrite(name, f, w)
	}
	d.touch(f)
	return nil
}

// applyTruncate is the completion of a truncate. Shrinking also cuts the volatile writes and
// the overlays past the new end, so that a crash cannot bring back bytes the truncate
// removed.
func (d *Disk) applyTruncate(name string, size int64) error {
	d.stats.Truncates++
	f := d.files[name]
	if f == nil {
		return storage.ErrNotExist
	}
	if !d.fits(int64(len(f.data)), size) {
		d.stats.NoSpace++
		return storage.ErrNoSpace
	}
	if size < int64(len(f.data)) {
		f.cut(size)
	}
	f.own()
	d.resize(f, size)
	f.durableLen = size
	d.touch(f)
	assert.That(int64(len(f.data)) == f.durableLen, "disk: truncate left durable and data sizes apart")
	return nil
}

// file returns the named file, nil if there is none.
func (d *Disk) file(name string) *diskFile {
	d.assertLive()
	if d.lastFile != nil && name == d.lastName {
		return d.lastFile
	}
	f := d.files[name]
	if f != nil {
		d.lastName, d.lastFile = name, f
	}
	return f
}

// peek is file for the checkers' reads of the disk (DurableView and the like): it takes the
// completions' cached lookup if it is the file, else its own, so that neither evicts the
// other's.
func (d *Disk) peek(name string) *diskFile {
	d.assertLive()
	if d.lastFile != nil && name == d.lastName {
		return d.lastFile
	}
	if d.viewFile != nil && name == d.viewName {
		return d.viewFile
	}
	f := d.files[name]
	if f != nil {
		d.viewName, d.viewFile = name, f
	}
	return f
}

// fits reports whether growing a file from oldSize to newSize stays within the capacity.
func (d *Disk) fits(oldSize, newSize int64) bool {
	growth := roundUp(newSize) - roundUp(oldSize)
	return growth <= 0 || d.used+growth <= d.capacity
}

// resize sets the file's pristine size, zero-extending, and accounts for the space.
func (d *Disk) resize(f *diskFile, size int64) { d.resizeFor(f, size, size) }

// resizeFor is resize for a write that overwrites the bytes from written to size at once:
// those are left uncleared (see grow).
func (d *Disk) resizeFor(f *diskFile, size, written int64) {
	d.used += roundUp(size) - roundUp(int64(len(f.data)))
	f.data = d.grow(f.data, size, f.reserve(size), written)
	if f.family != nil && size > *f.family {
		*f.family = size
	}
	assert.That(d.used >= 0, "disk: negative usage")
}

// familyOf returns the largest size of name's family (Disk.families), the family made if new.
func (d *Disk) familyOf(name string) *int64 {
	family := strings.TrimRight(name, "0123456789abcdef")
	size := d.families[family]
	if size == nil {
		if d.families == nil {
			d.families = map[string]*int64{}
		}
		size = new(int64)
		d.families[family] = size
	}
	return size
}

// names returns the file names, sorted (a copy of Disk.sorted): the only order in which the
// disk ever walks its files, so that map order never reaches a decision or the trace.
func (d *Disk) names() []string {
	d.assertLive()
	return slices.Clone(d.sorted)
}

// traceOp records a completed operation at LevelFull: "verb name[ offset+length] result".
// It runs for every operation whatever the level: the record's fields are hashed as words
// (Trace.EmitSum), and its text is built only when the trace is read.
func (d *Disk) traceOp(verb, name string, offset int64, length int, err error) {
	sum := Fold(0, KindHash(verb))
	sum = Fold(sum, xxh3.HashString(name))
	sum = Fold(sum, uint64(offset))
	sum = Fold(sum, uint64(int64(length)))
	sum = Fold(sum, KindHash(errName(err)))
	if !d.trace.Recorded(LevelFull) {
		d.trace.EmitSum(LevelFull, d.node, "disk", diskKind, sum, nil, "")
		return
	}
	b := append(d.text[:0], verb...)
	b = append(b, ' ')
	b = append(b, name...)
	if length >= 0 {
		b = append(b, ' ')
		b = strconv.AppendInt(b, offset, 10)
		b = append(b, '+')
		b = strconv.AppendInt(b, int64(length), 10)
	}
	b = append(b, ' ')
	b = append(b, errName(err)...)
	d.text = b
	d.trace.EmitSum(LevelFull, d.node, "disk", diskKind, sum, b, "")
}

var diskKind = KindHash("disk")

// noSpan is traceOp's length for operations without a byte range.
const noSpan = -1

func errName(err error) string {
	switch err {
	case nil:
		return "ok"
	case storage.ErrNotExist:
		return "not_exist"
	case storage.ErrExist:
		return "exist"
	case storage.ErrNoSpace:
		return "no_space"
	case storage.ErrIO:
		return "io_error"
	}
	return err.Error()
}

func span(offset int64, length int) string {
	return strconv.FormatInt(offset, 10) + "+" + strconv.Itoa(length)
}

// promote makes durable the volatile writes with seq <= upTo: a prefix, since volatile
// writes are kept in completion order. Nothing is copied: the durable image's bytes under
// the writes that stay volatile are what each found there (before), and under those made
// durable the file's own bytes (see diskFile); only the image's length grows.
func (d *Disk) promote(f *diskFile, upTo uint64) {
	d.touch(f)
	n := 0
	for n < len(f.volatile) && f.volatile[n].seq <= upTo {
		f.durableLen = imagesEnd(f.durableLen, f.volatile[n], nil)
		n++
	}
	for _, w := range f.volatile[n:] {
		assert.That(w.seq > upTo, "disk: volatile writes out of completion order")
	}
	// Shifted down in place (the array is the file's own: Snapshot clones it), so that the
	// next write appends without allocating.
	rest := copy(f.volatile, f.volatile[n:])
	clear(f.volatile[rest:])
	f.volatile = f.volatile[:rest]
	assert.That(f.durableLen <= int64(len(f.data)), "disk: durable image larger than the file")
}

// cut drops everything at or past size from the volatile writes and overlays. The sector
// holding size is cut too: the truncate rewrote it, durably. A misdirected sector whose
// intended place is cut away keeps its landing, for good: the write can no longer be lost
// in part, so the overlay it left elsewhere becomes a fault of its own (disown).
func (f *diskFile) cut(size int64) {
	boundary := size / storage.SectorSize
	for s := range f.faults {
		if s >= boundary {
			delete(f.faults, s)
		}
	}
	for s := range f.lost {
		if s >= boundary {
			delete(f.lost, s)
		}
	}
	for s := range f.remnants {
		if s >= boundary {
			delete(f.remnants, s)
		}
	}
	for s := range f.kept {
		if s >= boundary {
			delete(f.kept, s)
			delete(f.excused, s)
		}
	}
	for i := range f.volatile {
		w := &f.volatile[i]
		var images [][]byte
		for j, img := range w.images {
			start := (w.first + int64(j)) * storage.SectorSize
			if start >= size {
				break
			}
			images = append(images, img[:min(int64(len(img)), size-start)])
		}
		w.images = images
		w.before = w.before[:min(int64(len(w.before)), max(size-w.first*storage.SectorSize, 0))]
		if w.under != nil {
			w.under = w.under[:len(images)]
			for j := range w.under {
				if w.first+int64(j) >= boundary {
					w.under[j] = sectorFault{}
				}
			}
		}
		var landed []int64
		w.faults = slices.DeleteFunc(w.faults, func(p placedFault) bool {
			if p.sector < boundary && p.index >= len(images) {
				landed = append(landed, p.sector)
			}
			return p.sector >= boundary || p.index >= len(images)
		})
		for _, s := range landed {
			f.disown(w.seq, s)
		}
	}
}

// markLost records, for count sectors from first, whether their last write was lost: those
// that survive is false for (all of them if survive is nil) are not. The sectors a torn
// write kept (survive true beside a false) become remnants; a sector written whole is none,
// nor a write a failed sync kept any more.
func (f *diskFile) markLost(first, count int64, survive []bool) {
	torn := survive != nil && slices.Contains(survive, true) && slices.Contains(survive, false)
	for i := int64(0); i < count; i++ {
		s := first + i
		switch {
		case survive != nil && !survive[i]:
			if f.lost == nil {
				f.lost = map[int64]bool{}
			}
			f.lost[s] = true
			f.damagedEver = true
			continue // it shows what lay there before, a remnant or not
		case len(f.lost) > 0:
			delete(f.lost, s)
		}
		switch {
		case torn:
			if f.remnants == nil {
				f.remnants = map[int64]bool{}
			}
			f.remnants[s] = true
			f.damagedEver = true
		case len(f.remnants) > 0:
			delete(f.remnants, s)
		}
		if len(f.kept) > 0 {
			delete(f.kept, s) // written over (failSync marks its kept writes after this)
			delete(f.excused, s)
		}
	}
}

// displace removes the overlays of count sectors from first (a write rewrote them) and
// returns them, one per sector (kind "" for none), or nil if there were none.
func (f *diskFile) displace(first, count int64) []sectorFault {
	if len(f.faults) == 0 {
		return nil
	}
	var under []sectorFault
	for s := first; s < first+count; s++ {
		if fault, ok := f.faults[s]; ok {
			if under == nil {
				under = make([]sectorFault, count)
			}
			under[s-first] = fault
			delete(f.faults, s)
		}
	}
	return under
}

// disown makes the overlay that write seq landed on sector s a fault of its own (owner 0),
// wherever it is kept: on the sector, or displaced under a later write.
func (f *diskFile) disown(seq uint64, s int64) {
	mine := func(fault *sectorFault) {
		if fault.owner == seq && fault.kind == FaultMisdirectedHere {
			fault.owner = 0
		}
	}
	if fault, ok := f.faults[s]; ok {
		mine(&fault)
		f.faults[s] = fault
	}
	for i := range f.volatile {
		w := &f.volatile[i]
		if j := s - w.first; w.under != nil && j >= 0 && j < int64(len(w.under)) {
			mine(&w.under[j])
		}
		for k := range w.faults {
			if w.faults[k].sector == s {
				mine(&w.faults[k].under)
			}
		}
	}
}

// sectorsBefore returns a copy of the bytes of count sectors from first as the file holds
// them, clipped to its end: nil for sectors wholly past it (a write at the end of the file
// copies nothing) or holding only zeros (a record sector of a fresh segment: most writes
// into a file). Either way the bytes past before's end held zeros, which is all its readers
// (beforeSector, undo) take from it. It is never mutated.
func (f *diskFile) sectorsBefore(first, count int64) []byte {
	size := int64(len(f.data))
	start := first * storage.SectorSize
	if start >= size {
		return nil
	}
	b := f.data[start:min((first+count)*storage.SectorSize, size)]
	if storage.AllZero(b) {
		return nil
	}
	return bytes.Clone(b)
}

// sectorsOf cuts before (sectorsBefore) into the bytes of each of its count sectors, each
// clipped to the file's end as it was (empty past it).
func sectorsOf(before []byte, count int64) [][]byte {
	out := make([][]byte, count)
	for i := range out {
		out[i] = beforeSector(before, int64(i))
	}
	return out
}

// beforeSector is the piece of before (sectorsBefore) that sector index i of the write held.
func beforeSector(before []byte, i int64) []byte {
	lo := min(i*storage.SectorSize, int64(len(before)))
	hi := min(lo+storage.SectorSize, int64(len(before)))
	return before[lo:hi:hi]
}

// writtenImages fills out with the post-write images of len(out) sectors from first, after
// data was written at offset, and returns it: the sectors data covers whole are pieces of
// data itself (read-only, storage.FS: no copy of a large write), the
// others copies of the file's bytes, clipped to its end.
func (f *diskFile) writtenImages(out [][]byte, first, offset int64, data []byte) [][]byte {
	end := offset + int64(len(data))
	for i := range out {
		start := (first + int64(i)) * storage.SectorSize
		if start >= offset && start+storage.SectorSize <= end {
			lo := start - offset
			out[i] = data[lo : lo+storage.SectorSize : lo+storage.SectorSize]
			continue
		}
		out[i] = bytes.Clone(f.sectorBytes(first + int64(i)))
	}
	return out
}

// imageSlabSize is how many image slots imageSlice carves from one allocation.
const imageSlabSize = 256

// imageSlice returns room for the images of a write of count sectors (writtenImages): a
// piece of a slab shared with the writes before and after it, one allocation per
// imageSlabSize sectors instead of one per write. No piece is ever appended to or written
// after writtenImages fills it (a truncate's cut builds a new slice).
func (d *Disk) imageSlice(count int64) [][]byte {
	if int64(len(d.imageSlab)) < count {
		d.imageSlab = make([][]byte, max(count, imageSlabSize))
	}
	out := d.imageSlab[:count:count]
	d.imageSlab = d.imageSlab[count:]
	return out
}

// sectorBytes returns the pristine bytes of sector s inside the file (maybe short or empty).
func (f *diskFile) sectorBytes(s int64) []byte {
	start := s * storage.SectorSize
	size := int64(len(f.data))
	if start >= size {
		return nil
	}
	return f.data[start:min(start+storage.SectorSize, size)]
}

// applyImages writes the images of w whose sector survives (all if survive is nil) into
// image, an owned image (resizeOwned), extending it (once) as needed, and returns it.
func applyImages(image []byte, w volatileWrite, survive []bool) []byte {
	image = resizeOwned(image, imagesEnd(int64(len(image)), w, survive))
	copyImages(image, w, survive)
	return image
}

// imagesEnd is the size an image of size bytes must have to take the images of w whose
// sector survives.
func imagesEnd(size int64, w volatileWrite, survive []bool) int64 {
	end := size
	for i, img := range w.images {
		if survive == nil || survive[i] {
			end = max(end, (w.first+int64(i))*storage.SectorSize+int64(len(img)))
		}
	}
	return end
}

// durableBytes returns the durable image's bytes from offset to end (at most durableLen): a
// piece of data itself when no volatile write touched them and fresh is false (the caller
// must neither modify nor keep it), else a copy with the writes undone.
func (f *diskFile) durableBytes(offset, end int64, fresh bool) []byte {
	assert.That(0 <= offset && offset <= end && end <= f.durableLen, "disk: durable bytes outside the image")
	if !fresh && !f.volatileIn(offset, end) {
		return f.data[offset:end:end]
	}
	buf := make([]byte, end-offset)
	copy(buf, f.data[offset:end])
	f.undo(buf, offset)
	return buf
}

// volatileIn reports whether a volatile write touched a sector of the bytes offset to end.
func (f *diskFile) volatileIn(offset, end int64) bool {
	for _, w := range f.volatile {
		if w.first*storage.SectorSize < end && (w.first+int64(len(w.images)))*storage.SectorSize > offset {
			return true
		}
	}
	return false
}

// undo turns buf, data's bytes from offset, into the durable image's: each volatile write's
// sectors get back what the write found there (zero-extended to the sector), newest write
// first, so that a sector ends as its first volatile write found it.
func (f *diskFile) undo(buf []byte, offset int64) {
	end := offset + int64(len(buf))
	for k := len(f.volatile) - 1; k >= 0; k-- {
		w := f.volatile[k]
		for i := range int64(len(w.images)) {
			start := (w.first + i) * storage.SectorSize
			lo, hi := max(start, offset), min(start+storage.SectorSize, end)
			if lo >= hi {
				continue
			}
			held := beforeSector(w.before, i)
			piece := buf[lo-offset : hi-offset]
			n := 0
			if lo-start < int64(len(held)) {
				n = copy(piece, held[lo-start:])
			}
			clear(piece[n:])
		}
	}
}

// copyImages writes the images of w whose sector survives into image, already large enough.
func copyImages(image []byte, w volatileWrite, survive []bool) {
	for i, img := range w.images {
		if survive == nil || survive[i] {
			copy(image[(w.first+int64(i))*storage.SectorSize:], img)
		}
	}
}

// spareMax bounds the arrays a disk keeps for reuse.
const spareMax = 8

// keepSpare keeps the array of a removed file's image (nothing else references it, see
// resizeOwned) for a later grow, in place of the smallest kept one if there are spareMax.
func (d *Disk) keepSpare(b []byte) {
	if cap(b) == 0 {
		return
	}
	if len(d.spare) < spareMax {
		d.spare = append(d.spare, b[:0])
		return
	}
	smallest := 0
	for i, s := range d.spare {
		if cap(s) < cap(d.spare[smallest]) {
			smallest = i
		}
	}
	if cap(b) > cap(d.spare[smallest]) {
		d.spare[smallest] = b[:0]
	}
}

// grow is resizeOwned that, when the array must grow, first takes the smallest spare array
// of at least size and reserve bytes, then the pool's smallest (DiskPool), and else reserves
// at least reserve bytes (the bytes are the same either way: only allocation changes). The
// caller overwrites the bytes from written to size at once, so only those from len(b) to
// written are cleared when the array has room.
func (d *Disk) grow(b []byte, size, reserve, written int64) []byte {
	if size <= int64(cap(b)) {
		if size > int64(len(b)) {
			grown := b[:size]
			clear(grown[len(b):max(int64(len(b)), min(written, size))])
			return grown
		}
		return b[:size]
	}
	best, want := -1, max(size, reserve)
	for i, s := range d.spare {
		if int64(cap(s)) >= want && (best < 0 || cap(s) < cap(d.spare[best])) {
			best = i
		}
	}
	var grown []byte
	if best >= 0 {
		grown = d.spare[best][:size]
		d.spare[best] = d.spare[len(d.spare)-1]
		d.spare = d.spare[:len(d.spare)-1]
	} else if pooled := d.pool.take(max(want, 2*int64(cap(b)))); pooled != nil {
		// At least double, as resizeReserving does: a file growing by appends copies
		// itself O(1) times per byte.
		grown = pooled[:size]
	} else {
		return resizeReserving(b, size, reserve)
	}
	copy(grown, b)
	clear(grown[len(b):max(int64(len(b)), min(written, size))])
	d.keepSpare(b)
	return grown
}

// resizeOwned is resizeBytes for an image whose array nothing else keeps (a file's data:
// every piece handed out is a copy, or a DurableView not kept past its event). It cuts without
// giving up the capacity, and grows in place when the capacity allows (clearing what a cut
// left behind) or by doubling: a file written at its end costs amortised O(1) per byte
// instead of a copy of the whole file per write (a third of the performance scenario's
// wall time before).
func resizeOwned(b []byte, size int64) []byte { return resizeReserving(b, size, 0) }

// resizeReserving is resizeOwned whose new array, if it needs one, has at least reserve
// bytes.
func resizeReserving(b []byte, size, reserve int64) []byte {
	switch {
	case size <= int64(len(b)):
		return b[:size]
	case size <= int64(cap(b)):
		grown := b[:size]
		clear(grown[len(b):])
		return grown
	}
	// append of a make copies b and clears only the new part (make and copy would clear
	// the whole array first); the capacity at least doubles, and is a power of two: a file
	// slightly larger than the one before it (each checkpoint file, each segment's first
	// entries) then fits in the array the other left behind (Disk.grow's spares) instead of
	// allocating and clearing a new one.
	capacity := int64(1) << bits.Len64(uint64(max(size, 2*int64(cap(b)))-1))
	if reserve > capacity {
		capacity = roundUp(reserve)
	}
	grown := append(b[:len(b):len(b)], make([]byte, capacity-int64(len(b)))...)
	return grown[:size]
}

// resizeBytes returns b cut or zero-extended to size, never sharing b's array past its
// length (for pieces of images that other slices may share).
func resizeBytes(b []byte, size int64) []byte {
	if size <= int64(len(b)) {
		return b[:size:size]
	}
	grown := make([]byte, size)
	copy(grown, b)
	return grown
}

// sectorSpan returns the first sector and the number of sectors of a non-empty byte range.
func sectorSpan(offset, length int64) (first, count int64) {
	assert.That(length > 0, "disk: empty sector span")
	first = offset / storage.SectorSize
	last := (offset + length - 1) / storage.SectorSize
	return first, last - first + 1
}

// roundUp rounds a size up to a whole number of sectors.
func roundUp(n int64) int64 {
	return (n + storage.SectorSize - 1) / storage.SectorSize * storage.SectorSize
}
