package invariants

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"
)

// NameAuditChain checks the storage engine's tamper-evident audit chain against the
// committed history: the SHA-256 chain head a replica's durable superblock stores for its
// checkpoint op is exactly the chain over the canonical prepares, by the format's documented
// step (cluster/storage/doc.go): head(op) = SHA-256(head(op-1) ‖ op as u64 little-endian ‖
// SHA-256(the op's entry body, the whole prepare)). The checker computes it with its own code
// and crypto/sha256, from the digests canonical_commit keeps of the prepares executed (its
// own SHA-256 of the same bytes), never through the engine's chain or its memo.
//
// A chain starts from the format's zero head at op 0, or from a seed (a state sync's, or a
// checkpoint the engine's log could not audit up to), which the harness recognises from the
// checkpoint file (scenarios/superblock_durable.go) and passes as seeded: a seed starts a
// chain and is not held to one. A non-seeded head at op C must extend the head this replica
// stored last, unless it restarted since: then any head it stored earlier on this disk (op
// k < C; a fallback to its previous checkpoint resumes from an older one than the last), or
// the zero head (a fallback to the format's state). Spans over an op no replica was seen to execute
// are not computed; a head none can be computed for is taken as a base unverified, and so is
// the first head on a wiped or restored disk (a backup's chain, from before the checkers).
const NameAuditChain = "audit_chain"

// auditBase is a chain head at an op: where a replica's chain may resume.
type auditBase struct {
	op   uint64
	head [32]byte
}

// auditReplica is what the checker knows of one replica's chain since its disk was formatted
// or restored.
type auditReplica struct {
	bases []auditBase // heads the replica stored, ascending by op (the zero head is implicit)
	// last is the head stored last (by time), set: while the replica runs on, its chain
	// resumes from there; only a restart (recovery falling back past a damaged checkpoint, to
	// the one before or to op 0) may resume from an older base.
	last      auditBase
	set       bool
	restarted bool
	// restored: a wiped or restored disk; its first head comes from a chain not seen, and a
	// chain from the zero head is not its history until a superblock names op 0 again.
	restored bool
}

// auditSpan is one chain computation: from a base up to op. Replicas on one chain store the
// same heads at the same checkpoint ops, so each span is hashed once for all of them.
type auditSpan struct {
	from auditBase
	to   uint64
	head [32]byte
}

const auditSpansKept = 8

type auditChain struct {
	canon    *canonicalCommit
	replicas []auditReplica
	spans    [auditSpansKept]auditSpan
	spanNext int
	sha      hash.Hash // crypto/sha256, reused (Sum256 heap-allocates its digest)
	in       [32 + 8 + 32]byte
	out      [32]byte
	// checked counts heads verified against the chain; unchecked, heads taken as a base
	// unverified (no computable span, or a restored disk's first); seeds, seeded heads.
	checked, unchecked, seeds uint64
}

func (a *auditChain) replica(i int) *auditReplica {
	a.replicas = grow(a.replicas, i)
	return &a.replicas[i]
}

// step is the format's chain step, over the canonical digest of op's prepare.
func (a *auditChain) step(head [32]byte, op uint64, body digest) [32]byte {
	if a.sha == nil {
		a.sha = sha256.New()
	}
	copy(a.in[0:32], head[:])
	binary.LittleEndian.PutUint64(a.in[32:40], op)
	copy(a.in[40:72], body[:])
	a.sha.Reset()
	a.sha.Write(a.in[:])
	a.sha.Sum(a.out[:0])
	return a.out
}

// chain returns the head reached from base after the ops up to op, or false if an op in
// between has no canonical prepare the checkers saw executed.
func (a *auditChain) chain(from auditBase, op uint64) ([32]byte, bool) {
	for _, s := range a.spans {
		if s.to == op && s.from == from && op != 0 {
			return s.head, true
		}
	}
	head := from.head
	for o := from.op + 1; o <= op; o++ {
		rec := a.canon.record(o)
		if rec == nil {
			return head, false
		}
		head = a.step(head, o, rec.digest)
	}
	a.spans[a.spanNext] = auditSpan{from: from, to: op, head: head}
	a.spanNext = (a.spanNext + 1) % auditSpansKept
	return head, true
}

// stored takes the head replica's newly durable superblock stores for its checkpoint op.
func (a *auditChain) stored(atNs int64, replica int, op uint64, head [32]byte, seeded bool) *Violation {
	r := a.replica(replica)
	if op == 0 {
		*r = auditReplica{} // the format's state: the chain starts again from the zero head
		return nil
	}
	switch {
	case seeded:
		a.seeds++
	case r.restored && len(r.bases) == 0:
		a.unchecked++
	default:
		computed := false
		if r.set && !r.restarted && r.last.op < op {
			// Running on since its last head: the chain resumes from that head alone.
			want, ok := a.chain(r.last, op)
			if ok && want != head {
				return violation(NameAuditChain, replica, op, 0, atNs,
					"durable checkpoint %d stores audit head %x, but the SHA-256 chain over the committed prepares gives %x from the head it stored last, at op %d",
					op, head[:8], want[:8], r.last.op)
			}
			if ok {
				a.checked++
			} else {
				a.unchecked++
			}
			r.keep(op, head)
			return nil
		}
		for i := len(r.bases); i >= 0; i-- {
			base := auditBase{} // i == 0: the zero head at op 0
			if i > 0 {
				base = r.bases[i-1]
			}
			if base.op >= op || (i == 0 && r.restored) {
				continue
			}
			want, ok := a.chain(base, op)
			if !ok {
				continue
			}
			if want == head {
				a.checked++
				r.keep(op, head)
				return nil
			}
			computed = true
		}
		if computed {
			want, _ := a.chain(r.latestBelow(op), op)
			return violation(NameAuditChain, replica, op, 0, atNs,
				"durable checkpoint %d stores audit head %x, but the SHA-256 chain over the committed prepares gives %x from its head at op %d (nor does any other head it stored below op %d, or the zero head, lead to it)",
				op, head[:8], want[:8], r.latestBelow(op).op, op)
		}
		a.unchecked++
	}
	r.keep(op, head)
	return nil
}

// latestBelow returns the highest base below op (the zero head if none).
func (r *auditReplica) latestBelow(op uint64) auditBase {
	for i := len(r.bases) - 1; i >= 0; i-- {
		if r.bases[i].op < op {
			return r.bases[i]
		}
	}
	return auditBase{}
}

// keep records head at op as a base; a head at op other than the one kept there starts
// another chain from op, so the bases above it (of the old chain) are dropped.
func (r *auditReplica) keep(op uint64, head [32]byte) {
	r.last, r.set, r.restarted = auditBase{op: op, head: head}, true, false
	for i, b := range r.bases {
		if b.op < op {
			continue
		}
		if b.op == op && b.head == head {
			return
		}
		r.bases = r.bases[:i]
		break
	}
	r.bases = append(r.bases, auditBase{op: op, head: head})
}

// crash: the replica restarts from its disk, whose recovery may fall back to an older
// checkpoint than the one it stored last.
func (a *auditChain) crash(replica int) { a.replica(replica).restarted = true }

// rewind: a restore or a failover replaced the committed ops above op, so the spans computed
// over them, and the heads stored above it, belong to a history that is gone.
func (a *auditChain) rewind(op uint64) {
	a.spans = [auditSpansKept]auditSpan{}
	for i := range a.replicas {
		r := &a.replicas[i]
		for len(r.bases) > 0 && r.bases[len(r.bases)-1].op > op {
			r.bases = r.bases[:len(r.bases)-1]
		}
		if r.last.op > op {
			r.set = false
		}
	}
}

// wipe: replica's disk was replaced or restored; what it stores next is a chain not seen.
func (a *auditChain) wipe(replica int) {
	*a.replica(replica) = auditReplica{restored: true}
}
