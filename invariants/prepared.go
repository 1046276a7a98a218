package invariants

import (
	"bytes"
	"crypto/sha256"
	"hash"

	"vopr/cluster/checksum"
)

// Prepared is a prepare as its primary created it, seen by the harness when the primary
// first sent it (a prepare is sent to the backups at the instant it is created). The clock
// fields are the simulator's: what the primary's wall clock read at that instant, and true
// wall-clock time (the simulator's epoch plus virtual time).
type Prepared struct {
	Replica   int
	View      uint32
	Op        uint64
	Checksum  checksum.Sum // the header's checksum: the prepare's name
	Timestamp int64
	Epoch     uint32 // the configuration epoch of View
	Bytes     []byte // the whole prepare, header and body, as sent (read, not kept)
	ClockNs   int64  // the creating replica's realtime clock at creation
	TrueNs    int64  // true realtime at creation
	// Late: first seen after its creation (a lone primary has nobody to send a prepare to
	// until a replica joins and asks for it): its bytes count, but not its timestamp against
	// the clocks of this instant.
	Late bool
}

// digest is the harness's own digest of a prepare's bytes (SHA-256 of the whole message),
// independent of the checksums the replica computes and trusts.
type digest [sha256.Size]byte

func digestOf(b []byte) digest { return sha256.Sum256(b) }

// digestMemo remembers digestOf of the prepare bytes last seen at each op of a window, so
// that the same bytes are hashed once: a prepare's creation and every replica's execution of
// it all digest the same bytes, and hashing each copy was most of canonical_commit's cost. A
// hit needs the whole bytes equal to the remembered copy, so its digest is exactly digestOf's.
// The checkers' own code, not checksum.SHA256Memo: the replicas' engines hash through that
// memo (their bodies' sums and the audit chain), and a checker sharing it would share its bugs
// (a hit on other bytes gave the checker the very sum it was checking). A nil memo hashes
// every time.
type digestMemo struct {
	slots []digestSlot // digestMemoSlots, made at the first use
	kept  int          // bytes of the copies held, at most digestMemoBudget
	sha   hash.Hash    // crypto/sha256, reused: Sum256 heap-allocates its digest
	out   digest       // sha's output (a local array passed to Sum would escape)
}

type digestSlot struct {
	held  bool
	op    uint64
	bytes []byte // a copy, in the slot's own array
	sum   digest
}

const (
	digestMemoSlots    = 4096     // ops this far apart share a slot, the newest kept
	digestMemoBytesMax = 32 << 10 // larger prepares are hashed every time
	digestMemoBudget   = 16 << 20 // and copies stop being kept once they reach about this
)

// of returns digestOf(b), b being a prepare of op.
func (m *digestMemo) of(op uint64, b []byte) digest {
	if m == nil {
		return digestOf(b)
	}
	if m.slots == nil {
		m.slots, m.sha = make([]digestSlot, digestMemoSlots), sha256.New()
	}
	s := &m.slots[op%digestMemoSlots]
	if s.held && s.op == op && bytes.Equal(s.bytes, b) {
		return s.sum
	}
	m.sha.Reset()
	m.sha.Write(b)
	m.sha.Sum(m.out[:0])
	sum := m.out
	grown := max(len(b)-cap(s.bytes), 0)
	if len(b) <= digestMemoBytesMax && (!s.held || op >= s.op) && m.kept+grown <= digestMemoBudget {
		s.held, s.op, s.sum = true, op, sum
		m.kept -= cap(s.bytes)
		s.bytes = append(s.bytes[:0], b...)
		m.kept += cap(s.bytes)
	}
	return sum
}

// created is one prepare as created: its digest and where and when it was made.
type created struct {
	sum       checksum.Sum
	digest    digest
	view      uint32
	epoch     uint32
	replica   int
	timestamp int64
	atNs      int64
}

// preparedTable remembers every prepare the harness saw created, by op (a handful per op at
// most: one per view that prepared the op).
type preparedTable struct {
	byOp opTable[[]created]
	// maxTimestamp is the highest timestamp created so far: a primary never stamps below
	// its predecessor, so a timestamp may be carried up to it (see timestamps.go).
	maxTimestamp int64
	maxOp        uint64
	count        uint64
	memo         *digestMemo // shared with canonical_commit, which digests the same bytes
}

// lookup returns the creation of the prepare named sum at op.
func (t *preparedTable) lookup(op uint64, sum checksum.Sum) (created, bool) {
	list, _ := t.byOp.get(op)
	for _, c := range list {
		if c.sum == sum {
			return c, true
		}
	}
	return created{}, false
}

// add records p unless it was seen already (a resend); it reports whether p is new.
func (t *preparedTable) add(atNs int64, p Prepared) (created, bool) {
	if c, ok := t.lookup(p.Op, p.Checksum); ok {
		return c, false
	}
	c := created{sum: p.Checksum, digest: t.memo.of(p.Op, p.Bytes), view: p.View, epoch: p.Epoch, replica: p.Replica,
		timestamp: p.Timestamp, atNs: atNs}
	list, _ := t.byOp.get(p.Op)
	t.byOp.put(p.Op, append(list, c))
	t.count++
	return c, true
}
