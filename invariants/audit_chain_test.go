package invariants

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// auditHeadOf is the documented chain (cluster/storage/doc.go) over the test's "p<op>"
// prepares from head at op from, written out again here: head(op) = SHA-256(head(op-1) ‖
// op u64 LE ‖ SHA-256(body)).
func auditHeadOf(head [32]byte, from, to uint64) [32]byte {
	for op := from + 1; op <= to; op++ {
		body := sha256.Sum256([]byte(fmt.Sprintf("p%d", op)))
		var in []byte
		in = append(in, head[:]...)
		in = binary.LittleEndian.AppendUint64(in, op)
		in = append(in, body[:]...)
		head = sha256.Sum256(in)
	}
	return head
}

func TestAuditChainPassesChainHeadsSeedsAndFallbacks(t *testing.T) {
	s := NewSuite(3)
	commitRange(s, 10*ms, 0, 1, 1, 12)
	zero := [32]byte{}
	s.OnAuditHead(11*ms, 0, 0, zero, false)
	s.OnAuditHead(12*ms, 0, 4, auditHeadOf(zero, 0, 4), false)
	s.OnAuditHead(13*ms, 0, 4, auditHeadOf(zero, 0, 4), false) // the same copy synced again
	s.OnAuditHead(14*ms, 0, 8, auditHeadOf(zero, 0, 8), false)
	s.OnAuditHead(15*ms, 1, 8, auditHeadOf(zero, 0, 8), false) // a first checkpoint at 8
	// Replica 2 state-syncs to 4 (a seed), and chains on from it.
	seed := sha256.Sum256([]byte("some snapshot's seed"))
	s.OnAuditHead(20*ms, 2, 4, seed, true)
	s.OnAuditHead(21*ms, 2, 8, auditHeadOf(seed, 4, 8), false)
	// Replica 0 restarts, falls back to checkpoint 4 (its 8 lost) and checkpoints 12 from there.
	s.OnCrash(29*ms, 0)
	s.OnAuditHead(30*ms, 0, 12, auditHeadOf(zero, 0, 12), false)
	// A restored disk's first head is a chain the checker did not see; it chains on from it.
	s.OnWipe(40*ms, 1)
	restored := sha256.Sum256([]byte("a backup's head"))
	s.OnAuditHead(41*ms, 1, 8, restored, false)
	s.OnAuditHead(42*ms, 1, 12, auditHeadOf(restored, 8, 12), false)
	// An op nobody executed: the head is not guessed.
	s.OnAuditHead(43*ms, 0, 16, sha256.Sum256([]byte("unknown")), false)
	require.Nil(t, s.Violation())
	c := s.Counters()
	require.Equal(t, uint64(7), c["invariants.audit_heads_checked"])
	require.Equal(t, uint64(2), c["invariants.audit_heads_unchecked"])
	require.Equal(t, uint64(1), c["invariants.audit_seeds"])
}

// TestAuditChainFiresOnWrongHead: a head that is not the chain over the committed prepares
// (here: op 6's body summed as another prepare of the same size, the memo bug's result).
func TestAuditChainFiresOnWrongHead(t *testing.T) {
	s := NewSuite(3)
	commitRange(s, 10*ms, 0, 1, 1, 8)
	s.OnAuditHead(11*ms, 1, 4, auditHeadOf([32]byte{}, 0, 4), false)
	wrong := auditHeadOf([32]byte{}, 0, 4)
	for op := uint64(5); op <= 8; op++ {
		body := sha256.Sum256([]byte(fmt.Sprintf("p%d", op)))
		if op == 6 {
			body = sha256.Sum256([]byte("q6"))
		}
		in := binary.LittleEndian.AppendUint64(append([]byte(nil), wrong[:]...), op)
		wrong = sha256.Sum256(append(in, body[:]...))
	}
	s.OnAuditHead(20*ms, 1, 8, wrong, false)
	v := s.Violation()
	requireViolation(t, v, NameAuditChain, 1, 8, 0, 20*ms)
	require.Contains(t, v.Message, "from the head it stored last, at op 4")
}

// TestAuditChainFiresOnSeededReplicaGivenPeersHead: a replica that started its chain from a
// seed must store heads on that chain, not its peers' (the memo bug's other result).
func TestAuditChainFiresOnSeededReplicaGivenPeersHead(t *testing.T) {
	s := NewSuite(3)
	commitRange(s, 10*ms, 0, 1, 1, 8)
	seed := sha256.Sum256([]byte("seed"))
	s.OnAuditHead(11*ms, 2, 4, seed, true)
	s.OnAuditHead(12*ms, 2, 8, auditHeadOf([32]byte{}, 0, 8), false)
	requireViolation(t, s.Violation(), NameAuditChain, 2, 8, 0, 12*ms)
}

// TestDigestMemoTellsSameSizeApart: the checkers' memo hits only on equal bytes; two
// prepares of one size at one op (a view change's replacement) get their own digests.
func TestDigestMemoTellsSameSizeApart(t *testing.T) {
	var m digestMemo
	require.Equal(t, digestOf([]byte("p6")), m.of(6, []byte("p6")))
	require.Equal(t, digestOf([]byte("q6")), m.of(6, []byte("q6")))
	require.Equal(t, digestOf([]byte("q6")), m.of(6, []byte("q6")))
}

// TestAuditChainFiresOnWrongHeadAfterRestart: after a restart any earlier head may be the
// base, but a head none of them (nor the zero head) leads to still fires.
func TestAuditChainFiresOnWrongHeadAfterRestart(t *testing.T) {
	s := NewSuite(3)
	commitRange(s, 10*ms, 0, 1, 1, 8)
	s.OnAuditHead(11*ms, 1, 4, auditHeadOf([32]byte{}, 0, 4), false)
	s.OnCrash(12*ms, 1)
	s.OnAuditHead(13*ms, 1, 8, auditHeadOf([32]byte{}, 1, 8), false) // op 1 left out
	v := s.Violation()
	requireViolation(t, v, NameAuditChain, 1, 8, 0, 13*ms)
	require.Contains(t, v.Message, "nor does any other head it stored below op 8")
}

// TestAuditChainFollowsFailover: a failover replaces the committed ops above its point, and
// the chain of the promoted replica runs over the new ones (swarm seed 2028800067: a span
// computed over the old cluster's ops was reused).
func TestAuditChainFollowsFailover(t *testing.T) {
	s := NewSuite(3)
	commitRange(s, 10*ms, 0, 1, 1, 8)
	head4 := auditHeadOf([32]byte{}, 0, 4)
	s.OnAuditHead(11*ms, 0, 4, head4, false)
	s.OnAuditHead(12*ms, 0, 8, auditHeadOf([32]byte{}, 0, 8), false)
	s.OnAuditHead(13*ms, 2, 4, head4, false)
	s.OnFailover(20*ms, 4, 2)
	s.OnCrash(21*ms, 2)
	s.OnAuditHead(21*ms, 2, 4, head4, false) // recovered: it chains on from 4 alone
	head := head4
	for op := uint64(5); op <= 8; op++ {
		other := fmt.Sprintf("new%d", op)
		s.OnEvent(22*ms, commitEvent(2, 1, op, other))
		body := sha256.Sum256([]byte(other))
		in := binary.LittleEndian.AppendUint64(append([]byte(nil), head[:]...), op)
		head = sha256.Sum256(append(in, body[:]...))
	}
	s.OnAuditHead(23*ms, 2, 8, head, false)
	require.Nil(t, s.Violation())
	require.Equal(t, uint64(5), s.Counters()["invariants.audit_heads_checked"])
}
