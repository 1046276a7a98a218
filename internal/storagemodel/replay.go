package storagemodel

import (
	"crypto/sha256"
	"encoding/binary"
)

// The engine's contract for a lost checkpoint (storage's package documentation, Options.
// ReplayOpsMax): when a checkpoint and the one before it both fail to verify, the engine falls
// back to op 0, the format's empty state, if the log still holds every op from 1 through the
// checkpoint and its head is within ReplayOpsMax, but only for a checkpoint this log executed
// up to itself: below one installed from a peer's snapshot the log need not be the snapshot's
// history. Stated here from the history alone: the bodies acknowledged at ops 1..cp, chained
// from the zero head as the runbook's audit chain runs (head(op) = SHA-256(head(op-1) || op ||
// SHA-256(body)), op as 8 bytes little-endian), must give the audit head acknowledged for cp.

// AuditChain is the audit chain's head over bodies at ops from+1, from+2, ... from head.
func AuditChain(head [32]byte, from uint64, bodies [][]byte) [32]byte {
	var in [72]byte
	for i, body := range bodies {
		copy(in[:32], head[:])
		binary.LittleEndian.PutUint64(in[32:40], from+1+uint64(i))
		sum := sha256.Sum256(body)
		copy(in[40:], sum[:])
		head = sha256.Sum256(in[:])
	}
	return head
}

// ReplaysFromFormat reports whether the history says acknowledged checkpoint cp, once lost
// with the one before it, can be replayed from op 0 by a log that still holds the
// acknowledged entries of ops 1..cp intact: cp is the current checkpoint and the log's own
// (not a peer's snapshot installed over ops it never audited), every op through it has an
// acknowledged body no recovery distrusted since, they chain from the zero head to cp's
// acknowledged audit head, and no op in the log or in flight lies above opsMax.
func (m *Model) ReplaysFromFormat(cp uint64, opsMax int) bool {
	if cp == 0 || cp != m.CP || opsMax <= 0 || m.Audited != cp || m.Head > uint64(opsMax) ||
		(m.Pending != nil && m.Pending.Op > uint64(opsMax)) {
		return false
	}
	if after, upTo := m.Unaudited(cp); after != upTo {
		return false // installed over ops this log never audited
	}
	want, ok := m.Audits[cp]
	if !ok {
		return false
	}
	bodies := make([][]byte, 0, cp)
	for op := uint64(1); op <= cp; op++ {
		body, held := m.Log[op]
		if !held || m.Disowned[op] {
			return false
		}
		bodies = append(bodies, body)
	}
	return AuditChain([32]byte{}, 0, bodies) == want
}
