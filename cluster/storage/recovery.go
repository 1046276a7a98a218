package storage

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"vopr/cluster/checksum"
	"vopr/internal/assert"
)

// Recovery is what Open found on disk.
type Recovery struct {
	// State is the newest intact superblock's state.
	State State
	// Snapshot is the checkpoint's state-machine snapshot, nil if CheckpointOp is 0.
	Snapshot []byte
	// CheckpointDamaged is the op of a newer checkpoint that did not verify, 0 if none. Open
	// then fell back to the previous checkpoint (State.CheckpointOp, the one the other
	// superblock pair names, or op 0 for a first checkpoint whose log is whole:
	// replayableFromFormat) and kept the newest view, log view and commit.
	CheckpointDamaged uint64
	// CheckpointLost reports that the checkpoint the superblock names did not verify and no
	// previous one did either: Snapshot is nil, the state machine at State.CheckpointOp is
	// gone, and the replica must fetch a checkpoint from a peer (state sync) before it can
	// execute. The superblock and the log above the checkpoint are intact and returned.
	CheckpointLost bool
	// Entries are the intact entries with op > CheckpointOp, in op order. There may be gaps:
	// the ops in Faulty.
	Entries []Entry
	// Faulty are the ops in (CheckpointOp, head] whose entry was durably written, or may have
	// been, but is corrupt, misdirected, unreadable or breaks the hash chain now. The replica
	// repairs them from its peers ("seen but corrupt": it must not truncate them away on its
	// own say-so). An entry whose append provably never finished (damaged, at the top of the
	// log, with no redundant record: record.go) is not faulty but absent: it was never
	// acknowledged, and the log ends below it.
	Faulty []uint64
	// FaultyPrefix holds, for the faulty ops whose redundant record survived, the first
	// Options.RecordPrefix bytes of the entry's body as the record keeps them: enough for a
	// caller whose bodies start with a self-checking header to know what the op was.
	FaultyPrefix map[uint64][]byte
	// Rewritten lists the damaged records of intact entries that Open wrote again, and the
	// damaged superblock copies it wrote again to store a state held in one copy twice
	// (storeTwice). The damage is gone from the disk once Open returns, so a full scan after
	// it no longer sees it; `storage verify` reports these with what the scan finds,
	// because damage the engine repaired on its own is still damage an operator must hear
	// about.
	Rewritten []Problem
}

// logIndex is the log as assembled from the scans of its segments.
type logIndex struct {
	base, head     uint64
	segmentEntries uint64
	floor          uint64
	slots          []slot
	segments       []uint64
	problems       []Problem
	bodies         map[uint64][]byte        // intact bodies kept by the scans, by op
	intact         map[uint64][]record      // each op's intact in-place copies
	persist        map[uint64]persistRecord // the redundant records of ops in [base, head]
	dropped        uint64                   // ops above head whose append never finished
}

// assemble turns segment scans into the log index. It is a pure function of the scans and
// the checkpoint: ops with an intact entry are intact; every other op up to the highest op
// the disk shows evidence of is faulty (above the checkpoint) or absent (at or below it);
// then the hash chain is checked from the checkpoint's anchor, and an entry whose parent is
// not its predecessor's chain sum is faulty. Entries below floor are checked (problems) but
// not indexed, and the index never spans more than LogOpsMax ops.
//
// Entries of ops in unaudited are faulty, whatever they hold (see checkpointRef.Audited), and
// so are those under a distrust or faulty mark that an earlier recovery or truncation wrote;
// an op under a faulty mark is in the log even with no entry at all.
//
// The hash chain is checked from linksFrom up (Open: every indexed op; Verify: from the
// checkpoint, see there).
func assemble(scans []segmentScan, cp uint64, anchor checksum.Sum, segmentEntries, floor uint64,
	unaudited opSpan, linksFrom uint64) logIndex {
	assert.That(segmentEntries > 0, "storage: zero segment size")
	assert.That(floor <= cp+1, "storage: index floor above the checkpoint")
	// resumed is where the log runs on from for certain: the checkpoint, or the damaged one a
	// fallback passed. Every op up to it was committed, and the log of the replica's log view
	// holds it whatever this disk still shows: the head reaches it, nothing at or below it is
	// dropped as unfinished, and damage is read from above it, as above a checkpoint a state
	// sync installed (entryEvidence).
	resumed := max(cp, unaudited.upTo)
	ix := logIndex{base: cp + 1, head: cp, segmentEntries: segmentEntries, floor: floor,
		bodies: map[uint64][]byte{}, intact: map[uint64][]record{}}
	for i, sc := range scans {
		ix.segments = append(ix.segments, sc.index)
		if (sc.index+1)*segmentEntries <= floor {
			continue
		}
		for _, r := range sc.records {
			ix.base = min(ix.base, max(r.op, floor))
		}
		for _, r := range sc.misplaced {
			ix.base = min(ix.base, max(r.op, floor))
		}
		ix.head = max(ix.head, evidence(sc, segmentEntries, resumed, i == len(scans)-1))
	}
	ix.head = max(ix.head, resumed)
	ix.head = min(ix.head, ix.base+LogOpsMax-1)
	ix.slots = make([]slot, ix.head+1-ix.base)
	ix.persist = map[uint64]persistRecord{}
	for _, sc := range scans {
		ix.place(sc, cp)
	}
	for op := ix.base; op <= ix.head; op++ {
		if sl := &ix.slots[op-ix.base]; sl.state == slotAbsent && op > cp {
			sl.state = slotFaulty
			ix.problem(Problem{Op: op, Offset: -1, Reason: "missing entry"})
		}
	}
	ix.applyRecords(cp)
	ix.staleBelow(cp)
	ix.distrust(unaudited)
	ix.keepDistrusted(cp)
	ix.checkChain(cp, anchor, linksFrom)
	ix.dropUnfinished(resumed)
	ix.regionEnds(scans, segmentEntries)
	assert.That(ix.base <= cp+1, "storage: assembled log starts above the checkpoint")
	assert.That(uint64(len(ix.slots)) == ix.head+1-ix.base, "storage: assembled log length")
	return ix
}

// evidence returns the highest op the segment shows to exist: the highest of entryEvidence
// and the ops whose record a misdirected write carried among the entries (strayOf: their
// appends finished). A stray does not extend entryEvidence's reading of damage past it: its
// op's own record sector is absent, and a damaged sector above it is as likely its misdirected
// entry's landing as another op's record (sim's TestStorageMisdirectedAppendDetected).
func evidence(sc segmentScan, segmentEntries, cp uint64, last bool) uint64 {
	high := entryEvidence(sc, segmentEntries, cp, last)
	for _, r := range sc.strays {
		if _, ok := sc.strayOf(r.header.Op, segmentEntries); ok {
			high = max(high, r.header.Op)
		}
	}
	return high
}

// entryEvidence returns the highest op the entries and records in place show to exist: its
// highest entry header, or, if damaged bytes follow the last one, the next op (in the last
// segment, where only the entry being appended at a crash can be) or the segment's last op
// (in an earlier segment, which was full before the next one began).
//
// An intact record names its entry's place, so the damaged bytes are read from the end of the
// highest entry that an entry or a record places: appends go in op order, each after the one
// below, so the next op's entry can only start there. Reading them from the end of the highest
// intact entry counted the place of a recorded op's own (misdirected) entry as room for one
// more op, and the misdirect's landing in the next op's record sector as its record: recovery
// invented an op whose identity no replica knew and that nobody could deny, and the cluster
// never finished a view change again (swarm seed 2026260153).
//
// The appends of the segment need not start at its first op: after a state sync installs a
// checkpoint cp ahead of the log, the log resumes at cp+1 in a fresh segment, and the records
// of the ops at and below cp were never written there. Damage is read from above the highest
// intact op or cp, whichever is higher: reading it from the segment's first op stopped at the
// absent record of an op below cp, and the first appends after the sync, entry and record
// both damaged, were dropped as unfinished though they had finished (swarm seed 2026150170:
// committed op 65 after a sync to op 64).
func entryEvidence(sc segmentScan, segmentEntries, cp uint64, last bool) uint64 {
	first := max(sc.index*segmentEntries, 1)
	lastOp := (sc.index+1)*segmentEntries - 1
	high, end := uint64(0), int64(0)
	for _, r := range sc.records {
		high = max(high, r.op)
		end = max(end, r.offset+r.size)
	}
	for _, r := range sc.misplaced {
		if slices.ContainsFunc(sc.records, func(q record) bool { return q.offset == r.intended }) {
			// An intact entry lies where this copy was meant to go: it is that entry (which
			// counts already) or an older write there, whose extent is no evidence (storage
			// crash seed 2039158187: a stale misdirected copy of op 9 claimed the bytes of
			// op 10 above the rewritten op 9, and op 10, its entry and record unreadable,
			// was dropped).
			continue
		}
		high = max(high, r.op)
		if !sc.writtenAbove(r.op, segmentEntries) {
			// The write it was meant to be, as the log's end. Not once an op above was
			// written (its record sector holds a record, whole or damaged): the log went on
			// past it, and an older generation's copy claimed the bytes of the newer ops
			// there (storage crash seed 2052105277: a stale misdirected copy of op 2 claimed
			// op 3's extent, and op 3, its entry and record damaged, was dropped).
			end = max(end, r.intended+r.size)
		}
	}
	for i, p := range sc.persist {
		if p.state == recordIntact {
			high = max(high, sc.index*segmentEntries+uint64(i)) // its append finished
			end = max(end, p.header.Offset+p.header.Size())     // and its entry lies there
		}
		if p.faulty {
			high = max(high, sc.index*segmentEntries+uint64(i)) // an earlier recovery kept it
		}
	}
	for _, r := range sc.strays {
		// A record that stands for its op's own (strayOf) proves the same: without it, a
		// damaged record above the op was not taken as evidence, and that op was dropped
		// as unfinished (storage crash seed 45580: op 8's record misdirected into op 8's
		// entry, then op 9's entry and record unreadable).
		if _, ok := sc.strayOf(r.header.Op, segmentEntries); ok {
			high = max(high, r.header.Op)
			end = max(end, r.header.Offset+r.header.Size())
		}
	}
	if sc.size <= end || (len(sc.garbage) == 0 && sc.size == end) {
		return high
	}
	if !last {
		return lastOp
	}
	below := max(high, first-1, cp) // the highest op known to be there, or never appended here
	next := min(below+1, lastOp)
	return max(next, damagedRecordEvidence(sc, segmentEntries, below, end))
}

// damagedRecordEvidence is the highest op above high whose record is damaged and whose entry,
// with those of the ops between, fits in the damaged bytes after end (an entry takes a sector
// at least), or 0. A damaged record was written, so its append finished: the op existed, and
// with its entry damaged too it is faulty of unknown identity, never absent (storage_matrix5
// seed 106: the two newest entries and their records unreadable, recovery took the head for
// the first of them, and the replica's log ended below an op it had acknowledged). Appends
// finish in op order, so every op from high+1 up to such an op has a record written, damaged
// or intact, never absent: a damaged sector past an absent record is a misdirected write's
// landing or rot of the unwritten area, not evidence. A record that verifies but names
// another op (foreign) is no evidence of its own op either: a misdirected write landed there,
// over a record or over nothing. It does not end the run, though: it is not absent, and a
// damaged record above it still proves its op finished (storage crash seed 2048199845: op
// 1's repair wrote its record over op 2's, and op 3, its entry and record unreadable, was
// dropped though acknowledged). The room rule bounds what rot of unwritten sectors can invent.
func damagedRecordEvidence(sc segmentScan, segmentEntries, high uint64, end int64) uint64 {
	room := uint64(max(sc.size-end, 0) / SectorSize)
	base, best := sc.index*segmentEntries, uint64(0)
	for op := high + 1; op >= base && op-base < uint64(len(sc.persist)) && op-high <= room; op++ {
		p := sc.persist[op-base]
		if p.state == recordAbsent {
			break
		}
		if p.state == recordDamaged && !p.foreign {
			best = op
		}
	}
	return best
}

// writtenAbove reports whether an op of the segment above op has a record written in its own
// sector: intact, or damaged and not another op's (a misdirected write's landing).
func (sc segmentScan) writtenAbove(op, segmentEntries uint64) bool {
	for i, p := range sc.persist {
		if sc.index*segmentEntries+uint64(i) > op && (p.state == recordIntact || (p.state == recordDamaged && !p.foreign)) {
			return true
		}
	}
	return false
}

// strayOf returns the record of op that a misdirected write carried among the segment's
// entries, if op's own record sector is absent (zeros: never written there, not a tombstone).
// The record write comes after the entry's sync, so it proves the entry was durable: a
// damaged entry under it is faulty, never an append that never finished (swarm seed 20263044:
// op 64's record landed on the entry's last sector, recovery dropped the op as unfinished and
// the replica nacked an op it had acknowledged). A tombstone or a record in place supersedes
// a stray, which may be older.
func (sc segmentScan) strayOf(op, segmentEntries uint64) (persistRecord, bool) {
	i := op - sc.index*segmentEntries
	if i >= uint64(len(sc.persist)) {
		return persistRecord{}, false
	}
	if p := sc.persist[i]; p.state != recordAbsent || p.tombstone {
		return persistRecord{}, false
	}
	for _, r := range slices.Backward(sc.strays) {
		if r.header.Op == op {
			return r.persistRecord, true
		}
	}
	return persistRecord{}, false
}

// place marks the ops of one scan's records, and keeps its redundant records of ops in the
// index.
func (ix *logIndex) place(sc segmentScan, cp uint64) {
	name := segmentName(sc.index)
	for i, p := range sc.persist {
		op := sc.index*ix.segmentEntries + uint64(i)
		if op >= ix.base && op <= ix.head {
			ix.persist[op] = p
		}
		if p.state == recordDamaged {
			ix.problem(Problem{File: name, Offset: int64(i) * SectorSize, Op: op, Reason: "record damaged"})
		}
	}
	for _, r := range sc.strays {
		op := r.header.Op
		if stray, ok := sc.strayOf(op, ix.segmentEntries); ok && op >= ix.base && op <= ix.head {
			ix.persist[op] = stray
			ix.problem(Problem{File: name, Offset: r.at, Op: op, Reason: "record misdirected"})
		}
	}
	for _, r := range sc.records {
		if r.op < ix.base || r.op > ix.head {
			if !r.intact {
				ix.problem(Problem{File: name, Offset: r.offset, Op: r.op, Reason: "entry body corrupt or torn"})
			}
			continue
		}
		if r.intact {
			ix.intact[r.op] = append(ix.intact[r.op], r)
		}
		sl := &ix.slots[r.op-ix.base]
		switch {
		case !r.intact:
			sl.state = slotFaulty
			ix.problem(Problem{File: name, Offset: r.offset, Op: r.op, Reason: "entry body corrupt or torn"})
		case sl.state == slotIntact && sl.chain != r.chain:
			sl.state = slotFaulty
			ix.problem(Problem{File: name, Offset: r.offset, Op: r.op, Reason: "two different entries"})
		case sl.state == slotAbsent:
			*sl = slot{state: slotIntact, offset: r.offset, end: r.offset + r.size,
				chain: r.chain, parent: r.parent, bodySHA: r.bodySHA}
			if r.body != nil && r.op > cp {
				ix.bodies[r.op] = r.body
			}
		}
	}
	for _, r := range sc.misplaced {
		if r.op > cp && r.op >= ix.base && r.op <= ix.head {
			if sl := &ix.slots[r.op-ix.base]; sl.state == slotAbsent {
				sl.state = slotFaulty
			}
		}
		ix.problem(Problem{File: name, Offset: r.offset, Op: r.op, Reason: "misdirected entry"})
	}
	for _, g := range sc.garbage {
		ix.problem(Problem{File: name, Offset: g.start, Reason: fmt.Sprintf(
			"%d damaged bytes", g.end-g.start)})
	}
}

// applyRecords holds each op to its redundant record, if it has one (record.go): an intact
// entry that is not the one its record names is faulty; a faulty entry whose record survived
// takes the recorded chain sum and parent, so the chain stays known across it. A record older
// than its entry, as the next entry's chain shows, is not held to (staleRecord).
func (ix *logIndex) applyRecords(cp uint64) {
	for op := max(ix.base, cp+1); op <= ix.head; op++ {
		p, ok := ix.persist[op]
		if !ok || p.state != recordIntact {
			continue
		}
		sl := &ix.slots[op-ix.base]
		if sl.state == slotIntact && sl.chain == p.header.Chain() {
			continue
		}
		if ix.staleRecord(op, p) {
			continue
		}
		if sl.state == slotIntact {
			*sl = slot{state: slotFaulty}
			ix.problem(Problem{Op: op, Offset: -1, Reason: "entry differs from its record"})
		}
		if sl.state == slotFaulty && ix.recordedCopy(op, p, cp) {
			continue
		}
		if sl.state == slotFaulty {
			sl.known, sl.offset, sl.chain, sl.parent = true, p.header.Offset, p.header.Chain(), p.header.Parent
		}
	}
}

// staleBelow holds faulty, of unknown identity, an intact entry that no intact record names
// and that lies below the entry of a lower op of its segment, intact or known by its record:
// a segment's entries are appended in op order, so it is an older append's, left under the
// current log by a cut that did not happen (storage crash seed 2211559073: op 26's stale
// entry lay below op 25's, and once the header and the record of op 26's newest entry were
// damaged, recovery returned the stale body as op 26, acknowledged with another).
func (ix *logIndex) staleBelow(cp uint64) {
	for op := ix.base; op <= ix.head; op++ {
		sl := &ix.slots[op-ix.base]
		if op <= cp || sl.state != slotIntact || ix.persist[op].state == recordIntact {
			continue
		}
		for j := max(ix.base, cp+1, op/ix.segmentEntries*ix.segmentEntries); j < op; j++ {
			below := ix.slots[j-ix.base]
			if (below.state == slotIntact || (below.state == slotFaulty && below.known)) && ix.newestAt(j, below) > sl.offset {
				*sl = slot{state: slotFaulty}
				delete(ix.bodies, op)
				ix.problem(Problem{Op: op, Offset: -1, Reason: "entry lies below an earlier op's entry"})
				break
			}
		}
	}
}

// newestAt is where the newest entry of op, of slot sl (intact, or known by its record),
// lies: its intact record's place when the record names the slot's entry, else the slot's.
// place keeps the first intact copy an op's scan meets, and an op appended again with the
// same prepare (a view change keeps it) above its older entry has two intact copies of one
// chain sum: the slot's is the older, and the entries of the ops above between the two are
// an older append's (TestStaleEntryBelowAnEarlierOpIsFaulty, older_five_torn=false).
func (ix *logIndex) newestAt(op uint64, sl slot) int64 {
	if p := ix.persist[op]; p.state == recordIntact && p.header.Chain() == sl.chain {
		return max(sl.offset, p.header.Offset)
	}
	return sl.offset
}

// recordedCopy makes op intact if its only intact copy in its segment is the entry its record
// p names (offset and chain sum): the record is written once that entry is durable, and the
// other copies, torn or corrupt, are an older append's or a rewrite's that a crash or a fault
// cut short. A damaged copy made the op faulty although the entry its record named was whole:
// an older torn copy below the op's newest entry (storage crash seed 348433: op 31 appended
// first inside the damaged region of the checkpoint op below it, then again past that
// region), or above it, left by a repair that wrote the op again at the start of its damaged
// region (2029122454). Two intact copies stay faulty: which is the newer is not known.
func (ix *logIndex) recordedCopy(op uint64, p persistRecord, cp uint64) bool {
	copies := ix.intact[op]
	if len(copies) != 1 {
		return false
	}
	n := copies[0]
	if n.offset != p.header.Offset || n.chain != p.header.Chain() {
		return false
	}
	ix.slots[op-ix.base] = slot{state: slotIntact, offset: n.offset, end: n.offset + n.size,
		chain: n.chain, parent: n.parent, bodySHA: n.bodySHA}
	delete(ix.bodies, op)
	if n.body != nil && op > cp {
		ix.bodies[op] = n.body
	}
	return true // place reported the other copies
}

// staleRecord reports whether op's intact record p is stale: op's entry is intact, and the
// next op's entry, intact in the same segment, chains onto it, not onto the entry the record
// names. If so the entry stays intact and the record is written again (it reads as absent, so
// install lists the op as unrecorded).
//
// The next op's entry was appended after the last append of op whose record could have
// survived: appending op again cuts the file at op's entry, taking the next op's with it, and
// the record is written only once the new entry (and with it the cut) is synced. So the entry
// it chains onto is op's newest, and a record naming another one is older: its tombstone and
// its successor's record were both lost or misdirected (swarm seed 2026447374: view 3's record
// of op 68 outlived a truncation and the record of view 5's op 68, and held the replica to
// view 3's prepare below its commit number). A next entry that chains onto neither proves
// nothing: above a checkpoint it chains onto the checkpoint's anchor. Nor does one under a
// distrust or faulty mark: a rewrite in place of op over an entry nothing names cuts nothing,
// and marks the next op faulty first (markNextFaulty), so a record newer than op's intact
// entry is never taken for stale.
func (ix *logIndex) staleRecord(op uint64, p persistRecord) bool {
	if op+1 > ix.head || op/ix.segmentEntries != (op+1)/ix.segmentEntries {
		return false
	}
	sl, next := &ix.slots[op-ix.base], ix.slots[op+1-ix.base]
	if sl.state != slotIntact || next.state != slotIntact || next.parent != sl.chain {
		return false
	}
	if ix.persist[op+1].distrusted {
		return false // a mark disowns the next entry (keepDistrusted): it vouches for nothing
	}
	assert.That(next.parent != p.header.Chain(), "storage: the record and the entry have one chain sum")
	ix.persist[op] = persistRecord{state: recordAbsent}
	ix.problem(Problem{Op: op, Offset: sl.offset, Reason: "record names an older entry than the one the next op chains onto"})
	return true
}

// dropUnfinished removes from the top of the log, down to keep, the ops whose append provably
// never finished: their entry is not intact and their record is absent (record.go). An op
// below an op whose append finished, or with a damaged record, stays faulty. A record sector
// holding another op's whole record or mark (foreign: a misdirected write's landing) counts
// as absent here, as it does for damagedRecordEvidence: it proves nothing of this op's
// append, and a landing above the head outlives the boot that placed it, until the op's own
// record is written over it. Taken for a damaged record of the op's own, it kept an append
// torn at a later crash (its header lost, a later sector of its entry kept: the next op of
// the log by entryEvidence) faulty, of unknown identity, an op invented past the head that
// no replica can repair or deny (storage crash seed 1072540137867: op 37's record landed
// over op 51's sector, a boot before op 51's append was torn).
//
// keep is the checkpoint, or the damaged checkpoint a fallback passed: the ops up to that one
// were committed, and the log of the replica's log view holds them. Distrust removes their
// records, so they looked unfinished, and recovery dropped them: the replica then took part in
// the next view change with the same log view and a log that ended below ops it had
// acknowledged, and a new primary could start the view from that log (swarm seed 2026690511,
// on a build that cut more at recovery: replica 0 fell back from checkpoint 192 to 128, sent
// log view 17 with op 128, and the view began at op 128 over a commit number of 189).
func (ix *logIndex) dropUnfinished(keep uint64) {
	for ix.head > keep && ix.head >= ix.base {
		sl := &ix.slots[ix.head-ix.base]
		if p := ix.persist[ix.head]; sl.state == slotIntact || p.state != recordAbsent || p.faulty {
			if ix.slots[ix.head-ix.base].state == slotIntact || !p.foreign {
				return
			}
		}
		ix.problem(Problem{Op: ix.head, Offset: -1, Reason: "append never finished (no record): dropped"})
		ix.slots = ix.slots[:ix.head-ix.base]
		ix.head--
		ix.dropped++
	}
}

// opSpan is the ops in (after, upTo]; the zero span holds none.
type opSpan struct{ after, upTo uint64 }

// distrust makes the intact entries of the ops in span faulty, of unknown identity: their
// records name what the log held there, not what committed. The records of the ops already
// faulty (damaged or missing entries) go too, for the same reason: kept, a faulty op's
// record gave it a known identity, the stale log's (swarm seed 2026568758: view 6's op 98,
// unreadable, came back with its record's header under commit number 99 after checkpoint
// 128, installed by a state sync, rotted; view 7's had committed).
//
// The span comes from the superblock, which the replica writes again with the checkpoint it
// fell back to, and no span: so Open writes a faulty mark over the record of each of these
// ops, which would otherwise name them again at the next boot (markFaulty; swarm seed
// 2026602066: a replica left behind in view 1 held ops 67-74 when it state-synced to
// checkpoint 128, which rotted; the fallback to 64 distrusted them, but after a view change
// wrote the superblock the next boot trusted view 1's op 67 under commit number 128).
func (ix *logIndex) distrust(span opSpan) {
	for op := max(span.after+1, ix.base); op <= min(span.upTo, ix.head); op++ {
		sl := &ix.slots[op-ix.base]
		switch {
		case sl.state == slotIntact:
			ix.problem(Problem{Op: op, Offset: sl.offset, Reason: "not audited by the damaged checkpoint"})
			*sl = slot{state: slotFaulty, placed: true, offset: sl.offset, end: sl.end}
			delete(ix.bodies, op)
		case sl.known:
			// A faulty entry known by its record (applyRecords) is known no more: the record
			// is distrusted with the log. Still known, a truncation of it wrote a tombstone
			// rather than a distrust mark over its faulty mark, and if a crash came before
			// the cut, an entry of it that read whole again came back intact under the
			// tombstone (storage crash seed 2039231175: op 7, hidden by a read error at the
			// fallback, returned from the log this engine never audited).
			kept := slot{state: slotFaulty, placed: sl.placed, end: sl.end}
			if sl.placed {
				kept.offset = sl.offset // its bytes still lie whole there
			}
			*sl = kept
		}
		delete(ix.persist, op)
	}
}

// keepDistrusted makes the intact entries of the ops above the checkpoint whose record sector
// holds a distrust or faulty mark faulty, of unknown identity, as distrust did at the boot that wrote
// the mark. Writing the op again writes its record over the mark. The problem says which mark:
// a distrust mark is a fallback's past a damaged checkpoint (distrust) or a truncation's of an
// op it held faulty of unknown identity; a faulty mark is Open's over an op it returned faulty
// without a record (markFaulty) or a rewrite in place's over the op above (markNextFaulty).
func (ix *logIndex) keepDistrusted(cp uint64) {
	for op := max(cp+1, ix.base); op <= ix.head; op++ {
		if sl := &ix.slots[op-ix.base]; ix.persist[op].distrusted && sl.state == slotIntact {
			reason := "entry disowned by a distrust mark (a fallback past a damaged checkpoint, or a truncation of the op while faulty)"
			if ix.persist[op].faulty {
				reason = "entry disowned by a faulty mark (the op held faulty of unknown identity at an earlier boot, or before a rewrite in place below it)"
			}
			ix.problem(Problem{Op: op, Offset: sl.offset, Reason: reason})
			*sl = slot{state: slotFaulty, placed: true, offset: sl.offset, end: sl.end}
			delete(ix.bodies, op)
		}
	}
}

// parents are checked after placing, in op order, for the ops from linksFrom up.
func (ix *logIndex) checkChain(cp uint64, anchor checksum.Sum, linksFrom uint64) {
	for op := max(ix.base, linksFrom); op <= ix.head; op++ {
		sl := &ix.slots[op-ix.base]
		if sl.state != slotIntact {
			continue
		}
		if op == cp && sl.chain != anchor {
			sl.state = slotFaulty
			ix.problem(Problem{Op: op, Offset: sl.offset, Reason: "checkpoint entry differs from the anchor"})
			continue
		}
		parent, known := ix.parentOf(op, cp, anchor)
		if known && parent != sl.parent {
			sl.state = slotFaulty
			ix.problem(Problem{Op: op, Offset: sl.offset, Reason: "hash chain broken"})
		}
	}
}

func (ix *logIndex) parentOf(op, cp uint64, anchor checksum.Sum) (checksum.Sum, bool) {
	if op == cp+1 {
		return anchor, true
	}
	if op == 1 {
		return checksum.Sum{}, true
	}
	if op-1 < ix.base {
		return checksum.Sum{}, false
	}
	if prev := ix.slots[op-1-ix.base]; prev.state == slotIntact || prev.known {
		return prev.chain, true
	}
	return checksum.Sum{}, false
}

// regionEnds sets the end of every op that is not intact: where the next intact entry of its
// segment starts, or the segment's size. It also demotes an intact entry that lies after a
// higher op's entry (a log is written in op order).
func (ix *logIndex) regionEnds(scans []segmentScan, segmentEntries uint64) {
	sizes := map[uint64]int64{}
	for _, sc := range scans {
		sizes[sc.index] = sc.size
	}
	current, next := uint64(0), int64(0)
	for op := ix.head; op >= ix.base && op > 0; op-- {
		sl := &ix.slots[op-ix.base]
		if k := op / segmentEntries; op == ix.head || k != current {
			current, next = k, sizes[k] // zero for a missing segment
		}
		if sl.state == slotIntact && sl.end > next {
			sl.state = slotFaulty
			ix.problem(Problem{Op: op, Offset: sl.offset, Reason: "entry out of op order"})
		}
		if sl.state == slotIntact {
			next = sl.offset
			continue
		}
		whole := sl.end // a placed entry's own end
		sl.end = next
		// A faulty entry whose record survived has a known extent: it ends where its record
		// says, not at the next intact entry, so that nothing past the head hides in the
		// head's damaged region (cutUnfinished removes it) and the op below ends at its offset.
		// The highest op of a segment's file ends there too when the file ends short of it (its
		// entry's write lost, which did not extend the file): cut at the file's end, its region
		// had no room for its own entry, and the repair of the acknowledged op truncated it,
		// record and all, before writing it again (TestRepairOfALostEntryAtTheFileEnd).
		if p := ix.persist[op]; sl.known && p.state == recordIntact &&
			(sl.offset+p.header.Size() <= next || (next == sizes[current] && sl.offset <= next)) {
			sl.end, next = sl.offset+p.header.Size(), sl.offset
		}
		// So does a distrusted entry, whose bytes lie whole where the scan found them: the
		// region below it ends where it starts (storage crash seed 2027081841: the absent
		// checkpoint op's region ran over distrusted op 6, a truncation after it cut past op
		// 6's stale entry, and op 6 came back intact under its tombstone).
		if sl.placed && sl.offset < next {
			// Its own extent is known as well: past it lies no op of its (an append above
			// the head that never finished is cut, not left in the head's region where the
			// next op would be written after it: swarm seed 2026754803, op 65's torn copy
			// above distrusted head 64 left below op 65's entry, which Verify then reported).
			sl.end, next = min(whole, next), sl.offset
		}
	}
}

func (ix *logIndex) problem(p Problem) {
	if p.File == "" && p.Op > 0 {
		p.File = segmentName(p.Op / ix.segmentEntries)
	}
	ix.problems = append(ix.problems, p)
}

// faulty returns the faulty ops above floor, ascending.
func (ix *logIndex) faulty(floor uint64) []uint64 {
	var ops []uint64
	for op := max(ix.base, floor+1); op <= ix.head; op++ {
		if ix.slots[op-ix.base].state == slotFaulty {
			ops = append(ops, op)
		}
	}
	return ops
}

// Open recovers a replica's storage after a restart: the newest intact superblock, its
// checkpoint, and every log entry, verified. A missing superblock is ErrNotFormatted; a
// checkpoint that does not verify is ErrCorrupt (the replica needs a restore or a state
// sync) unless the previous checkpoint verifies (see Recovery.CheckpointDamaged); damaged
// entries are not errors but Recovery.Faulty. Open also removes checkpoint
// files the superblock does not reference (left by a crash during Checkpoint).
func Open(fs FS, opts Options, done func(*Storage, *Recovery, error)) {
	assert.That(fs != nil && done != nil, "storage: Open needs an FS and a callback")
	opts, err := opts.normalize(fs)
	if err != nil {
		later(fs, func() { done(nil, nil, err) })
		return
	}
	s := &Storage{fs: fs, opts: opts}
	s.sums, s.audits = sumMemosOf(fs)
	s.scanBufs.sums = s.sums
	rec := &Recovery{}
	var names []string
	var scans []segmentScan
	var previous superblock // the other pair's newest copy, if intact
	var twins []superblockTwin
	sequence(func(err error) {
		if err != nil {
			done(nil, nil, err)
			return
		}
		s.install(rec, scans)
		sequence(func(err error) {
			if err != nil {
				done(nil, nil, err)
				return
			}
			done(s, rec, nil)
		},
			s.placeStrays,
			s.markFaulty,
			s.cutUnfinished,
			s.finishRecords,
		)
	},
		func(next func(error)) { s.readSuperblock(&previous, &twins, next) },
		func(next func(error)) { s.storeTwice(rec, twins, next) },
		func(next func(error)) {
			fs.List(func(got []string, err error) { names = got; next(err) })
		},
		func(next func(error)) { s.readCheckpoint(rec, previous, names, next) },
		func(next func(error)) { s.scanAll(names, &scans, next) },
		func(next func(error)) { s.settleCheckpoint(rec, scans); next(nil) },
		func(next func(error)) { s.removeStaleCheckpoints(next) },
	)
}

// readSuperblock reads the superblock file: the newest intact state becomes s.sb, the other
// pair's newest intact copy *previous, and *twins the writes that store twice a state the file
// holds in one copy only (singleCopies).
func (s *Storage) readSuperblock(previous *superblock, twins *[]superblockTwin, done func(error)) {
	readSuperblockFile(s.fs, func(buf []byte, err error) {
		if errors.Is(err, ErrNotExist) {
			done(ErrNotFormatted)
			return
		}
		if err != nil {
			done(err)
			return
		}
		sb, pair, _, ok := newestSuperblock(buf)
		other, otherOK := pairNewest(buf, 1-pair)
		if otherOK {
			s.checkpointPrevious, *previous = other.State.CheckpointOp, other
		}
		switch {
		case !ok:
			done(fmt.Errorf("%w: no intact superblock copy", ErrCorrupt))
		case sb.SegmentEntriesMax != s.opts.SegmentEntriesMax || sb.EntryBodyMax != s.opts.EntryBodyMax:
			done(fmt.Errorf("%w: formatted with SegmentEntriesMax %d, EntryBodyMax %d",
				ErrOptions, sb.SegmentEntriesMax, sb.EntryBodyMax))
		default:
			s.sb, s.sbPair = sb, pair
			*twins = singleCopies(buf)
			done(nil)
		}
	})
}

// storeTwice writes each state the superblock file holds in one copy into the other sector of
// its pair (twins, from singleCopies), before the rest of Open: every state Open returns is
// then stored twice, as the pair write that completed would have left it, so that one sector
// fault over a copy never rolls back a view, log view, commit or checkpoint the replica acted
// on (PAR, FAST'18; storage crash seed 1863 once the harness stopped excluding a torn
// superblock write: the state naming checkpoint 5, adopted from the one copy a torn write
// left, was lost to a corrupt sector at a later boot, whose Open read the older state naming
// checkpoint 4).
//
// One twin at a time, the newest state's first: write, sync, then read the whole file again
// and take the twins it still needs, until none (writeTwins). Crash safety: the only sector
// written is a twin, never a sector holding the one copy of a state, and a sector is written
// whole or not at all, so at every crash point the copy the repair is made from is intact,
// and the next Open finds the same newest state (a twin holds its old bytes, older or
// damaged, or the very copy) and repairs again. The bytes are the copy's own, sequence and
// all: no new state, no new sequence, so nothing else of Open (the fallbacks, the
// checkpoints the pairs name) changes. While the newest state is in one copy, only its bytes
// are written, so that even a misdirected write cannot take its copy; the older pair's state
// is written once the newest is twice on disk, and a misdirected write of it over a newest
// copy is found by the next read and repaired (the other pair's state only if it is the one
// the newest was written after: singleCopies). A damaged twin is reported
// (Recovery.Rewritten), for `storage verify`, which no longer sees it.
func (s *Storage) storeTwice(rec *Recovery, twins []superblockTwin, done func(error)) {
	var reported [superblockCopies]bool
	s.writeTwins(rec, twins, &reported, 1, done)
}

// writeTwins is storeTwice's round, at the given attempt: after superblockTwinAttemptsMax
// writes it fails (ErrIO): a disk that cannot keep a second copy of the state must not run
// the replica on one.
func (s *Storage) writeTwins(rec *Recovery, twins []superblockTwin, reported *[superblockCopies]bool,
	attempt int, done func(error)) {
	if len(twins) == 0 {
		done(nil)
		return
	}
	if attempt > superblockTwinAttemptsMax {
		done(fmt.Errorf("%w: superblock copy %d does not keep its write", ErrIO, twins[0].slot))
		return
	}
	t := twins[0]
	assert.That(t.slot >= 0 && t.slot < superblockCopies, "storage: superblock twin out of range")
	if t.damaged && !reported[t.slot] {
		reported[t.slot] = true
		rec.Rewritten = append(rec.Rewritten, Problem{File: superblockName,
			Offset: int64(t.slot * superblockCopySize),
			Reason: fmt.Sprintf("copy %d: damaged (written again at open)", t.slot)})
	}
	current := encodeSuperblock(s.sb)
	sequence(func(err error) {
		if err != nil {
			done(err)
			return
		}
		readSuperblockFile(s.fs, func(buf []byte, err error) {
			if err != nil {
				done(err)
				return
			}
			newest, _, _, ok := newestSuperblock(buf)
			if !ok || !bytes.Equal(encodeSuperblock(newest), current) {
				// Only more faults than one on the superblock file get here.
				done(fmt.Errorf("%w: the newest superblock changed while Open stored it twice", ErrIO))
				return
			}
			s.writeTwins(rec, singleCopies(buf), reported, attempt+1, done)
		})
	},
		func(next func(error)) { // an I/O error is a write that did not happen: read back below
			s.fs.WriteAt(superblockName, t.data, int64(t.slot*superblockCopySize), unlessIO(next))
		},
		func(next func(error)) { s.fs.Sync(superblockName, next) },
	)
}

// superblockTwinAttemptsMax bounds the twin writes of one Open: one per pair, and the rest
// for writes that did not read back.
const superblockTwinAttemptsMax = 8

// readSuperblockFile reads the four copies. If the whole read meets an unreadable sector
// (ErrIO), it reads each copy alone, so one bad sector costs one copy; an unreadable copy
// reads as zeros (damaged).
func readSuperblockFile(fs FS, done func([]byte, error)) {
	buf := make([]byte, superblockSize)
	fs.ReadAt(superblockName, buf, 0, func(n int, err error) {
		if !errors.Is(err, ErrIO) {
			clear(buf[max(n, 0):])
			done(buf, err)
			return
		}
		clear(buf)
		forEach(superblockCopies, func(i int, next func(error)) {
			part := buf[i*superblockCopySize : (i+1)*superblockCopySize]
			fs.ReadAt(superblockName, part, int64(i*superblockCopySize), func(n int, err error) {
				if err != nil {
					clear(part)
				}
				next(nil)
			})
		}, func(error) { done(buf, nil) })
	})
}

// readCheckpoint reads and verifies the checkpoint file the superblock points at. A
// checkpoint that cannot be recovered is reported as Recovery.CheckpointLost, not as an
// error: the rest of the replica's durable state is still worth having.
func (s *Storage) readCheckpoint(rec *Recovery, previous superblock, names []string, done func(error)) {
	s.readCheckpointOrFallBack(rec, previous, names, func(err error) {
		if errors.Is(err, ErrCorrupt) {
			rec.Snapshot, rec.CheckpointLost, s.checkpointLost = nil, true, true
			err = nil
		}
		done(err)
	})
}

func (s *Storage) readCheckpointOrFallBack(rec *Recovery, previous superblock, names []string, done func(error)) {
	op := s.sb.State.CheckpointOp
	if op == 0 {
		done(nil)
		return
	}
	s.readCheckpointFile(func(snapshot []byte, err error) {
		rec.Snapshot = snapshot
		switch {
		case err == nil:
			done(nil)
		case s.sb.Previous.Op != 0 && s.sb.Checkpoint.Audited == op:
			s.fallBackToCheckpoint(rec, s.previousSuperblock(), err, done)
		case previous.State.CheckpointOp != 0 && previous.State.CheckpointOp < op:
			s.fallBackToCheckpoint(rec, previous, err, done)
		case s.replayableFromFormat(op, names):
			s.fallBackToFormat(rec)
			done(nil)
		default:
			done(err)
		}
	})
}

// replayableFromFormat reports whether a lost checkpoint of op can be replaced by the state at
// op 0 (the format's, empty, which needs no file): op is within the first segment's reach
// (the log above op 0 is then no longer than above the previous checkpoint of a caller that
// checkpoints once per segment, as the fallback to a previous checkpoint file costs), and
// every segment from the first through op's is on disk (never compacted), so the log can
// replay ops 1..op; damaged entries among them come back Faulty, to be repaired.
func (s *Storage) replayableFromFormat(op uint64, names []string) bool {
	if op > uint64(s.opts.SegmentEntriesMax) {
		return false
	}
	segments, _, _ := ownedFiles(names)
	for k := uint64(0); k <= s.segmentOf(op); k++ {
		if !slices.Contains(segments, k) {
			return false
		}
	}
	return true
}

// fallBackToFormat replaces a lost first checkpoint with the state at op 0, keeping the
// newest view, log view and commit, as fallBackToCheckpoint does with a previous file. Without
// it, a replica whose first checkpoint rotted waited for a peer's checkpoint at or after it
// (state sync) while holding, intact in its log, the committed ops its peers lacked and
// needed to reach that checkpoint: nobody could move (fresh-range swarm seed 2026131599).
func (s *Storage) fallBackToFormat(rec *Recovery) {
	damaged := s.sb.State.CheckpointOp
	s.fellBack = &fallbackUndo{sb: s.sb, previous: s.checkpointPrevious}
	s.unaudited = opSpan{after: s.sb.Checkpoint.Audited, upTo: damaged}
	s.sb.State.CheckpointOp, s.sb.State.AuditHead, s.sb.Checkpoint = 0, [32]byte{}, checkpointRef{}
	s.sb.Previous = previousCheckpoint{}
	rec.Snapshot, rec.CheckpointDamaged = nil, damaged
	s.checkpointPrevious = 0 // the damaged file goes
}

// fallBackToCheckpoint replaces a checkpoint that does not verify with the previous one,
// which the other superblock pair names, keeping the newest VSR state (views never go back).
// The ops between the two checkpoints that compaction removed come back as Faulty.
func (s *Storage) fallBackToCheckpoint(rec *Recovery, previous superblock, cause error, done func(error)) {
	damaged := s.sb.State.CheckpointOp
	assert.That(previous.State.CheckpointOp < damaged, "storage: fallback to a newer checkpoint")
	newest := s.sb
	s.sb.State.CheckpointOp, s.sb.State.AuditHead = previous.State.CheckpointOp, previous.State.AuditHead
	s.sb.Checkpoint, s.sb.Previous = previous.Checkpoint, previousCheckpoint{}
	s.readCheckpointFile(func(snapshot []byte, err error) {
		if err != nil {
			s.sb = newest
			done(cause)
			return
		}
		rec.Snapshot, rec.CheckpointDamaged = snapshot, damaged
		s.unaudited = opSpan{after: newest.Checkpoint.Audited, upTo: damaged}
		s.fellBack = &fallbackUndo{sb: newest, previous: s.checkpointPrevious}
		s.checkpointPrevious = 0 // the damaged file goes
		done(nil)
	})
}

// previousSuperblock is the newest superblock as it would be at its previous checkpoint.
func (s *Storage) previousSuperblock() superblock {
	p, sb := s.sb.Previous, s.sb
	sb.State.CheckpointOp, sb.State.AuditHead, sb.Checkpoint, sb.Previous = p.Op, p.AuditHead, p.Ref, previousCheckpoint{}
	return sb
}

func (s *Storage) readCheckpointFile(done func([]byte, error)) {
	op, ref := s.sb.State.CheckpointOp, s.sb.Checkpoint
	assert.That(op > 0, "storage: reading the checkpoint of op 0")
	assert.That(ref.Size <= CheckpointFileSizeMax, "storage: checkpoint size beyond the limit")
	buf := make([]byte, ref.Size)
	s.fs.ReadAt(checkpointName(op), buf, 0, func(n int, err error) {
		if err != nil {
			done(nil, fmt.Errorf("%w: checkpoint %d: %w", ErrCorrupt, op, err))
			return
		}
		if int64(n) != ref.Size || checksum.Of(buf) != ref.Checksum {
			done(nil, fmt.Errorf("%w: checkpoint %d checksum", ErrCorrupt, op))
			return
		}
		fileOp, snapshot, err := decodeCheckpointFile(buf)
		if err != nil || fileOp != op {
			done(nil, fmt.Errorf("%w: checkpoint %d: %v", ErrCorrupt, op, err))
			return
		}
		done(snapshot, nil)
	})
}

func (s *Storage) scanAll(names []string, scans *[]segmentScan, done func(error)) {
	segments, _, _ := ownedFiles(names)
	slices.Sort(segments)
	keepFrom := s.sb.State.CheckpointOp + 1
	if s.mayReplayLost() {
		keepFrom = 1 // the log may replay from op 1 (replayLostCheckpoint)
	}
	forEach(len(segments), func(i int, next func(error)) {
		scanSegment(s.fs, s.opts, s.sb.State.Cluster, segments[i], keepFrom, &s.scanBufs,
			func(sc segmentScan, err error) {
				*scans = append(*scans, sc)
				next(err)
			})
	}, done)
}

// removeStaleCheckpoints removes the checkpoint files neither superblock pair names: left by
// a crash during Checkpoint, or superseded.
func (s *Storage) removeStaleCheckpoints(done func(error)) {
	s.fs.List(func(names []string, err error) {
		if err != nil {
			done(err)
			return
		}
		_, checkpoints, _ := ownedFiles(names)
		var stale []uint64
		for _, op := range checkpoints {
			if op != s.sb.State.CheckpointOp && op != s.sb.Previous.Op && op != s.checkpointPrevious {
				stale = append(stale, op)
			}
		}
		forEach(len(stale), func(i int, next func(error)) {
			s.fs.Remove(checkpointName(stale[i]), next)
		}, done)
	})
}

// cutUnfinished removes from the disk whatever lies past the recovered head: appends that
// never finished (damaged, with no record; dropped, or unreadable past recognition). The
// head segment's file is cut where the next entry goes, and files above it go. Left in
// place, such an entry that reads intact on a later boot (its damage was a read error) would
// come back above a log view persisted without it, as a stale op of an older view
// (campaign seed 20263043: an unsynced append survived the crash, then a latent error hid it).
// The cut stops short only for ops the index keeps in the head segment (above the checkpoint)
// whose extent it lacks. Ops at or below the checkpoint do not count: a log whose head is its
// checkpoint (op 0 on a new disk, or a checkpoint installed by state sync) appends the next op
// at the segment's record area anyway; keeping the file whole there kept an unfinished first
// append that a read fault had hidden, and a later boot read it back intact, a stale op above
// the log view (fresh-range seed 2026220385: op 1 of view 1 under log view 3).
func (s *Storage) cutUnfinished(done func(error)) {
	k := s.segmentOf(s.head + 1)
	var drop []uint64
	for _, seg := range slices.Backward(s.segments) {
		if seg > k {
			drop = append(drop, seg)
		}
	}
	sequence(done,
		func(next func(error)) { s.removeSegments(drop, nil, next) },
		func(next func(error)) {
			var given []uint64 // ops at or below the checkpoint whose damaged entries the cut gives up
			if _, found := slices.BinarySearch(s.segments, k); found && s.head == s.sb.State.CheckpointOp {
				if start, ops, ok := s.checkpointRegionCut(k); ok {
					s.endCheckpointRegion(start, ops)
					given = ops
				}
			}
			if len(given) > 0 {
				// Their records go too: left in place, one claimed the bytes of the entries
				// appended where the cut put them, and a recovery that met such an entry
				// damaged, record and all, found no room for it and dropped it (storage
				// crash seed 2040047428: op 6 above checkpoint op 5).
				s.writeMarks(segmentName(k), tombstoneMagic, given, func(err error) {
					if err != nil {
						next(err)
						return
					}
					s.cutPastHeadOf(k, next)
				})
				return
			}
			s.cutPastHeadOf(k, next)
		},
	)
}

// cutPastHeadOf is cutUnfinished's cut of segment k, the head's, once the segments above are
// gone.
func (s *Storage) cutPastHeadOf(k uint64, next func(error)) {
	cut := s.appendOffset(s.head + 1)
	first := k * uint64(s.opts.SegmentEntriesMax)
	kept := s.head >= first && s.head > s.sb.State.CheckpointOp // the index keeps ops in segment k
	if _, found := slices.BinarySearch(s.segments, k); !found {
		next(nil)
		return
	}
	if cut == s.recordArea() && kept {
		s.distrustAbove(k, next) // kept ops at or below the head whose extent the index lacks
		return
	}
	sequence(next,
		func(next func(error)) { s.tombstoneRecordsAbove(k, next) },
		func(next func(error)) { s.prepareSegment(k, cut, next) },
		func(next func(error)) {
			// The head's damaged region may hide an append, whether the head is in the log
			// or is the checkpoint's op (storage crash seed 32266: op 39's entry, hidden by a
			// read error in the region past checkpoint op 38).
			if sl := s.slot(s.head); sl != nil && s.segmentOf(s.head) == k && sl.state != slotIntact && !sl.known {
				s.distrustAbove(k, next)
				return
			}
			next(nil)
		})
}

// distrustAbove stands in for the part of the cut that cannot be made when the head is
// faulty and its extent unknown: its damaged region runs to the next known entry or the end
// of the file, and may hide, past the head's own bytes, an append that never finished. The
// ops above the head in segment k get distrust marks over their record sectors (as many as
// entries the file could hold), so that an entry of theirs that reads intact on a later boot
// is dropped as unfinished, not taken for a finished append (storage crash seed 319: op 7's
// append, its entry synced and its record lost in the crash, lay in faulty head op 6's
// region, hidden from this Open by a read error; the next Open read it whole and recovered
// it above a log this one had ended at op 6). A record an op above the head still had goes
// too, as the cut's tombstone would have taken it. The next append of such an op writes its
// record over the mark, and reads it back (verifyRecordOverMark).
func (s *Storage) distrustAbove(k uint64, done func(error)) {
	s.recordedAbove = nil
	name := segmentName(k)
	size, err := s.fs.Size(name)
	if err != nil {
		done(err)
		return
	}
	room := uint64(max(size-s.recordArea(), 0) / SectorSize)
	var ops []uint64
	for o := s.head + 1; o <= min(s.segmentLast(k), s.head+room); o++ {
		ops = append(ops, o)
	}
	if len(ops) == 0 {
		done(nil)
		return
	}
	s.writeMarks(name, distrustMagic, ops, done)
}

// tombstoneRecordsAbove writes (and syncs) the tombstones of recordedAbove in segment k, so
// that the cut that follows leaves no record of an op it removes (truncateAfter's order:
// records first, then entries).
func (s *Storage) tombstoneRecordsAbove(k uint64, done func(error)) {
	ops := s.recordedAbove
	s.recordedAbove = nil
	if len(ops) == 0 {
		done(nil)
		return
	}
	for _, o := range ops {
		assert.That(s.segmentOf(o) == k && o > s.head, "storage: tombstone of a kept op")
	}
	s.writeMarks(segmentName(k), tombstoneMagic, ops, done)
}

// markFaulty writes (syncs, and reads back) the faulty marks (record.go) of the ops recovery
// holds faulty without a record of their own (absent, or another op's), segment by segment, before Open returns: their place in the
// log must not rest on what the next superblock write forgets (the damaged checkpoint a
// fallback passed) or on the ops above them, which may rot in turn. An op whose segment file
// does not exist (one under the damaged checkpoint that this log never held) gets the file,
// for its mark (storage crash seed 29240: op 36, under checkpoint 36 installed above the
// log's head, was faulty after the fallback to 29, and lost once a superblock write forgot
// the damaged checkpoint).
func (s *Storage) markFaulty(done func(error)) {
	ops := s.unmarked
	s.unmarked = nil
	forEach(len(ops), func(i int, next func(error)) {
		k := s.segmentOf(ops[i])
		if i > 0 && s.segmentOf(ops[i-1]) == k {
			next(nil) // written with the first op of its segment
			return
		}
		var group []uint64
		for _, o := range ops[i:] {
			assert.That(o > s.sb.State.CheckpointOp && o <= s.head, "storage: faulty mark of an op outside the log")
			if s.segmentOf(o) == k {
				group = append(group, o)
			}
		}
		if _, found := slices.BinarySearch(s.segments, k); !found {
			s.prepareSegment(k, s.recordArea(), func(err error) {
				if err != nil {
					next(err)
					return
				}
				s.writeMarks(segmentName(k), faultyMagic, group, next)
			})
			return
		}
		s.writeMarks(segmentName(k), faultyMagic, group, next)
	}, done)
}

// placeStrays writes (syncs, and reads back) over its own record sector each record that
// install found only out of its place (strayOf: among the entries, or over another op's
// record sector), before Open returns. Recovery took the op for recorded on the strength of
// that copy (intact, or faulty of the identity it names), but the sectors it lies in belong
// to another op or to the appends to come, and a repair or an append writes them again; with
// the copy gone and the op's entry damaged, a later recovery would find the op with no record
// and drop it as an append that never finished, though it was acknowledged (swarm seed
// 2026761680: op 490's record in op 452's entry, overwritten by op 452's repair). No op's
// survival rests on a copy out of its own place: an entry's is never taken for the op's (a
// misplaced entry only shows that its op exists; scan), and an op faulty without any record
// gets a faulty mark (markFaulty).
func (s *Storage) placeStrays(done func(error)) {
	strays := s.strays
	s.strays = nil
	forEach(len(strays), func(i int, next func(error)) {
		k := s.segmentOf(strays[i].header.Op)
		if i > 0 && s.segmentOf(strays[i-1].header.Op) == k {
			next(nil) // written with the first op of its segment
			return
		}
		var ops []uint64
		sectors := map[uint64][]byte{}
		for _, r := range strays[i:] {
			o := r.header.Op
			assert.That(o > s.sb.State.CheckpointOp && o <= s.head, "storage: stray record of an op outside the log")
			if s.segmentOf(o) == k {
				ops = append(ops, o)
				sectors[o] = r.stray
			}
		}
		s.writeSectors(segmentName(k), ops, func(o uint64) []byte { return sectors[o] }, next)
	}, done)
}

// writeMarks writes the marks with magic over the record sectors of ops (in segment file
// name), syncs them and reads them back (verifyMarks).
func (s *Storage) writeMarks(name string, magic uint64, ops []uint64, done func(error)) {
	cluster := s.sb.State.Cluster
	s.markedOver(ops)
	s.writeSectors(name, ops, func(o uint64) []byte { return encodeMark(magic, cluster, o) }, done)
}

// writeSectors writes sector(o) over the record sector of each of ops (in segment file name),
// syncs them and reads them back (verifySectors).
func (s *Storage) writeSectors(name string, ops []uint64, sector func(op uint64) []byte, done func(error)) {
	steps := make([]step, 0, len(ops)+2)
	for _, o := range ops {
		steps = append(steps, func(next func(error)) {
			s.fs.WriteAt(name, sector(o), s.recordOffset(o), unlessIO(next)) // read back below
		})
	}
	steps = append(steps, func(next func(error)) { s.fs.Sync(name, next) },
		func(next func(error)) { s.verifySectors(name, sector, ops, 1, next) })
	sequence(done, steps...)
}

// finishRecords writes (and syncs) the redundant record of every intact entry recovered
// without one: an append that a crash interrupted between the entry's sync (or with the entry
// unsynced but surviving) and its record's. The replica takes the entry as durable and may
// acknowledge it now, so the append is finished before Open returns. Without its record, a
// later rot of the entry at the top of the log read as an append that never finished, and
// recovery dropped an acknowledged op (fresh-range swarm seed 2026121429: op 32 lost). A
// tombstone counts as none: a truncation cut short by the crash, or one that the append
// again of the same op followed (a view change's replacement), leaves an intact entry under
// it that Open returns like any other (the storage episode, storage_crash seed 2140: op 22,
// appended again after its truncation, recovered intact over its tombstone, rotted at the
// next boot and was dropped as never appended).
//
// A record written over a tombstone is read back until it is there, as an append's is
// (verifyRecordOverMark): a write of it lost or misdirected away left the tombstone, which
// supersedes the stray copy, and when the entry, returned intact and perhaps acknowledged,
// rotted before the next boot, that boot dropped it as an append that never finished
// (TestFinishedRecordOverATombstoneIsReadBack).
func (s *Storage) finishRecords(done func(error)) {
	steps := make([]step, 0, 3*len(s.unrecorded))
	for _, e := range s.unrecorded {
		sl := s.slot(e.Op)
		assert.That(sl != nil && sl.state == slotIntact, "storage: finishing the record of an entry not intact")
		name := segmentName(s.segmentOf(e.Op))
		data := EncodeEntry(s.sb.State.Cluster, e.Op, sl.offset, sl.parent, e.Body)
		rec := encodeRecord(data, s.opts.RecordPrefix)
		steps = append(steps,
			func(next func(error)) { s.fs.WriteAt(name, rec, s.recordOffset(e.Op), next) },
			func(next func(error)) { s.fs.Sync(name, next) },
			func(next func(error)) { s.verifyRecordOverMark(name, e.Op, rec, next) })
	}
	s.unrecorded = nil
	sequence(done, steps...)
}

// assemble indexes the scanned log above the superblock's checkpoint.
func (s *Storage) assemble(scans []segmentScan) logIndex {
	cp := s.sb.State.CheckpointOp
	floor := s.segmentOf(cp) * uint64(s.opts.SegmentEntriesMax) // older segments: compaction's
	return assemble(scans, cp, s.sb.Checkpoint.Chain, uint64(s.opts.SegmentEntriesMax), floor, s.unaudited, 0)
}

// fallbackUndo is what a fallback at Open changed: the newest superblock, and the checkpoint
// the other pair named.
type fallbackUndo struct {
	sb       superblock
	previous uint64
}

// settleCheckpoint checks, once the log is scanned, the checkpoint Open fell back to: if the
// log runs further above it than Options.ReplayOpsMax, the caller could not hold what it would
// replay, and the checkpoint is lost after all (swarm seed 2026486275: a state sync jumped
// from checkpoint 64 to 384, which rotted, and the fallback to 64 left ops up to 387 above it,
// past the replica's log window). A lost checkpoint may then replay from op 0
// (replayLostCheckpoint).
func (s *Storage) settleCheckpoint(rec *Recovery, scans []segmentScan) {
	if u := s.fellBack; u != nil && s.opts.ReplayOpsMax > 0 &&
		s.assemble(scans).head > s.sb.State.CheckpointOp+uint64(s.opts.ReplayOpsMax) {
		s.sb, s.checkpointPrevious, s.unaudited = u.sb, u.previous, opSpan{}
		rec.Snapshot, rec.CheckpointDamaged, rec.CheckpointLost, s.checkpointLost = nil, 0, true, true
	}
	s.fellBack = nil
	s.replayLostCheckpoint(rec, scans)
	s.fellBack = nil
}

// replayLostCheckpoint falls back to the format's state (op 0) when the checkpoint is lost and
// the previous one with it, if the log still holds every op from 1 (no segment through the
// checkpoint's was compacted) and its head is within Options.ReplayOpsMax. The first
// checkpoint falls back so before the scan (replayableFromFormat); a later one needs the scan
// to know the head. Without it, a replica whose two checkpoint files rotted waited for a
// peer's checkpoint at or after its own, while holding intact the committed ops its peers
// lacked and needed to reach one (swarm seed 2026460322: checkpoints 128 and 64 both corrupt,
// ops 121 and 122 intact only in its log). Only a checkpoint this log executed up to
// (checkpointRef.Audited): below one installed from a peer's snapshot the log need not be the
// snapshot's history, and a state sync fetches it again (swarm seeds 2026495629 and
// 2026495735: the replay of a log under a lost synced checkpoint kept a stale prepare, and
// left the log view's ops missing).
func (s *Storage) replayLostCheckpoint(rec *Recovery, scans []segmentScan) {
	cp := s.sb.State.CheckpointOp
	if !s.mayReplayLost() {
		return
	}
	for k := uint64(0); k <= s.segmentOf(cp); k++ {
		if !slices.ContainsFunc(scans, func(sc segmentScan) bool { return sc.index == k }) {
			return
		}
	}
	if s.assemble(scans).head > uint64(s.opts.ReplayOpsMax) || !s.replaysAudited(scans) {
		return
	}
	s.fallBackToFormat(rec)
	rec.CheckpointLost, s.checkpointLost = false, false
}

// replaysAudited reports whether the log, replayed from op 0, is the history the lost
// checkpoint audited: every op through it intact, and the audit chain they give from the
// zero head equal to the head the superblock kept for it. A checkpoint this log executed up
// to (checkpointRef.Audited) says nothing of the ops below an older checkpoint installed
// from a peer, whose audit chain started from the install's seed: the log there may be an
// older view's, and a replay executed it (swarm seed 7853388945494936942: replica 0 synced
// checkpoint 64 over view 0's ops 12-15, checkpointed 128 and 192 itself, and when 192 and
// 128 were lost the replay from op 0 put view 0's op 13 under commit number 233).
func (s *Storage) replaysAudited(scans []segmentScan) bool {
	cp := s.sb.State.CheckpointOp
	ix := assemble(scans, 0, checksum.Sum{}, uint64(s.opts.SegmentEntriesMax), 0,
		opSpan{after: s.sb.Checkpoint.Audited, upTo: cp}, 0)
	if ix.base != 1 || ix.head < cp {
		return false
	}
	var head [32]byte
	for op := uint64(1); op <= cp; op++ {
		sl := ix.slots[op-ix.base]
		if sl.state != slotIntact {
			return false
		}
		head = auditNext(s.audits, &s.sha, &s.auditIn, head, op, sl.bodySHA)
	}
	return head == s.sb.State.AuditHead
}

// mayReplayLost reports whether a lost checkpoint may be replaced by a replay from op 0
// (replayLostCheckpoint), as far as the superblock tells: the scan then keeps every body.
func (s *Storage) mayReplayLost() bool {
	return s.checkpointLost && s.opts.ReplayOpsMax > 0 && s.sb.Checkpoint.Audited == s.sb.State.CheckpointOp
}

// install makes the assembled log the storage's index and fills in the recovery.
func (s *Storage) install(rec *Recovery, scans []segmentScan) {
	cp := s.sb.State.CheckpointOp
	ix := s.assemble(scans)
	s.slotBase, s.head, s.slots, s.segments = ix.base, ix.head, ix.slots, ix.segments
	s.auditOp, s.auditHead = cp, s.sb.State.AuditHead
	rec.State = s.sb.State
	rec.Faulty = ix.faulty(cp)
	for _, op := range rec.Faulty {
		if p := ix.persist[op]; p.state == recordIntact {
			if rec.FaultyPrefix == nil {
				rec.FaultyPrefix = map[uint64][]byte{}
			}
			rec.FaultyPrefix[op] = p.prefix
		}
	}
	s.unrecorded = nil
	for op := cp + 1; op <= s.head; op++ {
		if s.slot(op).state == slotIntact {
			rec.Entries = append(rec.Entries, Entry{Op: op, Body: ix.bodies[op]})
			// A damaged record of an intact entry is written again too: left damaged, the
			// entry was the op's only copy, and a later rot of it at the top of the log read
			// as an append that never finished (storage crash seed 45826: op 4's record
			// sector unreadable at one Open, zeros again at the next, and op 4 dropped when
			// its entry rotted). So is one that verifies as another op's (a misdirected
			// write's landing): recovery reads it as absent at the top of the log, so the same
			// rot dropped the op (TestForeignRecordOverAnIntactEntryIsWrittenAgain). If it
			// is a stray that stands for its op's record, placeStrays, which runs first, has
			// written that record in its own place.
			p, ok := ix.persist[op]
			if !ok || p.state == recordAbsent || p.state == recordDamaged {
				s.unrecorded = append(s.unrecorded, Entry{Op: op, Body: ix.bodies[op]})
			}
			if ok && p.state == recordDamaged {
				reason := "record damaged (written again at open)"
				if p.foreign {
					reason = "record sector holds another op's record or mark (written again at open)"
				}
				rec.Rewritten = append(rec.Rewritten, Problem{File: segmentName(s.segmentOf(op)),
					Offset: s.recordOffset(op), Op: op, Reason: reason})
			}
		}
	}
	s.recordedAbove = s.recordsAbove(scans)
	s.recordedEnds = recordedEnds(scans, cp, uint64(s.opts.SegmentEntriesMax))
	s.markedOver(marksAbove(scans, cp, uint64(s.opts.SegmentEntriesMax)))
	s.strays = nil
	for op := cp + 1; op <= s.head; op++ {
		if p := ix.persist[op]; p.state == recordIntact && p.stray != nil {
			s.strays = append(s.strays, strayRecord{persistRecord: p, at: s.recordOffset(op)})
		}
	}
	s.unmarked = nil
	for _, op := range rec.Faulty {
		// Another op's record or mark over op's record sector (foreign: a misdirected write's
		// landing) is no record of op: recovery reads it as absent at the top of the log
		// (dropUnfinished), so op gets a faulty mark too (storage crash seed 2200735971: op 4,
		// faulty under a damaged checkpoint with op 5's record over its own, lost once the
		// superblock forgot the checkpoint; TestFaultyOpUnderAForeignRecordGetsAFaultyMark).
		if p := ix.persist[op]; (p.state == recordAbsent && !p.faulty) || p.foreign {
			s.unmarked = append(s.unmarked, op)
		}
	}
	s.invariants()
	assert.That(len(rec.Entries)+len(rec.Faulty) == int(s.head-cp), "storage: recovery lost ops")
}

// recordedEnds maps each op at or below cp in cp's segment whose record sector holds an intact
// record of it to where the entry the record names ends (Storage.recordedEnds).
func recordedEnds(scans []segmentScan, cp, segmentEntries uint64) map[uint64]int64 {
	ends := map[uint64]int64{}
	for _, sc := range scans {
		if sc.index != cp/segmentEntries {
			continue
		}
		for i, p := range sc.persist {
			if op := sc.index*segmentEntries + uint64(i); op >= 1 && op <= cp && p.state == recordIntact && p.header.Op == op {
				ends[op] = p.header.Offset + p.header.Size()
			}
		}
	}
	return ends
}

// marksAbove lists the ops above cp whose record sectors the scans found holding a mark, or
// could not read: a mark a read error hid at this Open reads again later, and a record write
// over it that went astray left it in place (storage crash seed 2041284012: op 3's distrust
// mark, unreadable at one Open, outlived the misdirected record of op 3 appended again).
func marksAbove(scans []segmentScan, cp, segmentEntries uint64) []uint64 {
	var ops []uint64
	for _, sc := range scans {
		for i, p := range sc.persist {
			if op := sc.index*segmentEntries + uint64(i); op > cp && (p.tombstone || p.state == recordDamaged) {
				ops = append(ops, op)
			}
		}
	}
	return ops
}

// recordsAbove lists the ops above the head, in the segment of head+1, whose record sectors
// hold an intact record of their own. (A damaged sector names no op: it stays as it is, for
// verify to report.) Recovery gave those ops up
// (unfinished appends have no record; these are ops a fallback left unaudited, or dropped
// from the top as faulty), and a record left in place would bring one back, header and all,
// at the next boot, once later appends had moved the head past the cut (swarm seed
// 2026552870: a view-12 op 248 given up at a fallback to checkpoint 192 came back under
// commit number 270 two boots later).
func (s *Storage) recordsAbove(scans []segmentScan) []uint64 {
	k := s.segmentOf(s.head + 1)
	var ops []uint64
	for _, sc := range scans {
		if sc.index != k {
			continue
		}
		for o := s.head + 1; o <= s.segmentLast(k); o++ {
			if i := o % uint64(s.opts.SegmentEntriesMax); i < uint64(len(sc.persist)) &&
				sc.persist[i].state == recordIntact {
				ops = append(ops, o)
			}
		}
	}
	return ops
}
