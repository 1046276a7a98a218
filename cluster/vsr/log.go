package vsr

import (
	"vopr/cluster/checksum"
	"vopr/internal/assert"
)

// log is the replica's in-memory view of its log: the header of every op it knows in the
// window, and the prepare message when it has one. The durable copy is in the storage
// engine's write-ahead log; the in-memory copy is rebuilt from it at recovery.
//
// A slot can be in three states: empty; header only (the op is known, by a view change or by
// the hash chain, but its body is missing or was found corrupt, and must be repaired); or
// full (header and prepare). A slot belongs to op iff its header's Op is op.
type log struct {
	slots [LogSlotsMax]slot
	// anchorOp and anchorChecksum name an op whose prepare the log does not hold but whose
	// checksum is known (the op of a checkpoint installed by state sync).
	anchorOp       uint64
	anchorChecksum checksum.Sum
}

// The fields that the scans of the log window read for every op (present, durable, prepare
// and header.Op: nextWrite, logDurable) come first, so that they share two cache lines.
type slot struct {
	present bool   // the header is known
	durable bool   // the prepare is in our write-ahead log
	prepare []byte // the whole prepare message, or nil while it must be repaired
	header  Header
	// faulty marks an op whose entry our disk durably held but could not read intact: we
	// may have acknowledged it, so we must never answer "not seen" for it (protocol-aware
	// recovery). faultyChecksum is that entry's checksum when its redundant record told us
	// (zero: unknown, so we may have acknowledged any prepare of op). Both stay until an
	// entry for op is durably written again.
	faulty         bool
	faultyChecksum checksum.Sum
	// batch is the prepare's body decoded (batched), once decoded is set: the primary reads
	// its pipeline's batches on every request (inPipeline). Every change of prepare resets the
	// whole slot, and with it these.
	batch   []batchEntry
	decoded bool
}

func (l *log) slotOf(op uint64) *slot { return &l.slots[op%LogSlotsMax] }

// header returns the header of op if the replica knows it.
func (l *log) header(op uint64) (Header, bool) {
	s := l.slotOf(op)
	if !s.present || s.header.Op != op {
		return Header{}, false
	}
	return s.header, true
}

// headerOf is header without the copy, for the invariants run after every event: the
// slot's own header of op, or nil; the caller must not keep or change it.
func (l *log) headerOf(op uint64) *Header {
	s := l.slotOf(op)
	if !s.present || s.header.Op != op {
		return nil
	}
	return &s.header
}

// prepare returns the prepare message of op if the replica has it.
func (l *log) prepare(op uint64) ([]byte, bool) {
	s := l.slotOf(op)
	if !s.present || s.header.Op != op || s.prepare == nil {
		return nil, false
	}
	return s.prepare, true
}

func (l *log) checksumOf(op uint64) (checksum.Sum, bool) {
	if h, ok := l.header(op); ok {
		return h.Checksum, true
	}
	if op == l.anchorOp && !l.anchorChecksum.IsZero() {
		return l.anchorChecksum, true
	}
	return checksum.Sum{}, false
}

// setHeader records that op's prepare has this header, dropping any prepare with another
// checksum that the slot held.
func (l *log) setHeader(h Header) {
	assert.That(h.Command == CommandPrepare, "log: header is not a prepare")
	s := l.slotOf(h.Op)
	if s.present && s.header.Op == h.Op && s.header.Checksum == h.Checksum {
		return
	}
	if _, prepare, ok := l.unverified(h.Op); ok && s.header.Checksum == h.Checksum {
		// Our kept prepare is the log's: it is ours again, to be written back (in place).
		*s = slot{present: true, header: h, prepare: prepare, faulty: s.faulty, faultyChecksum: s.faultyChecksum}
		return
	}
	// A faulty entry stays faulty: we may have acknowledged what it held, so we must never
	// deny having seen it (protocol-aware recovery).
	same := s.header.Op == h.Op
	*s = slot{present: true, header: h, faulty: s.faulty && same, faultyChecksum: s.faultyChecksum}
	if !same {
		s.faultyChecksum = checksum.Sum{}
	}
}

// forget drops what the log knows of op's prepare but keeps the mark that our disk holds an
// unreadable entry for it, and the header of that entry when its redundant record named it:
// the identity of what our disk holds, which we offer for an op no do_view_change could name
// (heldIdentity), though our log no longer claims it (not present).
func (l *log) forget(op uint64) {
	s := l.slotOf(op)
	if s.header.Op != op {
		return
	}
	held := Header{Op: op}
	if s.faulty && !s.faultyChecksum.IsZero() && s.header.Checksum == s.faultyChecksum {
		held = s.header
	}
	*s = slot{header: held, faulty: s.faulty, faultyChecksum: s.faultyChecksum}
}

// forgetUnverified forgets op's header, which a new log can neither confirm nor replace (it
// lacks op's header), while our disk keeps the entry. An entry we hold may be the new log's
// prepare, committed and acknowledged: the op is marked faulty with its checksum, so that we
// never deny having seen it until an entry for op is written again, and the slot keeps the
// prepare, unverified (log.unverified), to take back once the new log names it (setHeader),
// to serve to a peer that asks for it by checksum and to offer when no log names op.
//
// That holds for a prepare not durable now as well: an entry we acknowledged is rewritten
// after a repair below it truncated the engine's log (flushLog) or a log install cut it, and
// only our memory holds it meanwhile. Dropping it dropped the one intact copy of ops that no
// do_view_change could name any more, and the only offer that could prove which prepare they
// were (swarm seed 20263522: every view change after the heal stalled on them). A prepare
// already kept unverified stays so.
func (l *log) forgetUnverified(op uint64) {
	s := l.slotOf(op)
	if s.header.Op != op || (!s.present && s.prepare != nil) {
		return
	}
	if !s.present || s.prepare == nil {
		l.forget(op)
		return
	}
	// A faulty mark of another prepare, or of unknown identity, stays: our disk still holds
	// that unreadable entry, so the op's mark becomes "any prepare" (never denied, no offer).
	sum := s.header.Checksum
	if s.faulty && s.faultyChecksum != sum {
		sum = checksum.Sum{}
	}
	*s = slot{header: s.header, prepare: s.prepare, faulty: true, faultyChecksum: sum}
}

// unverified returns the prepare of op that forgetUnverified kept, with its header.
func (l *log) unverified(op uint64) (Header, []byte, bool) {
	s := l.slotOf(op)
	if s.present || s.header.Op != op || s.prepare == nil {
		return Header{}, nil, false
	}
	return s.header, s.prepare, true
}

// diskMayDiffer reports whether our disk may hold, for op, a readable entry other than the
// prepare our log names there: an entry a log install forgot in memory but left on disk
// (forgetUnverified), or a damaged entry of unknown identity or of another prepare (a read
// error need not recur after a restart). It stays so until an entry for op is durably
// written again (markDurable).
func (l *log) diskMayDiffer(op uint64) bool {
	s := l.slotOf(op)
	return s.faulty && s.header.Op == op && (!s.present || s.faultyChecksum != s.header.Checksum)
}

// setPrepare stores a prepare whose header the slot expects (or fills an empty slot).
func (l *log) setPrepare(m Message) {
	l.setHeader(m.Header)
	s := l.slotOf(m.Header.Op)
	assert.That(s.header.Checksum == m.Header.Checksum, "log: prepare does not match header")
	if s.prepare == nil {
		s.prepare = m.Bytes
		s.durable = false
	}
}

// seen reports whether we may have acknowledged the prepare of op with this checksum: we hold
// it, or our disk holds an unreadable entry for op that is this prepare or of unknown
// identity.
func (l *log) seen(op uint64, sum checksum.Sum) bool {
	s := l.slotOf(op)
	if l.isFaulty(op) && (s.faultyChecksum.IsZero() || s.faultyChecksum == sum) {
		return true
	}
	return s.present && s.header.Op == op && s.header.Checksum == sum && s.prepare != nil
}

// isFaulty reports whether op's entry is known to be on our disk but unreadable.
func (l *log) isFaulty(op uint64) bool {
	s := l.slotOf(op)
	return s.faulty && s.header.Op == op
}

// markFaulty records that our disk holds an unreadable entry for op, of unknown identity.
func (l *log) markFaulty(op uint64) {
	s := l.slotOf(op)
	*s = slot{faulty: true}
	s.header.Op = op
}

// markFaultyKnown records that our disk holds an unreadable entry for op whose header its
// redundant record kept: the op's header is known, its body must be repaired.
func (l *log) markFaultyKnown(h Header) {
	assert.That(h.Command == CommandPrepare, "log: faulty header is not a prepare")
	s := l.slotOf(h.Op)
	*s = slot{present: true, header: h, faulty: true, faultyChecksum: h.Checksum}
}

// markDurable records that op's prepare (the one the slot holds) is in our write-ahead log:
// whatever damaged entry the disk held for op before is gone.
func (l *log) markDurable(op uint64) {
	s := l.slotOf(op)
	assert.That(s.present && s.header.Op == op && s.prepare != nil, "log: durable without a prepare")
	s.durable, s.faulty, s.faultyChecksum = true, false, checksum.Sum{}
}

// clear forgets op entirely.
func (l *log) clear(op uint64) {
	s := l.slotOf(op)
	if s.header.Op == op {
		*s = slot{}
	}
}
