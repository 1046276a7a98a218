package scenarios

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"vopr/cluster/storage"
	"vopr/faults"
	"vopr/internal/storagemodel"
)

// placedEntry is an intact entry found in a segment image: its op, where it lies, its size.
type placedEntry struct {
	op           uint64
	offset, size int64
}

// placedEntries scans a segment image sector by sector for intact entries that name their
// own offset (found by content, never by the engine's layout).
func placedEntries(image []byte) []placedEntry {
	var out []placedEntry
	for at := int64(0); at+storage.SectorSize <= int64(len(image)); {
		h, _, err := storage.DecodeEntry(image[at:])
		if err != nil || h.Offset != at {
			at += storage.SectorSize
			continue
		}
		out = append(out, placedEntry{op: h.Op, offset: at, size: h.Size()})
		at += h.Size()
	}
	return out
}

func (e *storeEpisode) segments() []string {
	return slices.DeleteFunc(e.disk.Names(), func(n string) bool { return !strings.HasPrefix(n, "log-") })
}

// find locates op's durable entry in its segment (the last copy there: the newest). A copy
// elsewhere is a misdirected write's, which an earlier boot's damage may have left (storage
// crash seed 86058: boot 3 took boot 1's copy of op 6 in segment 0 for op 6's entry).
func (e *storeEpisode) find(op uint64) (string, placedEntry, bool) {
	name := segmentFileName4(op)
	var found placedEntry
	ok := false
	for _, p := range placedEntries(e.disk.Durable(name)) {
		if p.op == op {
			found, ok = p, true
		}
	}
	return name, found, ok
}

// segmentFileName4 is the name of op's segment file under storageEpisodeOptions.
func segmentFileName4(op uint64) string {
	return fmt.Sprintf("log-%016x", op/uint64(storageEpisodeOptions.SegmentEntriesMax))
}

// victims are the acknowledged ops above the checkpoint that no operation in flight touches
// and that no fault of this boot damaged yet (one fault per op: a misdirected record write
// that landed on its own entry, then that sector corrupted, is indistinguishable from an
// append that never finished).
func (e *storeEpisode) victims() []uint64 {
	var ops []uint64
	for op := e.m.CP + 1; op <= e.m.Head; op++ {
		if _, ok := e.m.Log[op]; ok && !e.damaged[op] && !e.m.PendingMayDrop(op) && !e.m.PendingWrites(op) &&
			!(e.m.PendingCheckpoint() && op <= e.m.Pending.Op) {
			ops = append(ops, op)
		}
	}
	return ops
}

// damage aims one fault at an acknowledged copy, after the crash and before Open, or, in a
// third of the boots that draw none (their own stream, so that the others draw as before),
// takes the identity of the newest ops at once (damageTail).
func (e *storeEpisode) damage() {
	switch k := e.rng.IntN(6); {
	case k == 0:
		if e.tail.IntN(3) == 0 {
			e.damageTail()
		} else if e.runs.IntN(2) == 0 {
			e.damageRun()
		}
	case k == 1 || k == 2:
		e.damageEntry(e.rng.IntN(3) == 0)
	case k == 3 || k == 4:
		e.misdirect()
	case k == 5:
		before := e.checkpointDamaged
		e.damageCheckpoint()
		if e.checkpointDamaged != before {
			e.damageAboveCheckpoint()
			e.damagePrevious()
		}
	}
}

func (e *storeEpisode) damageEntry(identity bool) {
	ops := e.victims()
	if len(ops) == 0 {
		return
	}
	e.damageOp(ops[e.rng.IntN(len(ops))], identity, e.rng)
}

// damageTail takes the identity of the newest two or three acknowledged ops (their entries
// and records corrupt or unreadable): a failing region at the log's tail. Their damaged
// records prove that their appends finished, so Open must hold them faulty, never drop them
// as appends that never finished (the room rule, recovery.go's damagedRecordEvidence; PAR's
// storage_matrix5 seed 106 had the two newest lost so).
func (e *storeEpisode) damageTail() {
	n := 2 + e.tail.IntN(2)
	ops := e.victims()
	if len(ops) < n {
		return
	}
	top := ops[len(ops)-n:]
	if top[n-1] != e.m.Head || top[n-1]-top[0] != uint64(n-1) {
		return // the newest ops, one after another
	}
	for _, op := range top {
		e.damageOp(op, true, e.tail)
	}
	e.counters["storage_episode.damage.tail"]++
}

// damageOp damages op's entry (a sector of it, corrupt or unreadable, as r draws), and with
// identity its record too.
func (e *storeEpisode) damageOp(op uint64, identity bool, r *rand.Rand) {
	name, p, ok := e.find(op)
	if !ok {
		return // an acknowledged entry not on disk: the check reports it
	}
	sector := p.offset
	if r.IntN(2) == 0 {
		sector = p.offset + p.size - storage.SectorSize
	}
	corrupt := r.IntN(2) == 0
	hit := func(at int64) {
		if corrupt {
			e.disk.CorruptSector(name, at)
		} else {
			e.disk.LatentSectorError(name, at)
		}
	}
	if identity {
		if record, ok := faults.RecordSectorOf(e.disk.Pristine(name), p.offset); ok {
			hit(record)
			e.counters["storage_episode.damage.identity"]++
		}
	}
	hit(sector)
	e.damaged[op], e.entryHit[op] = true, true
	e.counters["storage_episode.damage.entry"]++
}

// misdirect writes an acknowledged entry's bytes at the same offset of another segment
// file: its header names its own offset there, and only the segment it names tells it is
// out of place. The ops it lands on are damaged.
func (e *storeEpisode) misdirect() {
	ops := e.victims()
	if len(ops) == 0 {
		return
	}
	name, p, ok := e.find(ops[e.rng.IntN(len(ops))])
	if !ok {
		return
	}
	var targets []string
	for _, other := range e.segments() {
		if other != name && int64(len(e.disk.Durable(other))) >= p.offset+p.size {
			targets = append(targets, other)
		}
	}
	if len(targets) == 0 {
		return
	}
	target := targets[e.rng.IntN(len(targets))]
	var hit, newestHit []uint64
	placed := placedEntries(e.disk.Durable(target))
	for i, q := range placed {
		if q.offset < p.offset+p.size && p.offset < q.offset+q.size {
			if e.damaged[q.op] {
				return // one fault per op (victims)
			}
			hit = append(hit, q.op)
			if !slices.ContainsFunc(placed[i+1:], func(later placedEntry) bool { return later.op == q.op }) {
				newestHit = append(newestHit, q.op) // its newest copy, as find sees it
			}
		}
	}
	for _, op := range hit {
		e.damaged[op] = true
	}
	for _, op := range newestHit {
		e.entryHit[op] = true
	}
	entry := e.disk.Durable(name)[p.offset : p.offset+p.size]
	if err := e.wait(func(done func(error)) { e.disk.WriteAt(target, entry, p.offset, done) }); err != nil {
		e.fail("misdirect write: %v", err)
		return
	}
	if err := e.wait(func(done func(error)) { e.disk.Sync(target, done) }); err != nil {
		e.fail("misdirect sync: %v", err)
		return
	}
	e.counters["storage_episode.damage.misdirect"]++
}

// damageCheckpoint corrupts a sector of the newest acknowledged checkpoint's file.
func (e *storeEpisode) damageCheckpoint() {
	if e.m.CP == 0 || e.m.PendingCheckpoint() || e.checkpointDamaged != 0 {
		return
	}
	name := fmt.Sprintf("checkpoint-%016x", e.m.CP)
	size := int64(len(e.disk.Durable(name)))
	if size == 0 {
		return
	}
	sectors := (size + storage.SectorSize - 1) / storage.SectorSize
	e.disk.CorruptSector(name, storage.SectorSize*e.rng.Int64N(sectors))
	e.checkpointDamaged = e.m.CP
	e.counters["storage_episode.damage.checkpoint"]++
}

// check holds what Open recovered to the model.
func (e *storeEpisode) check(rec *storage.Recovery) {
	m := e.m
	from, fellBack := e.checkCheckpoint(rec)
	if e.failure != "" {
		return
	}
	if rec.State.View != m.View && !(m.PendingIs(storagemodel.SaveState) && rec.State.View == m.Pending.View) {
		e.fail("recovered view %d, acknowledged %d", rec.State.View, m.View)
		return
	}
	if e.checkFields(rec); e.failure != "" {
		return
	}
	after, upTo := m.Unaudited(e.checkpointDamaged)
	got := map[uint64]bool{}
	for _, entry := range rec.Entries {
		got[entry.Op] = true
		if fellBack && entry.Op > after && entry.Op <= upTo {
			// InstallCheckpoint's contract: the log under a peer's checkpoint need not be its
			// history, so a fallback past it holds those entries faulty.
			e.fail("op %d, which this log never audited under installed checkpoint %d (audited to %d), "+
				"recovered intact after the fallback to %d", entry.Op, upTo, after, rec.State.CheckpointOp)
			return
		}
		same := func(b []byte) bool { return bytes.Equal(b, entry.Body) }
		inFlight := (m.PendingWrites(entry.Op) && bytes.Equal(m.Pending.Body, entry.Body)) ||
			slices.ContainsFunc(e.unsettled[entry.Op], same) ||
			// A mark is one copy: once a misdirected write destroyed the one over this op's
			// record, an entry it kept from coming back (an older generation, or an append
			// that never finished) may (storage crash seed 2041488311).
			(e.recordHit[entry.Op] && slices.ContainsFunc(e.written[entry.Op], same))
		if m.Disowned[entry.Op] && !inFlight && !e.recordHit[entry.Op] {
			e.fail("op %d, distrusted by an earlier boot's fallback and never written since, recovered intact", entry.Op)
			return
		}
		acked, ok := m.Log[entry.Op]
		if !inFlight && !(ok && entry.Op <= m.Head && bytes.Equal(acked, entry.Body)) {
			e.fail("op %d recovered with a body that was never acknowledged there nor in flight", entry.Op)
			return
		}
	}
	faulty := map[uint64]bool{}
	for _, op := range rec.Faulty {
		faulty[op] = true
	}
	for _, op := range rec.Faulty {
		if !m.PendingWrites(op) && !e.damaged[op] && !e.pastHeadRot[op] && !(fellBack && op <= e.checkpointDamaged) &&
			!e.staleCopies(op) {
			if !e.belowTakenRecord(op, faulty) {
				e.fail("op %d reported faulty, but nothing damaged it and no append of it was in flight", op)
				return
			}
			e.counters["coverage.storage_episode.faulty_below_taken_record"]++
		}
		if prefix, ok := rec.FaultyPrefix[op]; ok && !e.acknowledgedPrefix(op, prefix) {
			// A record names the op's entry: one that outlived a newer entry of its op would
			// give the replica an identity (a prepare) the log no longer holds there.
			e.fail("op %d reported faulty with the identity %q, the start of no body acknowledged there nor in flight",
				op, prefix)
			return
		}
		if m.PendingIs(storagemodel.Append) && m.Pending.Op == op && op > m.Head && !e.damaged[op] &&
			!(fellBack && op <= e.checkpointDamaged) && !e.staleCopies(op) && !e.damagedAbove(op) {
			// The record follows the entry's sync, so the crash of a fresh append leaves the
			// entry intact or leaves no record: evidence of it is a record that outlived an
			// entry that never became durable.
			e.fail("op %d, a fresh append in flight at the crash, reported faulty: its record outlived an entry that was never durable", op)
			return
		}
	}
	for op := rec.State.CheckpointOp + 1; fellBack && op <= e.checkpointDamaged; op++ {
		if !got[op] && !faulty[op] {
			// Every op up to a checkpoint was committed: the replica's log holds it, and a
			// fallback that drops one lets the replica offer a log without it in a view change.
			e.fail("op %d, under damaged checkpoint %d, neither recovered nor faulty after the fallback to %d",
				op, e.checkpointDamaged, rec.State.CheckpointOp)
			return
		}
	}
	for op := from + 1; op <= m.Head; op++ {
		if m.PendingMayDrop(op) || got[op] || (faulty[op] && (e.damaged[op] || e.staleCopies(op))) || e.bothCopies[op] {
			continue
		}
		e.fail("acknowledged op %d lost: neither recovered nor reported faulty (checkpoint %d, faulty %v)",
			op, rec.State.CheckpointOp, rec.Faulty)
		return
	}
}

// staleCopies reports whether op's segment holds what makes op's place ambiguous to any
// recovery without a fault of op's own: two intact copies of op (an earlier Open that could
// not see one whole, under a read error, could not cut it, and op was appended again
// above it: storage crash seed 24714), or an intact copy of op or a later op out of its place
// (a misdirected write's landing, which outlived the truncation of its op: seed 11731). The
// engine then holds op faulty rather than guess, and the replica repairs it.
func (e *storeEpisode) staleCopies(op uint64) bool {
	image := e.disk.Durable(segmentFileName4(op))
	placed := 0
	for _, p := range placedEntries(image) {
		if p.op == op {
			placed++
		}
	}
	if placed > 1 {
		return true
	}
	for at := int64(0); at+storage.SectorSize <= int64(len(image)); at += storage.SectorSize {
		// As a read sees it: a landing is an overlay on the durable bytes.
		sector, err := e.disk.Visible(segmentFileName4(op), at, storage.SectorSize)
		if h, herr := storage.DecodeHeader(sector); err == nil && herr == nil && h.Offset != at && h.Op >= op {
			return true
		}
	}
	return false
}

// belowTakenRecord reports whether op lies above the model's head and below an op whose
// record sector a fault hit (recordHit) and that the recovery holds faulty: Open may take
// such a sector for the record of a finished append (settleMisdirect), and then the log runs
// through op, whose place holds no acknowledged entry (here an unfinished append's, which an
// earlier Open distrusted), so op is faulty, never a gap in the log (storage crash seed
// 811257375158: the cut repair of head op 17, misdirected, landed on op 19's record sector;
// Open held op 19 faulty, and op 18 between, whose unfinished append boot 2 had distrusted,
// with it). An acknowledged op is never excused so: it comes back intact unless damaged.
func (e *storeEpisode) belowTakenRecord(op uint64, faulty map[uint64]bool) bool {
	if op <= e.m.Head {
		return false
	}
	for o := range e.recordHit {
		if o > op && faulty[o] {
			return true
		}
	}
	return false
}

// damagedAbove reports whether an op above op is damaged and reported faulty: the log then
// reaches past op, so op is in it, faulty if its entry is not whole, whatever its record
// says (storage crash seed 29881: op 11's record sector, hit by a misdirected write, kept
// the log past op 10's torn append).
func (e *storeEpisode) damagedAbove(op uint64) bool {
	for o := range e.damaged {
		if o > op {
			return true
		}
	}
	return false
}

// acknowledgedPrefix reports whether prefix starts op's acknowledged body, or the body of the
// operation in flight that writes op.
func (e *storeEpisode) acknowledgedPrefix(op uint64, prefix []byte) bool {
	m := e.m
	if body, ok := m.Log[op]; ok && bytes.HasPrefix(body, prefix) {
		return true
	}
	return m.PendingWrites(op) && bytes.HasPrefix(m.Pending.Body, prefix)
}

// checkCheckpoint checks the recovered checkpoint; it returns the op from which every
// acknowledged entry must come back, and whether Open fell back to an older checkpoint.
func (e *storeEpisode) checkCheckpoint(rec *storage.Recovery) (uint64, bool) {
	m, cp := e.m, rec.State.CheckpointOp
	if e.checkpointDamaged != 0 && rec.CheckpointDamaged == 0 && !rec.CheckpointLost &&
		(m.PendingIs(storagemodel.SaveState) || m.PendingCheckpoint()) {
		e.checkpointDamaged = 0 // the superblock write in flight persisted an earlier boot's fallback
	}
	if e.checkpointDamaged != 0 {
		switch {
		case rec.CheckpointLost:
			if msg := e.checkLost(cp); msg != "" {
				e.fail("%s", msg)
				return 0, false
			}
			e.counters["storage_episode.checkpoint_lost"]++
			return cp, false
		case cp >= e.checkpointDamaged:
			e.fail("checkpoint %d's file was corrupted, yet Open took checkpoint %d (damaged reported: %d)",
				e.checkpointDamaged, cp, rec.CheckpointDamaged)
		case rec.CheckpointDamaged != e.checkpointDamaged:
			e.fail("fell back to checkpoint %d but reports checkpoint %d damaged, not %d", cp,
				rec.CheckpointDamaged, e.checkpointDamaged)
		case !bytes.Equal(rec.Snapshot, m.Snapshots[cp]):
			e.fail("fell back to checkpoint %d with a snapshot that is not the one acknowledged there", cp)
		case rec.State.AuditHead != m.Audits[cp]:
			want := m.Audits[cp]
			e.fail("fell back to checkpoint %d with audit head %x, but that checkpoint's was %x", cp,
				rec.State.AuditHead[:8], want[:8])
		case cp == 0 && !e.replayableFromOne(e.checkpointDamaged):
			e.fail("fell back from checkpoint %d to op 0, but the segments of ops 1-%d were not all on disk at the Open (%v): "+
				"the log cannot replay the ops up to the checkpoint, which must be reported lost",
				e.checkpointDamaged, e.checkpointDamaged, e.openSegments)
		}
		e.counters["storage_episode.checkpoint_fallback"]++
		if cp == 0 && e.checkpointDamaged > uint64(storageEpisodeOptions.SegmentEntriesMax) {
			e.counters["storage_episode.later_checkpoint_replayed"]++ // checkReplayableLater's case, held
		}
		return e.checkpointDamaged, true
	}
	inFlight := m.PendingCheckpoint() && cp == m.Pending.Op
	switch {
	case cp != m.CP && !inFlight:
		e.fail("recovered checkpoint %d, acknowledged %d", cp, m.CP)
	case rec.CheckpointDamaged != 0 || rec.CheckpointLost:
		e.fail("checkpoint %d reported damaged or lost (%d, %t) though nothing damaged it", cp,
			rec.CheckpointDamaged, rec.CheckpointLost)
	case cp > 0 && !inFlight && !bytes.Equal(rec.Snapshot, m.Snapshots[cp]):
		e.fail("checkpoint %d recovered with another snapshot than the one acknowledged", cp)
	case inFlight && !bytes.Equal(rec.Snapshot, m.Pending.Snapshot):
		e.fail("checkpoint %d (in flight) recovered with another snapshot", cp)
	}
	return cp, false
}

// checkLost judges a report that the state at checkpoint cp is lost. What is lost is the
// newest checkpoint, the one the superblock names: the replica fetches a checkpoint at or
// above the op it reports lost, so a recovery that named an older op (a fallback's target that
// failed to read too) would let it install a state behind the checkpoint it had made durable
// and execute again ops whose effects that checkpoint already held. And it is lost only when
// no replay from op 0 could stand for it (checkReplayableLost). The violation, or "".
func (e *storeEpisode) checkLost(cp uint64) string {
	if cp != e.checkpointDamaged {
		return fmt.Sprintf("reports the state at checkpoint %d lost, but the newest checkpoint, the one the superblock names, is %d: "+
			"a lost state is the newest checkpoint's", cp, e.checkpointDamaged)
	}
	return e.checkReplayableLost(cp)
}

// replayableFromOne reports whether the log can replay ops 1 through cp as far as the files
// go: the segment of every one of them (0 through cp's) was on disk when the Open began. A
// compacted or never-written segment leaves ops that no replay from the format's state can
// execute, whatever the superblock says; the damaged entries of segments on disk come back
// faulty, to be repaired from peers, so those do not matter here.
func (e *storeEpisode) replayableFromOne(cp uint64) bool {
	for k := uint64(0); k <= cp/uint64(storageEpisodeOptions.SegmentEntriesMax); k++ {
		if !slices.Contains(e.openSegments, fmt.Sprintf("log-%016x", k)) {
			return false
		}
	}
	return true
}

// checkReplayableLost judges a report that checkpoint cp is lost against the package's
// contract (doc.go): when a checkpoint does not verify and no previous one does either, Open
// falls back to op 0, the format's empty state, while the log still holds every op from 1,
// which it does for a first checkpoint (an op within the first segment's reach, cp <=
// SegmentEntriesMax) whose segments from the first through cp's were all on disk at the Open
// (never compacted): damaged entries among them come back faulty, to be repaired, and ops a
// peer's snapshot stood for come back distrusted, but the replica keeps the committed ops its
// peers may lack. The violation, or "".
func (e *storeEpisode) checkReplayableLost(cp uint64) string {
	perSegment := uint64(storageEpisodeOptions.SegmentEntriesMax)
	if cp == 0 || cp > perSegment || !e.replayableFromOne(cp) || e.rottenBelow(cp) {
		return e.checkReplayableLater(cp)
	}
	e.counters["coverage.storage_episode.first_checkpoint_replayable"]++
	return fmt.Sprintf("checkpoint %d reported lost, but it is a first checkpoint (op <= %d) and the segments of ops 1-%d were all on disk: Open must fall back to op 0 and replay them",
		cp, perSegment, cp)
}
