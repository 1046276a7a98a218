package storage

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"vopr/cluster/checksum"
	"vopr/internal/assert"
)

// Errors of the engine. Operating errors, never assertion failures: the replica handles them.
var (
	ErrNotFormatted = errors.New("storage: not formatted (no superblock)")
	ErrFormatted    = errors.New("storage: already formatted")
	ErrCorrupt      = errors.New("storage: corrupt")
	ErrFaulty       = errors.New("storage: entry is faulty")
	ErrNotFound     = errors.New("storage: op not in the log")
	ErrTooLarge     = errors.New("storage: too large")
	ErrOptions      = errors.New("storage: invalid options")
	ErrBackup       = errors.New("storage: backup refused")
	// ErrNotRewritable: Rewrite found that the entry would not overwrite its own extent in
	// place (see Rewritable); nothing was written.
	ErrNotRewritable = errors.New("storage: entry not rewritable in place")
)

// Options configures the engine. Zero fields take the documented defaults.
type Options struct {
	// FS is the disk. Format, Open and Restore also take it as their first argument; the
	// field may be nil, and if it is set it must be that same FS.
	FS FS
	// SegmentEntriesMax is the number of ops per log segment file: segment k holds ops
	// [k*SegmentEntriesMax, (k+1)*SegmentEntriesMax). 0: SegmentEntriesMaxDefault. It is
	// recorded in the superblock; Open refuses different options.
	SegmentEntriesMax int
	// EntryBodyMax is the largest entry body. 0: EntryBodyMaxLimit. Recorded like the above.
	EntryBodyMax int
	// AutoCompactPercent is the disk usage at which compaction runs by itself (see Append
	// and Checkpoint). 0: AutoCompactPercentDefault.
	AutoCompactPercent int
	// RecordPrefix is how many leading bytes of each entry's body its redundant record keeps
	// (record.go), up to RecordPrefixMax: a caller whose bodies begin with their own
	// self-checking header learns that header for an entry whose body is damaged
	// (Recovery.FaultyPrefix). 0 keeps none.
	RecordPrefix int
	// ReserveBytes is space Append leaves free (it fails with ErrNoSpace rather than eat
	// into it), so that a full log can still write the checkpoint that lets compaction
	// free it. Size it for the largest snapshot plus a sector.
	ReserveBytes int64
	// ReplayOpsMax is the longest log the caller can replay from the format's state: when a
	// checkpoint and the one before it are both lost, Open falls back to op 0 if every op from
	// 1 is still in the log and its head is at most this (recovery.go, replayLostCheckpoint).
	// 0: only a first checkpoint falls back so.
	ReplayOpsMax int
}

func (o Options) normalize(fs FS) (Options, error) {
	if o.FS == nil {
		o.FS = fs
	}
	if o.SegmentEntriesMax == 0 {
		o.SegmentEntriesMax = SegmentEntriesMaxDefault
	}
	if o.EntryBodyMax == 0 {
		o.EntryBodyMax = EntryBodyMaxLimit
	}
	if o.AutoCompactPercent == 0 {
		o.AutoCompactPercent = AutoCompactPercentDefault
	}
	switch {
	case o.FS != fs:
		return o, fmt.Errorf("%w: Options.FS is not the FS given", ErrOptions)
	case o.SegmentEntriesMax < 1 || o.SegmentEntriesMax > SegmentEntriesMaxLimit:
		return o, fmt.Errorf("%w: SegmentEntriesMax %d", ErrOptions, o.SegmentEntriesMax)
	case o.EntryBodyMax < 1 || o.EntryBodyMax > EntryBodyMaxLimit:
		return o, fmt.Errorf("%w: EntryBodyMax %d", ErrOptions, o.EntryBodyMax)
	case o.AutoCompactPercent < 1 || o.AutoCompactPercent > 100:
		return o, fmt.Errorf("%w: AutoCompactPercent %d", ErrOptions, o.AutoCompactPercent)
	case o.RecordPrefix < 0 || o.RecordPrefix > RecordPrefixMax:
		return o, fmt.Errorf("%w: RecordPrefix %d", ErrOptions, o.RecordPrefix)
	case o.ReserveBytes < 0:
		return o, fmt.Errorf("%w: ReserveBytes %d", ErrOptions, o.ReserveBytes)
	}
	return o, nil
}

// Stats counts what the engine did, for metrics.
type Stats struct {
	AutoCompactions uint64 // compactions started by usage >= AutoCompactPercent
	SegmentsRemoved uint64 // by any compaction
	BytesFreed      int64  // by any compaction
	NoSpace         uint64 // appends refused with ErrNoSpace
	Rewrites        uint64 // appends of an op already in the log, written in place
}

// slotState says what the log holds for one op.
type slotState uint8

const (
	// slotAbsent: no entry, legitimately (an op at or below the checkpoint).
	slotAbsent slotState = iota
	// slotIntact: an entry whose checksums, place and chain verified when it was written or
	// recovered.
	slotIntact
	// slotFaulty: an entry that exists (or must exist) but is corrupt, torn, misdirected,
	// unreadable or breaks the chain.
	slotFaulty
)

// slot is the in-memory index of one op of the log.
//
// Invariants: intact => offset < end, end-offset is the entry size, chain is its chain sum;
// faulty and known => offset, chain and parent are the known entry's; faulty, not known and
// a non-zero parent => the entry was read whole and only its link to the op below failed
// (recovery's checkChain), chain and parent are its header's; for other states
// offset is unknown; for every state but intact, end is where the damaged region ends (truncating
// after the op keeps the region, so a later entry never lands inside it).
type slot struct {
	state   slotState
	offset  int64
	end     int64
	chain   checksum.Sum
	parent  checksum.Sum
	bodySHA [32]byte
	audit   [32]byte // the audit head at this op, for ops in (CheckpointOp, auditOp]
	// known: a faulty entry whose identity is known -- its redundant record survived
	// (record.go), or it was intact until a rewrite of it failed: offset, chain and parent
	// are that entry's, so the chain is known across it.
	known bool
	// placed: a faulty entry of unknown identity whose bytes lie whole at [offset, end): an
	// intact entry recovery distrusted. Its extent bounds the damaged region below it, so a
	// cut above the op below lands where this entry starts.
	placed bool
}

// namesParent reports whether the slot holds its entry's parent: intact, known by its record,
// or read whole with a broken link below it. An entry above a lost checkpoint chains to that
// checkpoint's anchor, not to the op below it that the fallback's log replays, so recovery
// finds its link broken although its header is whole: a checkpoint replacing the lost one
// takes that parent as its anchor, so that the entry and every later op can be rewritten in
// place instead of truncated (swarm seed 20261668: the anchor fell back to the new file's
// checksum, and the repair of op 65 cut the durable, committed, acknowledged ops 66..103).
func (sl *slot) namesParent() bool {
	return sl.state == slotIntact || sl.known || (sl.state == slotFaulty && sl.parent != checksum.Sum{})
}

// Storage is the durable state of one replica: superblock, write-ahead log and checkpoint.
// All methods must be called from the event loop's thread. Operations run one at a time in
// the order they were called; each completion is delivered from an FS completion (never
// inside the call), after which the next queued operation starts.
//
// Invariants (checked by invariants()):
//   - sb.State.CheckpointOp <= auditOp <= head;
//   - slots covers exactly the ops [slotBase, head], and slotBase <= CheckpointOp+1;
//   - every op in (CheckpointOp, head] is intact or faulty, never absent;
//   - segments is strictly ascending;
//   - len(queue) <= QueuedMax, and busy whenever an operation is running.
type Storage struct {
	// checkpointLost: the newest checkpoint did not verify at Open; the next Checkpoint
	// replaces it even at the same op.
	checkpointLost bool
	fs             FS
	opts           Options
	sb             superblock
	sbPair         int // the superblock pair holding sb; the next write goes to the other one
	// checkpointPrevious is the checkpoint the other pair's state names (0: none). Its file
	// is kept, so that if the newest pair is lost, the state Open falls back to is whole.
	checkpointPrevious uint64
	// unaudited are the ops a fallback past a damaged checkpoint replays that the damaged
	// checkpoint had not audited (checkpointRef.Audited): Open reports their entries faulty.
	unaudited opSpan
	// fellBack, during Open, undoes a fallback to an older checkpoint or to op 0 until the scan
	// shows the log fits above it (settleCheckpoint).
	fellBack *fallbackUndo

	slotBase  uint64
	head      uint64
	slots     []slot
	segments  []uint64
	auditOp   uint64
	auditHead [32]byte
	// seeded is the last audit seed computed (auditSeedOf).
	seeded auditSeedMemo
	// unrecorded are the intact entries Open recovered without a redundant record, for
	// finishRecords.
	unrecorded []Entry
	// recordedAbove are the ops above the recovered head, in the head's segment, with an
	// intact record: cutUnfinished tombstones them before it cuts their entries.
	recordedAbove []uint64
	// recordedEnds are, for the ops at or below the checkpoint in its segment with an intact
	// record at Open, where the entry the record names ends (op -> end): a cut above the
	// checkpoint keeps those entries (checkpointRegionCut), which a fallback may recover whole.
	recordedEnds map[uint64]int64
	// unmarked are the ops Open holds faulty without a record of their own (absent, or another
	// op's) or a faulty mark, for markFaulty.
	unmarked []uint64
	// strays are the records Open recovered only out of their own place, in op order, for
	// placeStrays.
	strays []strayRecord
	// overMark are the ops whose record sector holds a mark (a tombstone, a distrust or a
	// faulty mark): the next record written there is read back (verifyRecordOverMark).
	overMark map[uint64]bool
	// cutOwed: a truncation failed, and the log may still hold ops above cutOwedAfter, up to
	// cutOwedHead, that its caller gave up; the next superblock write completes the cut first
	// (payCut). Ops the log took since are not owed: a cut that succeeded lowers cutOwedHead,
	// the op above cutOwedAfter written again raises cutOwedAfter (settleCut), and a
	// checkpoint at or above cutOwedHead leaves nothing owed.
	cutOwed      bool
	cutOwedAfter uint64
	cutOwedHead  uint64
	// appendCutOwed: the cut of a failed append (cutFailedAppend) failed, and op
	// appendCutOp's entry may still lie past the head, from appendCutOffset of its segment;
	// the next superblock write completes the cut first (payAppendCut), while the log still
	// ends right below that op there (appendCutStands).
	appendCutOwed   bool
	appendCutOp     uint64
	appendCutOffset int64

	queue    []operation
	busy     bool
	inline   bool
	finishFn func(deliver func()) // s.finish, made once (a method value allocates)
	// freeAppends and freeWrites hold finished appendOps and entryWrites for reuse: each
	// keeps the callbacks it hands out, made once, so that an append allocates none.
	freeAppends freeList[appendOp]
	freeWrites  freeList[entryWrite]
	// spareEntry and spareRecord are the arrays of the last append's entry and of the last
	// entry write's record, for the next to encode into: an entry write ends only after the
	// Sync that followed each write completed, when the FS no longer keeps them (FS.WriteAt),
	// and operations run one at a time, so nothing else refers to them. Nil while taken.
	spareEntry  []byte
	spareRecord []byte
	scanBufs    scanBuffers
	sums        *checksum.SHA256Memo // the FS's (Summer), nil if it has none
	audits      *checksum.SHA256Memo // the FS's (Summer), nil if it has none
	sha         checksum.SHA256      // the bodies' and audit chain's sums
	auditIn     auditInput           // auditNext's input, laid out here
	// freeAppendWrites holds finished appendWrites (appendWrite's state) for reuse.
	freeAppendWrites freeList[appendWriting]
	stats            Stats
	// lastSegment caches the name of the segment appends go to (segmentFile).
	lastSegment struct {
		k    uint64
		name string
	}
}

// operation is a queued call: it runs, then calls finish with the function that delivers the
// caller's completion.
type operation func(finish func(deliver func()))

// State returns the newest durable state.
func (s *Storage) State() State { return s.sb.State }

// Head returns the highest op in the log (CheckpointOp if the log is empty).
func (s *Storage) Head() uint64 { return s.head }

// Stats returns the counters.
func (s *Storage) Stats() Stats { return s.stats }

// Usage returns the disk's usage.
func (s *Storage) Usage() Usage { return s.fs.Usage() }

// UsagePercent returns the disk usage in whole percent.
func (s *Storage) UsagePercent() int { return s.fs.Usage().Percent() }

// AuditHead returns the highest audited (committed) op and the audit chain head there.
func (s *Storage) AuditHead() (uint64, [32]byte) { return s.auditOp, s.auditHead }

// Faulty returns the ops above the checkpoint whose entries are faulty, ascending.
func (s *Storage) Faulty() []uint64 {
	var ops []uint64
	for op := s.sb.State.CheckpointOp + 1; op <= s.head; op++ {
		if s.slot(op).state == slotFaulty {
			ops = append(ops, op)
		}
	}
	return ops
}

// slot returns the index entry of op, or nil outside [slotBase, head].
func (s *Storage) slot(op uint64) *slot {
	if op < s.slotBase || op > s.head {
		return nil
	}
	return &s.slots[op-s.slotBase]
}

func (s *Storage) segmentOf(op uint64) uint64 { return op / uint64(s.opts.SegmentEntriesMax) }

// segmentLast returns the highest op segment k may hold.
func (s *Storage) segmentLast(k uint64) uint64 { return (k+1)*uint64(s.opts.SegmentEntriesMax) - 1 }

func (s *Storage) invariants() {
	cp := s.sb.State.CheckpointOp
	assert.That(cp <= s.auditOp, "storage: audit below the checkpoint")
	assert.That(s.auditOp <= s.head, "storage: audit above the head")
	assert.That(s.slotBase <= cp+1, "storage: log index starts above the checkpoint")
	assert.That(uint64(len(s.slots)) == s.head+1-s.slotBase, "storage: log index length")
	above := s.slots[cp+1-s.slotBase:] // ops cp+1..head (the length is checked above)
	for i := range above {
		assert.That(above[i].state != slotAbsent, "storage: an op above the checkpoint is absent")
	}
	for i := 1; i < len(s.segments); i++ {
		assert.That(s.segments[i-1] < s.segments[i], "storage: segments not ascending")
	}
	assert.That(len(s.queue) <= QueuedMax, "storage: queue beyond QueuedMax")
}

// submit queues an operation and starts it if nothing is running.
func (s *Storage) submit(op operation) {
	assert.That(op != nil, "storage: nil operation")
	assert.That(len(s.queue) < QueuedMax, "storage: more than QueuedMax queued operations")
	s.queue = append(s.queue, op)
	if !s.busy {
		s.startNext()
	}
}

func (s *Storage) startNext() {
	assert.That(!s.busy, "storage: starting an operation while one runs")
	assert.That(len(s.queue) > 0, "storage: starting from an empty queue")
	// Shifted down rather than resliced: the queue keeps its array (reslicing from the front
	// used it up, so nearly every submit allocated a new one).
	op := s.queue[0]
	n := copy(s.queue, s.queue[1:])
	s.queue[n] = nil
	s.queue = s.queue[:n]
	s.busy, s.inline = true, true
	if s.finishFn == nil {
		s.finishFn = s.finish
	}
	op(s.finishFn)
	s.inline = false
}

// finish ends the running operation. An operation that completed without any I/O (inline)
// is delivered after a round trip through the FS, so that no completion ever runs inside
// the call that issued it.
func (s *Storage) finish(deliver func()) {
	assert.That(s.busy, "storage: finishing with nothing running")
	if s.inline {
		later(s.fs, func() { s.finishNow(deliver) })
		return
	}
	s.finishNow(deliver)
}

func (s *Storage) finishNow(deliver func()) {
	assert.That(s.busy, "storage: delivering with nothing running")
	s.invariants()
	s.busy = false
	deliver()
	if !s.busy && len(s.queue) > 0 {
		s.startNext()
	}
}

// later runs fn from an FS completion: the engine's only way to defer without I/O of its own.
func later(fs FS, fn func()) {
	fs.List(func([]string, error) { fn() })
}

// step is one asynchronous stage of a sequence; it calls next exactly once.
type step func(next func(error))

// sequence runs steps in order and stops at the first error. Steps issue I/O, so the stack
// unwinds between them.
func sequence(done func(error), steps ...step) {
	l := &loop{n: len(steps), steps: steps, done: done}
	l.next = l.advance
	l.advance(nil)
}

// forEach runs body for 0..n-1 in order and stops at the first error.
func forEach(n int, body func(i int, next func(error)), done func(error)) {
	assert.That(n >= 0, "storage: negative loop count")
	l := &loop{n: n, body: body, done: done}
	l.next = l.advance
	l.advance(nil)
}

// loop is forEach's state: one allocation and one callback for the whole loop, rather than
// a closure per iteration (every append runs several).
type loop struct {
	i, n  int
	steps []step                        // sequence's, or
	body  func(i int, next func(error)) // forEach's
	done  func(error)
	next  func(error) // advance, made once
}

// advance is the callback each iteration calls exactly once: stop at an error, else run the
// next iteration (or finish).
func (l *loop) advance(err error) {
	if err != nil {
		l.done(err)
		return
	}
	if l.i == l.n {
		l.done(nil)
		return
	}
	i := l.i
	l.i++
	if l.steps != nil {
		l.steps[i](l.next)
		return
	}
	l.body(i, l.next)
}

func segmentName(k uint64) string     { return numberedName(segmentPrefix, k) }
func checkpointName(op uint64) string { return numberedName(checkpointPrefix, op) }

// segmentFile is segmentName, made once per segment for the appends to it.
func (s *Storage) segmentFile(k uint64) string {
	if s.lastSegment.name == "" || s.lastSegment.k != k {
		s.lastSegment.k, s.lastSegment.name = k, segmentName(k)
	}
	return s.lastSegment.name
}

// numberedName is prefix and n in 16 hex digits (fmt's %016x, without fmt: names are made
// on every append and every scan).
func numberedName(prefix string, n uint64) string {
	const digits = "0123456789abcdef"
	b := make([]byte, len(prefix)+16)
	copy(b, prefix)
	for i := len(b) - 1; i >= len(prefix); i-- {
		b[i] = digits[n&0xf]
		n >>= 4
	}
	return string(b)
}

// parseName recognises a numbered file of the engine.
func parseName(name, prefix string) (uint64, bool) {
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok || len(rest) != 16 {
		return 0, false
	}
	n, err := strconv.ParseUint(rest, 16, 64)
	return n, err == nil
}

// ownedFiles picks the engine's files out of a listing.
func ownedFiles(names []string) (segments []uint64, checkpoints []uint64, superblock bool) {
	for _, name := range names {
		if k, ok := parseName(name, segmentPrefix); ok && k <= segmentIndexMax {
			segments = append(segments, k)
		} else if op, ok := parseName(name, checkpointPrefix); ok {
			checkpoints = append(checkpoints, op)
		} else if name == superblockName {
			superblock = true
		}
	}
	return segments, checkpoints, superblock
}

// Format writes a fresh replica's superblock on fs: state (with no checkpoint) in all four
// copies. It refuses an FS that already holds any file of the engine.
func Format(fs FS, opts Options, state State, done func(error)) {
	assert.That(fs != nil && done != nil, "storage: Format needs an FS and a callback")
	opts, err := opts.normalize(fs)
	if err == nil && (state.CheckpointOp != 0 || state.AuditHead != [32]byte{}) {
		err = fmt.Errorf("%w: a fresh replica has no checkpoint", ErrOptions)
	}
	if err != nil {
		later(fs, func() { done(err) })
		return
	}
	sb := superblock{Sequence: 1, State: state, SegmentEntriesMax: opts.SegmentEntriesMax,
		EntryBodyMax: opts.EntryBodyMax}
	pair := encodeSuperblockPair(sb)
	sequence(done,
		func(next func(error)) {
			fs.List(func(names []string, err error) {
				segments, checkpoints, superblock := ownedFiles(names)
				if err == nil && (superblock || len(segments) > 0 || len(checkpoints) > 0) {
					err = ErrFormatted
				}
				next(err)
			})
		},
		func(next func(error)) { fs.Create(superblockName, next) },
		func(next func(error)) { fs.WriteAt(superblockName, append(pair, pair...), 0, next) },
		func(next func(error)) { fs.Sync(superblockName, next) },
	)
}
