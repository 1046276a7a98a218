package storage

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"vopr/cluster/checksum"
	"vopr/internal/assert"
)

// Append writes an entry and syncs it. e.Op must be in (CheckpointOp, Head()+1] and above
// the audited (committed) ops. An entry for an op that is already in the log replaces it and
// drops every later op (a view change's truncation, done first), unless it is the entry the
// log already names there (a repair of a damaged entry, or a rewrite of an intact one): that
// one is rewritten in place and the later ops stay (see rewritable). Errors: ErrTooLarge for a
// body beyond EntryBodyMax; ErrFaulty if the previous op is faulty (its chain sum, the new
// entry's parent, is unknown: repair it first); ErrNoSpace if the disk (less ReserveBytes)
// cannot take the entry, after trying compaction, in which case the log is as before (or, for
// a replacing append, truncated to e.Op-1).
//
// Auto-compaction: if usage is at or above AutoCompactPercent when an Append starts, it first
// removes the segments wholly below the newest checkpoint (Stats.AutoCompactions).
//
// e.Body is read-only from the call on, for the caller too: the storage keeps it, uncopied,
// until the append completes (the replica appends the prepares its log keeps unchanged).
func (s *Storage) Append(e Entry, done func(error)) {
	assert.That(done != nil, "storage: Append needs a callback")
	a := s.newAppendOp()
	a.e, a.done = e, done
	s.submit(a.runFn)
}

// appendOp is one Append in the queue: its run (the operation), the callback appendStart
// completes and the delivery finish schedules, each made once per appendOp, which the
// storage reuses after the delivery (an append used to allocate a closure for each).
type appendOp struct {
	s      *Storage
	e      Entry
	done   func(error)
	finish func(func())
	err    error

	runFn     func(finish func(func()))
	startedFn func(error)
	deliverFn func()
}

func (s *Storage) newAppendOp() *appendOp {
	if a := s.freeAppends.take(); a != nil {
		return a
	}
	a := &appendOp{s: s}
	a.runFn, a.startedFn, a.deliverFn = a.run, a.started, a.deliver
	return a
}

func (a *appendOp) run(finish func(func())) {
	a.finish = finish
	a.s.appendStart(a.e, a.startedFn)
}

func (a *appendOp) started(err error) {
	a.err = err
	a.finish(a.deliverFn)
}

// deliver hands the outcome to the caller, after putting the appendOp back for reuse:
// nothing refers to it once its delivery runs.
func (a *appendOp) deliver() {
	done, err := a.done, a.err
	a.e, a.done, a.finish, a.err = Entry{}, nil, nil, nil
	a.s.freeAppends.put(a)
	done(err)
}

func (s *Storage) appendStart(e Entry, done func(error)) {
	assert.That(e.Op > s.sb.State.CheckpointOp, "storage: append at or below the checkpoint")
	assert.That(e.Op > s.auditOp, "storage: append replaces a committed op")
	assert.That(e.Op <= s.head+1, "storage: append leaves a gap")
	if len(e.Body) > s.opts.EntryBodyMax {
		done(fmt.Errorf("%w: body of %d bytes", ErrTooLarge, len(e.Body)))
		return
	}
	if _, err := s.parentOf(e.Op); err != nil {
		done(err) // before any truncation: a refused append changes nothing
		return
	}
	if e.Op <= s.head {
		if data, ok := s.rewritable(e); ok {
			s.rewrite(e, data, done)
			return
		}
	}
	if e.Op > s.head && !s.autoCompactDue() && !s.checkpointRegionDue(e.Op-1) {
		s.appendWrite(e, true, done) // the sequence below when it has nothing else to do
		return
	}
	sequence(done,
		func(next func(error)) { s.maybeAutoCompact(next) },
		func(next func(error)) {
			if e.Op <= s.head || s.checkpointRegionDue(e.Op-1) {
				s.truncateAfter(e.Op-1, next)
				return
			}
			next(nil)
		},
		func(next func(error)) { s.appendWrite(e, true, next) },
	)
}

// Rewritable reports whether e is the entry the log already names at e.Op (its own chain
// sum if the slot is intact or its record known, else the next op's parent) and an Append of
// e, run now, would write it over its own extent and keep every later op (a repair of a
// damaged entry, or a rewrite of an intact one), rather than replace the log from e.Op on. A
// damaged slot that nothing names (its record and the next op unknown too) is not: Append
// writes it in place unchecked, and only the caller's writing the next ops again checks the
// chain (see rewritableUnknown), so those later ops are not known to stay. A caller that must
// know which ops stay durable asks this, then calls Rewrite.
func (s *Storage) Rewritable(e Entry) bool {
	if e.Op <= s.sb.State.CheckpointOp || e.Op <= s.auditOp || e.Op >= s.head || len(e.Body) > s.opts.EntryBodyMax {
		return false
	}
	if _, err := s.parentOf(e.Op); err != nil {
		return false
	}
	sl, next := s.slot(e.Op), s.slot(e.Op+1)
	if sl.state != slotIntact && !sl.known && next.state != slotIntact && !next.known {
		return false // nothing names the entry here
	}
	_, ok := s.rewritable(e)
	return ok
}

// Rewrite is Append for an entry that is Rewritable: it writes e over its own extent and
// syncs it, never dropping a later op. If at its turn in the queue e is no longer rewritable
// (an operation queued before it changed the log), it fails with ErrNotRewritable and
// changes nothing.
func (s *Storage) Rewrite(e Entry, done func(error)) {
	assert.That(done != nil, "storage: Rewrite needs a callback")
	e.Body = append([]byte{}, e.Body...)
	s.submit(func(finish func(func())) {
		end := func(err error) { finish(func() { done(err) }) }
		if !s.Rewritable(e) {
			end(fmt.Errorf("%w: op %d", ErrNotRewritable, e.Op))
			return
		}
		data, _ := s.rewritable(e)
		s.rewrite(e, data, end)
	})
}

// RewritableRun reports how many entries of run (consecutive ops from run[0].Op, each the
// prepare the caller's log names there) RewriteRun would write over their own extents,
// keeping every later op; 0 if none, or if run[0] is Rewritable alone. It places a run of
// damaged entries that nothing names
// (their records damaged too) from the entry the disk knows above them: laid back to back,
// the run ends where that entry starts, and the run's last chain sum must be that entry's
// parent, so every entry of it is the one the later ops chain to. Entry by entry, the lowest
// op of such a run has no known place when the entry below it is damaged and unknown too
// (the checkpoint's own entry, which nothing writes again): its region swallows the run, and
// the repair's Append truncated the log after it, dropping durable, committed, acknowledged
// ops (swarm seed 20266198). An Append of such a run's lowest op, when the op above it is
// unknown too, writes it in place unchecked, so a caller cannot know that the ops above stay
// and writes them all again: placed as a run, checked against the known entry's parent first,
// they stay (swarm seed 2026283005: 38 committed ops written again, one synced entry at a
// time on a slow disk, before the replica acknowledged a new op). wants reports that run
// stops short of that known entry: the caller needs the missing prepares to place it, rather
// than truncate.
func (s *Storage) RewritableRun(run []Entry) (n int, wants bool) {
	data, wants := s.rewritableRun(run)
	return len(data), wants
}

// RewriteRun writes the first RewritableRun(run) entries of run over their own extents, in op
// order, each synced with its record (writeEntry), never dropping a later op; done gets how
// many are durable. If at its turn in the queue the run is no longer rewritable, it fails
// with ErrNotRewritable and changes nothing.
func (s *Storage) RewriteRun(run []Entry, done func(written int, err error)) {
	assert.That(done != nil, "storage: RewriteRun needs a callback")
	s.writeRun(run, "run", func(run []Entry) [][]byte {
		data, _ := s.rewritableRun(run)
		return data
	}, done)
}

// writeRun writes, at its turn in the queue, the entries encode gives for a copy of run (none:
// ErrNotRewritable, naming what), each over its own extent in op order, synced with its
// record; done gets how many are durable. RewriteRun and RechainRun differ only in encode.
func (s *Storage) writeRun(run []Entry, what string, encode func([]Entry) [][]byte, done func(written int, err error)) {
	run = slices.Clone(run)
	for i := range run {
		run[i].Body = append([]byte{}, run[i].Body...)
	}
	s.submit(func(finish func(func())) {
		written := 0
		end := func(err error) { finish(func() { done(written, err) }) }
		data := encode(run)
		if len(data) == 0 {
			end(fmt.Errorf("%w: %s from op %d", ErrNotRewritable, what, run[0].Op))
			return
		}
		s.clampUnknownBelow(run[0].Op, offsetOf(data[0]))
		forEach(len(data), func(i int, next func(error)) {
			s.rewrite(run[i], data[i], func(err error) {
				if err == nil {
					written++
				}
				next(err)
			})
		}, end)
	})
}

// rewritableRun returns the encoded entries RewriteRun would write (see RewritableRun).
func (s *Storage) rewritableRun(run []Entry) (data [][]byte, wants bool) {
	if len(run) == 0 {
		return nil, false
	}
	first := run[0].Op
	if first <= s.sb.State.CheckpointOp || first <= s.auditOp || first >= s.head {
		return nil, false
	}
	parent, err := s.parentOf(first)
	if err != nil {
		return nil, false
	}
	if s.Rewritable(run[0]) {
		return nil, false // Rewrite writes it in place alone
	}
	k := first // the first op above the run whose entry the disk knows
	for ; k <= s.head && s.slot(k).state != slotIntact && !s.slot(k).known; k++ {
	}
	if k == first || k > s.head || s.segmentOf(k) != s.segmentOf(first) {
		return nil, false // known itself (Rewritable's), or nothing known above it
	}
	n := int(k - first)
	for i, e := range run[:min(n, len(run))] {
		if e.Op != first+uint64(i) || len(e.Body) > s.opts.EntryBodyMax {
			return nil, false
		}
	}
	if len(run) < n {
		return nil, true
	}
	next := s.slot(k)
	offsets := make([]int64, n)
	end := next.offset
	for i := n - 1; i >= 0; i-- {
		end -= entrySize(len(run[i].Body))
		offsets[i] = end
	}
	if offsets[0] < s.knownEndBelow(first) {
		return nil, false // it would overlap an entry the disk keeps
	}
	data = make([][]byte, n)
	for i, e := range run[:n] {
		data[i] = EncodeEntry(s.sb.State.Cluster, e.Op, offsets[i], parent, e.Body)
		h, err := DecodeHeader(data[i])
		assert.That(err == nil, "storage: the entry just encoded does not decode")
		parent = h.Chain()
	}
	if parent != next.parent {
		return nil, false // another history than the one the later ops chain to
	}
	return data, false
}

// RechainableRun reports whether RechainRun would write run: the ops from run[0].Op (at or
// below the head, neither Rewritable nor RewritableRun's) up to the head, each the prepare the
// caller's log names there, whose ops above run[0] the disk holds as those same bodies (intact,
// or faulty of known identity) or of unknown identity below a known one (the run places
// them), while the chain sums they link by are not the ones run[0]
// needs: the parent of the first known entry above run[0] names another chain sum than the
// entries of run, encoded on the parent the disk has for run[0], end with. A caller that knows
// the ops above are its own (its prepare of each names the one below as parent) has the same
// ops under another chain, and no other log: the chain sum the ops above were written on was
// lost (a checkpoint installed by state sync over ops of unknown identity takes its file's
// checksum as its anchor). An Append of run[0] truncated the ops above it to write them again,
// and a crash before they were all written back lost acknowledged, committed ops the log view
// still held (swarm seed 2026753315: view 14's op 69, after a state sync to 64 over ops 64-65
// of unknown identity, as replica 1 became primary of view 17).
func (s *Storage) RechainableRun(run []Entry) bool {
	return s.rechainableRun(run) != nil
}

// RechainRun writes the entries of a RechainableRun over their own extents, in op order, each
// synced with its record (writeEntry), with the chain sums that link them from run[0]'s
// parent: it never drops an op, and a crash part way leaves the ops not yet written with their
// old entries, the first of them off the chain (faulty) and those above it intact. done gets
// how many are durable. If at its turn in the queue the run is no longer rechainable, it fails
// with ErrNotRewritable and changes nothing.
func (s *Storage) RechainRun(run []Entry, done func(written int, err error)) {
	assert.That(done != nil, "storage: RechainRun needs a callback")
	s.writeRun(run, "rechain", s.rechainableRun, done)
}

// rechainableRun returns the encoded entries RechainRun would write (see RechainableRun), or
// nil. Each run of ops of unknown identity, at the start of run or between known ops, is laid
// back to back below the next entry the disk knows (in its segment), as rewritableRun lays
// them, and never over the known entry below it; every other op must be known (intact, with
// the same body, or faulty with its record, whose chain sum the body gives again on its old
// parent) and is written at its own offset, in its own extent. Only the head's ops may not be
// unknown: nothing above them places them. Refusing unknown ops between known ones (a
// second loss of identity higher up) left the repair to an Append that truncated every op
// above it (swarm seed 2026919031: ops 129-131 and 134-136 of unknown identity under a
// checkpoint at 128 written on the fallback; the repair of op 129 cut view 9's ops 132-161,
// committed and acknowledged, and a crash before op 132 was written again lost it).
func (s *Storage) rechainableRun(run []Entry) [][]byte {
	if len(run) == 0 {
		return nil
	}
	first := run[0].Op
	if first <= s.sb.State.CheckpointOp || first <= s.auditOp || first >= s.head ||
		run[len(run)-1].Op != s.head || uint64(len(run)) != s.head-first+1 {
		return nil
	}
	parent, err := s.parentOf(first)
	if err != nil {
		return nil
	}
	for i, e := range run {
		if e.Op != first+uint64(i) || len(e.Body) > s.opts.EntryBodyMax {
			return nil
		}
	}
	if s.Rewritable(run[0]) {
		return nil
	}
	if n, _ := s.RewritableRun(run); n > 0 {
		return nil
	}
	cluster := s.sb.State.Cluster
	offsets := make([]int64, len(run))
	for i := 0; i < len(run); {
		e, sl := run[i], s.slot(run[i].Op)
		if sl.state != slotIntact && !sl.known {
			// A run of ops of unknown identity, at the start of run or between known ones: laid
			// back to back below the next entry the disk knows, never over the known entry
			// below (or the record area). Its ops have no chain sum to check; the caller's
			// prepares link them, and every known op above must still hold its own body.
			j := i
			for ; j < len(run) && s.slot(run[j].Op).state != slotIntact && !s.slot(run[j].Op).known; j++ {
			}
			if j == len(run) || s.segmentOf(run[j].Op) != s.segmentOf(e.Op) {
				return nil // nothing known above it in its segment places it
			}
			end := s.slot(run[j].Op).offset
			for x := j - 1; x >= i; x-- {
				end -= entrySize(len(run[x].Body))
				offsets[x] = end
			}
			if offsets[i] < s.knownEndBelow(e.Op) {
				return nil // it would overlap an entry the disk keeps
			}
			i = j
			continue
		}
		size := entrySize(len(e.Body))
		if sl.state == slotIntact && (sl.end-sl.offset != size || s.bodySum(e) != sl.bodySHA) {
			return nil // another body than the disk's
		}
		if sl.state != slotIntact {
			h, err := DecodeHeader(EncodeEntry(cluster, e.Op, sl.offset, sl.parent, e.Body))
			assert.That(err == nil, "storage: the entry just encoded does not decode")
			if sl.end-sl.offset < size || h.Chain() != sl.chain {
				return nil // another body than the one its record names
			}
		}
		offsets[i] = sl.offset
		i++
	}
	data := make([][]byte, len(run))
	for i, e := range run {
		data[i] = EncodeEntry(cluster, e.Op, offsets[i], parent, e.Body)
		h, err := DecodeHeader(data[i])
		assert.That(err == nil, "storage: the entry just encoded does not decode")
		parent = h.Chain()
	}
	return data
}

// knownEndBelow is where the nearest entry below op in its segment that the disk knows
// (intact, or faulty with its record) ends, or the segment's record area.
func (s *Storage) knownEndBelow(op uint64) int64 {
	for o := op - 1; o > 0 && s.segmentOf(o) == s.segmentOf(op); o-- {
		sl := s.slot(o)
		if sl == nil {
			break
		}
		if sl.state == slotIntact || sl.known {
			return sl.end
		}
	}
	return s.recordArea()
}

// clampUnknownBelow ends the regions of the unknown damaged entries just below op at offset,
// where op's rewritten entry starts: a later truncation below op cuts there, so that no
// rewritten entry above the cut is left in the file.
func (s *Storage) clampUnknownBelow(op uint64, offset int64) {
	for o := op - 1; o > 0 && s.segmentOf(o) == s.segmentOf(op); o-- {
		sl := s.slot(o)
		if sl == nil || sl.state == slotIntact || sl.known {
			return
		}
		sl.end = min(sl.end, offset)
	}
}

// offsetOf is the offset an encoded entry names.
func offsetOf(data []byte) int64 {
	h, err := DecodeHeader(data)
	assert.That(err == nil, "storage: the entry just encoded does not decode")
	return h.Offset
}

// rewritable returns the encoded entry for e.Op (at most the head) if it may overwrite its
// own extent without dropping the ops after it: it encodes to the entry the log already
// names at e.Op (the slot's chain sum if the slot is intact or known; the next op's parent
// if the slot is damaged and the next op intact) and fits the extent (exactly, unless the
// slot is known: then at its own offset, within its damaged region). Truncating to write it
// again would un-persist every later op, which the replica may have acknowledged: a crash
// before they are all written back would lose acknowledged writes (swarm seed 1866, before).
func (s *Storage) rewritable(e Entry) ([]byte, bool) {
	sl := s.slot(e.Op)
	parent, err := s.parentOf(e.Op)
	assert.That(err == nil, "storage: rewrite without a known parent")
	offset := s.rewriteOffset(e.Op, len(e.Body))
	if offset < s.appendOffset(e.Op) {
		return nil, false // it would overlap the entry below
	}
	data := EncodeEntry(s.sb.State.Cluster, e.Op, offset, parent, e.Body)
	h, err := DecodeHeader(data)
	assert.That(err == nil, "storage: the entry just encoded does not decode")
	if sl.state == slotIntact || sl.known {
		exact := sl.state == slotIntact
		fits := sl.end-offset == int64(len(data)) || (!exact && sl.end-offset >= int64(len(data)))
		if h.Chain() != sl.chain || !fits {
			return nil, false
		}
		return data, true
	}
	return s.rewritableUnknown(e.Op, offset, data, h.Chain())
}

// rewriteOffset is where op's entry lies, for a rewrite in place: its own offset if the disk
// knows it (intact, or faulty with its record); else just before the next entry of its
// segment that the disk knows; else after its predecessor (appendOffset). appendOffset alone
// misplaces the first entry above a checkpoint whose own entry is not in the index: the
// repair then truncated the whole segment, acknowledged ops included (campaign seed
// 20264457).
func (s *Storage) rewriteOffset(op uint64, bodySize int) int64 {
	sl := s.slot(op)
	if sl.state == slotIntact || sl.known {
		return sl.offset
	}
	next := s.slot(op + 1)
	if next != nil && (next.state == slotIntact || next.known) && s.segmentOf(op+1) == s.segmentOf(op) {
		return next.offset - entrySize(bodySize)
	}
	return s.appendOffset(op)
}

// rewritableUnknown decides for a damaged slot whose identity is unknown (its record is
// damaged too). The next op's entry, if the disk still knows it (intact, or faulty with its
// record), names this entry by its parent and starts where this one must end. If the next
// op is unknown as well, nothing can name the entry here: it is written in place if it fits
// the damaged region, and the chain is checked at the first known entry above, when the
// replica writes the next op again (a different history then fails that check and
// truncates). Truncating instead would un-persist intact later ops the replica may have
// acknowledged (swarm seeds 20261812, 20261952). The head is written in place too. Callers
// that replace a suffix (a view change) truncate it first: an append at or below the head is
// a repair.
func (s *Storage) rewritableUnknown(op uint64, offset int64, data []byte, chain checksum.Sum) ([]byte, bool) {
	sl, next := s.slot(op), s.slot(op+1)
	if next == nil {
		// The head: its damaged region runs to the end of the file, and nothing above it is
		// kept. Written in place, the op stays faulty if a crash cuts the write short;
		// truncated first, it was gone, record and all, until the new entry was durable, and
		// a crash in between lost an op the replica had acknowledged in its log view (swarm
		// seed 2026720855: view 6's op 149, committed, repaired as view 7 began).
		return data, true
	}
	size := int64(len(data))
	if next.state == slotIntact || next.known {
		if chain != next.parent {
			return nil, false // another entry: the ops above chain to a different one
		}
		if s.segmentOf(op+1) == s.segmentOf(op) {
			return data, next.offset-offset == size
		}
	}
	return data, sl.end-offset >= size
}

// rewrite writes a rewritable entry over its own extent and syncs it; the slot is intact
// once that is durable (faulty if the write failed: its bytes are unknown). Over an entry
// that nothing names (unnamedInPlace), it first writes a faulty mark over the next op's
// record (markNextFaulty).
func (s *Storage) rewrite(e Entry, data []byte, done func(error)) {
	if !s.unnamedInPlace(e.Op) {
		s.rewriteEntry(e, data, done)
		return
	}
	s.markNextFaulty(e.Op, func(err error) {
		if err != nil {
			done(err)
			return
		}
		s.rewriteEntry(e, data, done)
	})
}

// unnamedInPlace reports that a rewrite of op, below the head, goes over an entry of unknown
// identity whose next op, in the same segment, is of unknown identity too (rewritableUnknown):
// nothing names the entry written, and nothing cuts the next op's entry.
func (s *Storage) unnamedInPlace(op uint64) bool {
	if op >= s.head || s.segmentOf(op+1) != s.segmentOf(op) {
		return false
	}
	sl, next := s.slot(op), s.slot(op+1)
	return sl.state != slotIntact && !sl.known && next.state != slotIntact && !next.known
}

// markNextFaulty writes (syncs, and reads back) a faulty mark over the record of op+1, of
// unknown identity, before op is rewritten in place (unnamedInPlace). Recovery takes op's
// intact record for stale when op's entry is intact and the next op's entry, in the same
// segment, chains onto it (staleRecord): appending op again cuts the file at its entry, the
// next op's with it, before the new record is written. The write in place cuts nothing: if
// the new entry's write is lost (or lands elsewhere and rots) while its record lands, the
// older entry stays intact under a record that names the new one, and once the next op's
// entry, unreadable at this boot, reads again it chains onto the older entry, and recovery
// gave the older prepare back intact, though the new one was acknowledged (storage episode,
// segment record move inside a segment: op 1 rewritten under op 2). The mark disowns the
// next op's entry until the op is written again (keepDistrusted), so its chain vouches for
// nothing: a record written after the mark is never older than the entry under it. The next
// op was faulty of unknown identity already: the mark keeps what the engine holds.
func (s *Storage) markNextFaulty(op uint64, done func(error)) {
	s.writeMarks(segmentName(s.segmentOf(op+1)), faultyMagic, []uint64{op + 1}, done)
}

// rewriteEntry is rewrite's write of the entry and its record.
func (s *Storage) rewriteEntry(e Entry, data []byte, done func(error)) {
	h, err := DecodeHeader(data)
	assert.That(err == nil, "storage: a rewritable entry does not decode")
	offset := h.Offset
	name := segmentName(s.segmentOf(e.Op))
	s.writeEntry(e.Op, name, data, offset, false, 0, func(err error) {
		sl := s.slot(e.Op)
		end := offset + int64(len(data))
		if err != nil {
			// Its bytes are unknown, not its identity: the entry is the one the log names
			// there (Rewritable), and its place is this. Marking the slot known without them
			// left a slot of unknown identity with a zero chain, no longer rewritable, and
			// the replica's retry replaced the op instead, truncating the durable,
			// acknowledged ops above it (swarm seed 2027100302 with write errors: op 9).
			*sl = slot{state: slotFaulty, known: true, offset: offset, end: end, chain: h.Chain(), parent: h.Parent}
			done(err)
			return
		}
		*sl = slot{state: slotIntact, offset: offset, end: end, chain: h.Chain(),
			parent: h.Parent, bodySHA: s.bodySum(e)}
		s.stats.Rewrites++
		s.rewroteOwed(e.Op)
		if e.Op == s.head {
			s.cutPastHead(name, end, done)
			return
		}
		done(nil)
	})
}

// cutPastHead cuts, durably, whatever the head's segment holds past the head's entry, which
// a rewrite has just made durable at its place. Nothing there is in the index: a damaged
// head of unknown extent kept its region, to the end of the file, from Open's cut
// (cutUnfinished), and an append that never finished may lie in it. Left there, it stays
// past the head once the replica persists a log view without it, and a later boot that
// reads it intact (a read error hid it at this one) brings it back as a stale op above that
// log view (swarm seed 2027025513: view 17's op 105 past op 104, repaired in place as view
// 18 began). The cut comes only once the head is durable: a crash before it leaves the head
// whole, and Open, which then knows the head's extent, cuts there.
func (s *Storage) cutPastHead(name string, end int64, done func(error)) {
	size, err := s.fs.Size(name)
	if err != nil || size <= end {
		done(nil)
		return
	}
	sequence(done,
		func(next func(error)) { s.fs.Truncate(name, end, next) },
		func(next func(error)) { s.fs.Sync(name, next) },
	)
}

// writeEntry makes an entry durable (record.go), then calls done: the entry is written and
// synced first, then its redundant record, so that an intact record proves the entry was
// durable. The append completes only after both. With prepare, it first readies segment k
// for an append at offset (prepareSegment).
func (s *Storage) writeEntry(op uint64, name string, data []byte, offset int64, prepare bool, k uint64,
	done func(error)) {
	w := s.newEntryWrite()
	next := w.next
	rec := encodeRecordInto(s.spareRecord, data, s.opts.RecordPrefix)
	s.spareRecord = nil
	*w = entryWrite{s: s, op: op, name: name, data: data, rec: rec,
		offset: offset, k: k, prepare: prepare, done: done, next: next}
	if !prepare {
		w.stage = entryWriteData
	}
	w.advance(nil)
}

// newEntryWrite returns a finished entryWrite for reuse, or a new one with its next made.
func (s *Storage) newEntryWrite() *entryWrite {
	if w := s.freeWrites.take(); w != nil {
		return w
	}
	w := &entryWrite{}
	w.next = w.advance
	return w
}

// end finishes the write with err, after putting w back for reuse: every stage has called
// its callback, so nothing refers to w any more.
func (w *entryWrite) end(err error) {
	s, done, next := w.s, w.done, w.next
	if err == nil && w.stage > entryWriteRecordSync {
		// The record's write and the sync after it completed: the FS keeps it no more.
		s.spareRecord = w.rec
	}
	*w = entryWrite{next: next}
	s.freeWrites.put(w)
	done(err)
}

// entryWrite is writeEntry's state: one callback per entry, rather than a closure per stage
// (every append runs them), and reused once the entry is written (Storage.freeWrites).
type entryWrite struct {
	s          *Storage
	op, k      uint64
	name       string
	data, rec  []byte
	offset     int64
	prepare    bool // an append's, which readies its segment first; a rewrite's does not
	stage      int
	done, next func(error) // next is advance, made once
}

// The stages of an entryWrite, in order.
const (
	entryWritePrepare = iota
	entryWriteData
	entryWriteDataSync
	entryWriteRecord
	entryWriteRecordSync
	entryWriteRecordVerify
	entryWriteDone
)

// advance is the callback each stage calls exactly once: stop at an error, else run the
// next stage (or finish).
func (w *entryWrite) advance(err error) {
	if err != nil {
		w.end(err)
		return
	}
	stage := w.stage
	w.stage++
	switch stage {
	case entryWritePrepare:
		w.s.prepareSegment(w.k, w.offset, w.next)
	case entryWriteData:
		w.s.fs.WriteAt(w.name, w.data, w.offset, w.next)
	case entryWriteRecord:
		w.s.fs.WriteAt(w.name, w.rec, w.s.recordOffset(w.op), w.next)
	case entryWriteDataSync, entryWriteRecordSync:
		w.s.fs.Sync(w.name, w.next)
	case entryWriteRecordVerify:
		w.s.verifyRecordOverMark(w.name, w.op, w.rec, w.next)
	default:
		w.end(nil)
	}
}

// verifyRecordOverMark reads op's record rec back, if it was written over a mark, and
// writes it again until it reads back (verifySectors), as a truncation does its tombstones.
// A record write lost or misdirected away over a mark leaves the mark in place: the next
// boot takes a tombstone over an entry that then rots for an append that never finished, and
// a distrust mark disowns the acknowledged entry under it outright, so the op comes back
// dropped (storage crash seed 50611: op 2, appended again over the distrust mark of an
// earlier fallback, its record misdirected into the entries below). An ordinary append's
// record sector held zeros, which recovery reads the same as a lost record: an entry
// intact, or damaged below an op that finished, stays in the log.
func (s *Storage) verifyRecordOverMark(name string, op uint64, rec []byte, done func(error)) {
	if !s.overMark[op] {
		done(nil)
		return
	}
	s.verifySectors(name, func(uint64) []byte { return rec }, []uint64{op}, 1, func(err error) {
		if err == nil {
			delete(s.overMark, op)
		}
		done(err)
	})
}

// markedOver notes that the record sectors of ops hold marks. It forgets the ops at or below
// the checkpoint, which a state sync may have skipped (they are never written again).
func (s *Storage) markedOver(ops []uint64) {
	if s.overMark == nil {
		s.overMark = map[uint64]bool{}
	}
	for op := range s.overMark {
		if op <= s.sb.State.CheckpointOp {
			delete(s.overMark, op)
		}
	}
	for _, op := range ops {
		s.overMark[op] = true
	}
}

// appendWrite writes the entry for op head+1 at the end of its segment and syncs it. On
// ErrNoSpace it compacts and retries once (retry).
func (s *Storage) appendWrite(e Entry, retry bool, done func(error)) {
	assert.That(e.Op == s.head+1, "storage: appending out of order")
	parent, err := s.parentOf(e.Op)
	if err != nil {
		done(err)
		return
	}
	k := s.segmentOf(e.Op)
	offset := s.appendOffset(e.Op)
	spare := s.spareEntry
	s.spareEntry = nil
	data, h := encodeEntryInto(spare, s.sb.State.Cluster, e.Op, offset, parent, e.Body)
	grows := int64(len(data))
	if offset == s.recordArea() {
		grows += offset // a new segment file: its record area too
	}
	if u := s.fs.Usage(); u.Used+grows+s.opts.ReserveBytes > u.Capacity {
		s.spareEntry = data[:cap(data)] // never handed to the FS
		s.appendNoSpace(e, retry, done)
		return
	}
	w := s.newAppendWriting()
	// Every field but the reused callback set in place: a composite literal was built
	// apart and copied in (a store-forwarding stall per append).
	w.s, w.e, w.retry, w.done, w.data, w.h = s, e, retry, done, data, h
	fn := w.fn
	s.writeEntry(e.Op, s.segmentFile(k), data, offset, true, k, fn)
}

// appendWriting is appendWrite's state while its entry is written: the callback writeEntry
// completes (written, made once), reused once it has run (Storage.freeAppendWrites) rather
// than a closure per append.
type appendWriting struct {
	s     *Storage
	e     Entry
	retry bool
	done  func(error)
	data  []byte
	h     Header
	fn    func(error)
}

func (s *Storage) newAppendWriting() *appendWriting {
	if w := s.freeAppendWrites.take(); w != nil {
		return w
	}
	w := &appendWriting{}
	w.fn = w.written
	return w
}

// written is the end of the entry's write (writeEntry calls it once): w goes back for reuse
// first, as nothing refers to it any more.
func (w *appendWriting) written(err error) {
	s, e, retry, done, data, h := w.s, w.e, w.retry, w.done, w.data, w.h
	*w = appendWriting{fn: w.fn}
	s.freeAppendWrites.put(w)
	if errors.Is(err, ErrNoSpace) {
		// Cut first, as for any other failure: the write that ran out of space may be the
		// record's, after the entry was synced (a record sector of a segment is a hole of the
		// file until written, and filling it needs a block a full disk lacks). Left past the
		// head without a record, the entry came back intact at the next Open, which finishes
		// such appends, though the append failed (TestNoSpaceForTheRecordCutsTheEntry).
		s.cutFailedAppend(e.Op, h.Offset, err, func(error) { s.appendNoSpace(e, retry, done) })
		return
	}
	if err == nil {
		s.appended(e, h)
		// The entry's write and the sync after it completed: the FS keeps it no more.
		s.spareEntry = data[:cap(data)]
		done(nil)
		return
	}
	s.cutFailedAppend(e.Op, h.Offset, err, done)
}

// cutFailedAppend cuts, durably, the file of a failed append back to where its entry went,
// then reports the failure. The append may have failed after its entry was written and
// synced (its record write failed): past the head, with no record, the entry would come
// back at the next boot as an append that finished (Open finishes such appends), above a
// log view persisted without it (swarm seed 2027131668 with write errors: view 8's op 242,
// its record write failed, came back under log view 9). No truncation removes it: the
// engine's head never reached it.
func (s *Storage) cutFailedAppend(op uint64, offset int64, failure error, done func(error)) {
	assert.That(op == s.head+1, "storage: cutting a failed append that is not above the head")
	assert.That(offset >= s.recordArea(), "storage: cutting a failed append inside the record area")
	name := segmentName(s.segmentOf(op))
	if size, err := s.fs.Size(name); err != nil || size <= offset {
		done(failure)
		return
	}
	sequence(func(err error) {
		// A cut that fails leaves a debt that the next superblock write pays first
		// (payAppendCut): left past the head, the entry came back at the next Open, finished
		// or intact, under the log view persisted after the failure, though the replica never
		// acknowledged it (TestFailedAppendCutIsNotPersistedOver).
		s.oweAppendCut(op, offset, err != nil)
		done(failure)
	},
		func(next func(error)) { s.fs.Truncate(name, offset, next) },
		func(next func(error)) { s.fs.Sync(name, next) },
		func(next func(error)) { s.tombstoneFailedRecord(name, op, next) })
}

// oweAppendCut records that the cut of op's failed append back to offset failed, or, once
// it succeeded, settles a debt of the same op (the same place: the head has not moved).
func (s *Storage) oweAppendCut(op uint64, offset int64, failed bool) {
	if failed {
		s.appendCutOwed, s.appendCutOp, s.appendCutOffset = true, op, offset
	} else if s.appendCutOwed && s.appendCutOp == op {
		s.appendCutOwed = false
	}
}

// payAppendCut completes, before a superblock write, the cut of a failed append that failed
// (appendCutOwed), or fails: the state written next may be a new log view, and the failed
// append's entry, left past the head, came back under it at the next boot. A debt the log
// moved away from is void (appendCutStands).
func (s *Storage) payAppendCut(done func(error)) {
	if !s.appendCutStands() {
		s.appendCutOwed = false
		done(nil)
		return
	}
	op, offset := s.appendCutOp, s.appendCutOffset
	assert.That(op == s.head+1 && op > s.sb.State.CheckpointOp, "storage: paying the cut of an op in the log")
	name := segmentName(s.segmentOf(op))
	size, err := s.fs.Size(name)
	if errors.Is(err, ErrNotExist) {
		s.appendCutOwed = false // the segment is gone, and the entry with it
		done(nil)
		return
	}
	if err != nil {
		done(err)
		return
	}
	sequence(func(err error) {
		s.appendCutOwed = err != nil
		done(err)
	},
		func(next func(error)) {
			if size > offset {
				s.fs.Truncate(name, offset, next)
				return
			}
			next(nil) // a Truncate may grow a file; the failed cut's truncation may have landed
		},
		func(next func(error)) { s.fs.Sync(name, next) },
		func(next func(error)) { s.tombstoneFailedRecord(name, op, next) })
}

// appendCutStands reports whether the failed append's cut is still owed: the log still ends
// at the op below it, and the op's entry would go where the failed one went. Otherwise the
// log moved since (an append of the op, which wrote its own entry there; a truncation, which
// cut the failed entry with it), and the bytes at the debt's offset may be an acknowledged
// entry's: a debt paid after a truncation and a larger entry appended again over the place
// cut that entry (storage crash seed 147810975307: op 1 replaced after op 2's failed append,
// reported faulty; TestFailedAppendCutDebtGoesWithTheLog). Past the place of the op above
// the head, a segment holds no op of the log, so cutting there is always safe.
func (s *Storage) appendCutStands() bool {
	if !s.appendCutOwed || s.appendCutOp != s.head+1 || s.appendCutOp <= s.sb.State.CheckpointOp {
		return false
	}
	assert.That(s.appendCutOffset >= s.recordArea(), "storage: a failed append's cut owed inside the record area")
	return s.appendOffset(s.appendCutOp) == s.appendCutOffset
}

// tombstoneFailedRecord writes a tombstone over the record sector of a failed append's op,
// once its entry is cut, and has the next record written there read back (overMark). The
// append may have failed at its record's sync, and a failed fsync need not undo the write:
// left in place, the record named a prepare the replica never acknowledged, and the next
// Open returned the op faulty under that identity (TestFailedRecordSyncLeavesNoRecord);
// under another prepare appended at the op later, a lost write of its record left the old
// one naming the op, and the replica denied the prepare it had acknowledged
// (TestFailedRecordSyncThenAnotherPrepare). Entry first, record second: a crash in between
// leaves a record over no entry (faulty), never an intact entry under a tombstone (intact,
// as if the append had finished). Its own failure is not reported (done gets nil): the
// append's is, and the cut's is a debt (oweAppendCut) only if the entry may still be there.
func (s *Storage) tombstoneFailedRecord(name string, op uint64, done func(error)) {
	s.markedOver([]uint64{op})
	mark := encodeMark(tombstoneMagic, s.sb.State.Cluster, op)
	unreported := func(error) { done(nil) }
	s.syncRewriting(name, func(written func(error)) {
		s.fs.WriteAt(name, mark, s.recordOffset(op), unlessIO(written))
	}, 1, func(err error) {
		if err != nil {
			unreported(err)
			return
		}
		s.verifyTombstones(name, []uint64{op}, unreported)
	})
}

func (s *Storage) appendNoSpace(e Entry, retry bool, done func(error)) {
	if !retry || !s.compactable() {
		s.stats.NoSpace++
		done(fmt.Errorf("storage: append op %d: %w", e.Op, ErrNoSpace))
		return
	}
	s.compact(func(_ int64, err error) {
		if err != nil {
			done(err)
			return
		}
		s.appendWrite(e, false, done)
	})
}

// appended records a durable entry, of header h, in the index.
func (s *Storage) appended(e Entry, h Header) {
	assert.That(h.Op == e.Op && h.Op == s.head+1, "storage: index out of step with the append")
	if len(s.slots) == cap(s.slots) {
		// Doubled: append grows a large slice by a quarter, copying the index (a slot is
		// 128 bytes, and a log below its compaction threshold holds thousands) over and over.
		s.slots = slices.Grow(s.slots, max(len(s.slots), 64))
	}
	// Appended zero and filled in place: a slot built apart and copied in was reread with
	// wide loads right after its narrower stores (a store-forwarding stall per append).
	s.slots = append(s.slots, slot{})
	sl := &s.slots[len(s.slots)-1]
	sl.state, sl.offset, sl.end = slotIntact, h.Offset, h.Offset+h.Size()
	sl.chain, sl.parent, sl.bodySHA = h.Chain(), h.Parent, s.bodySum(e)
	s.head = e.Op
}

// parentOf returns the chain sum the entry for op must name as its parent.
func (s *Storage) parentOf(op uint64) (checksum.Sum, error) {
	assert.That(op > s.sb.State.CheckpointOp, "storage: parent of an op at the checkpoint")
	if op == s.sb.State.CheckpointOp+1 {
		return s.sb.Checkpoint.Chain, nil // zero for op 1 of a fresh log
	}
	prev := s.slot(op - 1)
	assert.That(prev != nil, "storage: previous op not in the index")
	if prev.state != slotIntact {
		return checksum.Sum{}, fmt.Errorf("%w: op %d (the parent of op %d)", ErrFaulty, op-1, op)
	}
	return prev.chain, nil
}

// recordArea is the size of a segment's record area: its first entry starts there.
func (s *Storage) recordArea() int64 { return RecordAreaSize(s.opts.SegmentEntriesMax) }

// appendOffset is where op's entry goes: after op-1's entry (or damaged region) if that is in
// the same segment, else at the start of the segment's entries (after its record area). An
// op-1 at or below the checkpoint that the index does not hold (its entry unrecognisable) but
// whose intact record names its entry counts as ending there: the record still claims those
// bytes, and an entry of op written over them (a repair of the head above the checkpoint)
// lay inside that claim, so when the new entry and its record were both unreadable, recovery
// found no room for the op and dropped it (storage crash seed 48412: checkpoint op 12's
// record, its entry's header misdirected over, and op 13 repaired at the record area).
func (s *Storage) appendOffset(op uint64) int64 {
	if s.segmentOf(op-1) != s.segmentOf(op) {
		return s.recordArea()
	}
	if prev := s.slot(op - 1); prev != nil {
		assert.That(prev.end > s.recordArea() || prev.state != slotIntact,
			"storage: intact entry ends inside the record area")
		return max(prev.end, s.recordArea())
	}
	if end, ok := s.recordedEnds[op-1]; ok && op-1 <= s.sb.State.CheckpointOp {
		return max(end, s.recordArea())
	}
	return s.recordArea()
}

// prepareSegment makes segment k ready for the append of the op after the head at offset: it
// creates the file, or cuts what an existing file holds past offset. Nothing there is in the
// index: entries whose append never finished (recovery dropped them), or, for a write of a
// segment's first entry, a whole leftover file of a failed cleanup, stale records included.
func (s *Storage) prepareSegment(k uint64, offset int64, done func(error)) {
	name := s.segmentFile(k)
	keep := offset
	if offset == s.recordArea() {
		keep = 0
	}
	if _, found := slices.BinarySearch(s.segments, k); found {
		if size, err := s.fs.Size(name); err == nil && size > keep {
			s.fs.Truncate(name, keep, done)
			return
		}
		done(nil)
		return
	}
	added := func(err error) {
		if err == nil {
			i, _ := slices.BinarySearch(s.segments, k)
			s.segments = slices.Insert(s.segments, i, k)
		}
		done(err)
	}
	s.fs.Create(name, func(err error) {
		if errors.Is(err, ErrExist) {
			s.fs.Truncate(name, 0, added) // not in the index: nothing in it is kept
			return
		}
		added(err)
	})
}

// TruncateAfter drops every entry with an op above op, durably. op must be at or above the
// checkpoint and the audited (committed) ops.
func (s *Storage) TruncateAfter(op uint64, done func(error)) {
	assert.That(done != nil, "storage: TruncateAfter needs a callback")
	s.submit(func(finish func(func())) {
		s.truncateAfter(op, func(err error) { finish(func() { done(err) }) })
	})
}

// truncateAfter first tombstones (and syncs) the records of the dropped ops that share op+1's
// segment with ops that stay, then removes the segments above (highest first, so a crash
// never leaves a hole), then cuts op+1's segment where op+1's entry starts. Records go first:
// after a crash in between, the entries still there are intact (kept, as before the
// truncation) or damaged with no record (an append that never finished) -- never damaged
// under an intact record, which would claim a durable entry the replica had given up.
func (s *Storage) truncateAfter(op uint64, done func(error)) {
	assert.That(op >= s.sb.State.CheckpointOp, "storage: truncating below the checkpoint")
	assert.That(op >= s.auditOp, "storage: truncating committed ops")
	if op >= s.head && !s.checkpointRegionDue(op) {
		done(nil)
		return
	}
	keep := s.segmentOf(op + 1)
	cut := s.appendOffset(op + 1)
	first := op + 1 // the lowest op whose record the truncation tombstones
	start, given, underCheckpoint := int64(0), []uint64(nil), false
	if op == s.sb.State.CheckpointOp {
		// The damaged entries at and below the checkpoint op go too (checkpoint_region.go).
		if start, given, underCheckpoint = s.checkpointRegionCut(keep); underCheckpoint {
			cut = start
			if len(given) > 0 {
				first = given[0]
			}
		}
	}
	// op+1 is the first entry of its segment: the file goes, unless an op the log keeps lies in
	// it (a faulty op of no extent above the checkpoint, which a fallback past a state sync's
	// checkpoint leaves under the op above it): removed, its repair in place wrote into a file
	// that no longer existed, ErrNotExist at every retry (TestTruncationKeepsTheSegmentOfAFaultyOp).
	whole := cut == s.recordArea() && (op <= s.sb.State.CheckpointOp || s.segmentOf(op) != keep)
	var drop []uint64
	for _, k := range slices.Backward(s.segments) {
		if k > keep || (k == keep && whole) {
			drop = append(drop, k)
		}
	}
	_, kept := slices.BinarySearch(s.segments, keep)
	kept = kept && !whole
	name := segmentName(keep)
	var tombstoned []uint64 // the ops whose tombstones were written, to read back
	sequence(func(err error) {
		if err == nil {
			s.slots = s.slots[:op+1-s.slotBase]
			s.head = op
			if underCheckpoint {
				s.endCheckpointRegion(start, given)
			}
		} else {
			s.forgetRemoved(op, drop)
		}
		s.oweCut(op, err != nil)
		done(err)
	},
		func(next func(error)) {
			if !kept {
				next(nil)
				return
			}
			var tombstones []byte
			for o := first; o <= min(s.head, s.segmentLast(keep)); o++ {
				tombstones = append(tombstones, encodeMark(s.removalMark(o), s.sb.State.Cluster, o)...)
				tombstoned = append(tombstoned, o)
			}
			s.markedOver(tombstoned)
			s.syncRewriting(name, func(written func(error)) {
				s.fs.WriteAt(name, tombstones, s.recordOffset(first), unlessIO(written))
			}, 1, next)
		},
		func(next func(error)) {
			if !kept {
				next(nil)
				return
			}
			s.verifyTombstones(name, tombstoned, next)
		},
		func(next func(error)) { s.removeSegments(drop, nil, next) },
		func(next func(error)) {
			if kept {
				s.fs.Truncate(name, cut, next)
				return
			}
			next(nil)
		},
	)
}

// forgetRemoved lowers the head, after a truncation after op that failed, below the segments
// of drop that it removed before the failure (the highest first): their ops are gone from the
// disk, and the index no longer names them. Left in it, an append of the same prepare again
// (which the caller, who took the truncation as done, writes) was rewritten in place into a
// file that no longer exists: ErrNotExist, outside Append's contract, and the op left faulty,
// every retry failing the same way (h83's owed_cut move of the storage episode). The ops
// between op and the new head, still on the disk, stay owed (oweCut).
func (s *Storage) forgetRemoved(op uint64, drop []uint64) {
	head := s.head
	for _, k := range drop {
		if _, found := slices.BinarySearch(s.segments, k); !found {
			head = min(head, max(op, k*uint64(s.opts.SegmentEntriesMax))-1)
		}
	}
	if head = max(head, op); head < s.head {
		s.slots = s.slots[:head+1-s.slotBase]
		s.head = head
	}
}

// removeSegments removes segment files in the given order and drops them from s.segments,
// adding the bytes freed to *freed if it is not nil.
func (s *Storage) removeSegments(drop []uint64, freed *int64, done func(error)) {
	forEach(len(drop), func(i int, next func(error)) {
		name := segmentName(drop[i])
		size, _ := s.fs.Size(name)
		s.fs.Remove(name, func(err error) {
			if errors.Is(err, ErrNotExist) {
				err = nil
			}
			if err == nil {
				j, found := slices.BinarySearch(s.segments, drop[i])
				assert.That(found, "storage: removing an unknown segment")
				s.segments = slices.Delete(s.segments, j, j+1)
				if freed != nil {
					*freed += size
				}
			}
			next(err)
		})
	}, done)
}

// Read reads op's entry back from disk and verifies it: checksums, that it names its own op
// and offset, and that it is the entry the index holds (same chain sum). It serves repairs
// and scrubbing. ErrNotFound for an op outside the log, ErrFaulty for a known-faulty op,
// ErrCorrupt if the disk no longer holds the entry intact (the index is not changed).
func (s *Storage) Read(op uint64, done func([]byte, error)) {
	assert.That(done != nil, "storage: Read needs a callback")
	s.submit(func(finish func(func())) {
		s.read(op, func(body []byte, err error) { finish(func() { done(body, err) }) })
	})
}

func (s *Storage) read(op uint64, done func([]byte, error)) {
	sl := s.slot(op)
	switch {
	case sl == nil || sl.state == slotAbsent:
		done(nil, fmt.Errorf("%w: op %d", ErrNotFound, op))
		return
	case sl.state == slotFaulty:
		done(nil, fmt.Errorf("%w: op %d", ErrFaulty, op))
		return
	}
	assert.That(sl.end-sl.offset <= EntrySizeMax, "storage: indexed entry beyond the limit")
	buf := make([]byte, sl.end-sl.offset)
	want := *sl
	s.fs.ReadAt(segmentName(s.segmentOf(op)), buf, sl.offset, func(n int, err error) {
		if err != nil && !errors.Is(err, ErrIO) {
			done(nil, err)
			return
		}
		h, body, decodeErr := DecodeEntry(buf[:n])
		if err != nil || decodeErr != nil || h.Op != op || h.Offset != want.offset ||
			h.Chain() != want.chain || h.Cluster != s.sb.State.Cluster {
			done(nil, fmt.Errorf("%w: entry of op %d", ErrCorrupt, op))
			return
		}
		done(body, nil)
	})
}

// Commit advances the SHA-256 audit chain over the committed ops up to op, and returns its
// head: head(op) = SHA-256(head(op-1) || op as u64 little endian || SHA-256(body of op)),
// starting from State.AuditHead at CheckpointOp. It does no I/O. The entries must be durable
// and intact in the log (ErrNotFound, ErrFaulty otherwise; the head stays at the last op
// that could be audited). Ops at or below the audited ones are a no-op.
func (s *Storage) Commit(op uint64) ([32]byte, error) {
	for next := s.auditOp + 1; next <= op; next++ {
		sl := s.slot(next)
		if sl == nil {
			return s.auditHead, fmt.Errorf("%w: commit of op %d", ErrNotFound, next)
		}
		if sl.state != slotIntact {
			return s.auditHead, fmt.Errorf("%w: commit of op %d", ErrFaulty, next)
		}
		s.auditHead = auditNext(s.audits, &s.sha, &s.auditIn, s.auditHead, next, sl.bodySHA)
		sl.audit = s.auditHead
		s.auditOp = next
	}
	assert.That(s.auditOp >= op, "storage: audit stopped early")
	assert.That(s.auditOp <= s.head, "storage: audit beyond the head")
	return s.auditHead, nil
}

// tombstoneAttemptsMax bounds how often verifyMarks rewrites a mark that does not read back.
const tombstoneAttemptsMax = 8

// verifyTombstones reads back the record sectors of ops (in segment file name) after their
// tombstones were written and synced, and writes again, and syncs, each that does not read
// back as its tombstone. A misdirected write carries a tombstone elsewhere and leaves the
// op's old record intact in place; once the entries are cut, that record claims a durable
// entry the replica gave up and brings the op back, with the old identity, at the next boot
// (swarm seed 2026605648: view 0's op 5 under commit number 21). The cut waits until every
// tombstone reads back; after tombstoneAttemptsMax rounds it fails (ErrIO): a sector that
// neither keeps a write nor reads back that often is a failed disk, not a fault to ride out.
func (s *Storage) verifyTombstones(name string, ops []uint64, done func(error)) {
	s.verifyMarks(name, s.removalMark, ops, 1, done)
}

// removalMark is the mark a truncation writes over op's record: a tombstone, unless the index
// holds op faulty of unknown identity (a distrusted entry, or one whose record rotted with
// it). Then a distrust mark: if a crash comes before the cut, the entry must come back as
// unknown as it was, not as an intact entry under a tombstone (the table in record.go), which
// would bring back the stale entry a fallback distrusted once the superblock no longer names
// the damaged checkpoint.
func (s *Storage) removalMark(op uint64) uint64 {
	if op <= s.sb.State.CheckpointOp {
		return tombstoneMagic // a damaged entry the checkpoint holds, given up (checkpoint_region.go)
	}
	if sl := s.slot(op); sl != nil && sl.state == slotFaulty && !sl.known {
		return distrustMagic
	}
	return tombstoneMagic
}

// verifyMarks is verifyTombstones for the marks magicOf names (a tombstone's or a distrust
// mark's, per op), at the given attempt.
func (s *Storage) verifyMarks(name string, magicOf func(op uint64) uint64, ops []uint64, attempt int, done func(error)) {
	cluster := s.sb.State.Cluster
	s.verifySectors(name, func(o uint64) []byte { return encodeMark(magicOf(o), cluster, o) }, ops, attempt, done)
}

// verifySectors reads back the record sectors of ops (in segment file name), at the given
// attempt, and writes again, and syncs, each that does not read back as sector(op), as
// verifyTombstones does for tombstones.
func (s *Storage) verifySectors(name string, sector func(op uint64) []byte, ops []uint64, attempt int, done func(error)) {
	if len(ops) == 0 {
		done(nil)
		return
	}
	// One read per sector: an unreadable sector between two marks is no concern of theirs
	// (one range read failed whole on it, and the rewrites never cured it).
	var bad []uint64
	buf := make([]byte, SectorSize)
	forEach(len(ops), func(i int, next func(error)) {
		s.fs.ReadAt(name, buf, s.recordOffset(ops[i]), func(n int, err error) {
			if err != nil || n < SectorSize || !bytes.Equal(buf, sector(ops[i])) {
				bad = append(bad, ops[i])
			}
			next(nil)
		})
	}, func(error) {
		if len(bad) == 0 {
			done(nil)
			return
		}
		if attempt >= tombstoneAttemptsMax {
			done(fmt.Errorf("%w: the record sectors of ops %v do not read back in %s", ErrIO, bad, name))
			return
		}
		steps := make([]step, 0, len(bad))
		for _, o := range bad {
			steps = append(steps, func(next func(error)) {
				s.fs.WriteAt(name, sector(o), s.recordOffset(o), unlessIO(next))
			})
		}
		s.syncRewriting(name, func(written func(error)) { sequence(written, steps...) }, attempt, func(err error) {
			if err != nil {
				done(err)
				return
			}
			s.verifySectors(name, sector, bad, attempt+1, done)
		})
	})
}

// syncRewriting runs write and syncs name, at the given attempt. A sync that fails (ErrIO)
// may have lost what write wrote, whatever a read shows now: after a failed fsync the kernel
// may keep the pages in its cache, clean, and a later fsync succeeds without them. So it
// writes again and syncs again, up to tombstoneAttemptsMax attempts, then fails (ErrIO). A
// failed sync used to fail the whole truncation, which the replica takes as done: it
// persisted a log view over the stale ops the truncation was to drop (swarm seed 2031901162
// with sync errors: view 11's op 82 under log view 12).
func (s *Storage) syncRewriting(name string, write func(written func(error)), attempt int, done func(error)) {
	write(func(err error) {
		if err != nil {
			done(err)
			return
		}
		s.fs.Sync(name, func(err error) {
			if errors.Is(err, ErrIO) && attempt < tombstoneAttemptsMax {
				s.syncRewriting(name, write, attempt+1, done)
				return
			}
			done(err)
		})
	})
}

// unlessIO passes a write's result on to next, except an I/O error, which it takes for a
// write that did not happen: the sectors are read back after it (verifySectors), found
// unwritten, and written again. A failed tombstone write used to fail the whole truncation,
// which the replica takes as done: it persisted a log view over the stale ops the truncation
// was to drop (swarm seed 247 with write errors: view 10's op 413 under log view 12).
func unlessIO(next func(error)) func(error) {
	return func(err error) {
		if errors.Is(err, ErrIO) {
			err = nil
		}
		next(err)
	}
}

// freeList is a stack of finished objects kept for reuse: each keeps the callbacks it hands
// out, made once, so that an append allocates none.
type freeList[T any] struct{ kept []*T }

// take returns a kept object, or nil if there is none.
func (f *freeList[T]) take() *T {
	last := len(f.kept) - 1
	if last < 0 {
		return nil
	}
	x := f.kept[last]
	f.kept = f.kept[:last]
	return x
}

// put keeps x, which nothing refers to any more, for a later take.
func (f *freeList[T]) put(x *T) { f.kept = append(f.kept, x) }
