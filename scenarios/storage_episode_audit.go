package scenarios

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"vopr/internal/storagemodel"
)

// The audit chain, recomputed. The engine keeps a SHA-256 chain over committed ops, the
// runbook's tamper evidence (storage's package documentation: head(op) = SHA-256(head(op-1)
// || op || SHA-256(body)), op as 8 bytes little-endian), and stores its head at each
// checkpoint. The episode's model took that head from the engine, so a chain computed wrongly
// (a body sum left out of a repaired entry, the wrong op hashed) was carried from checkpoint
// to recovery unseen, while the peers' chains differ from it. So every checkpoint of the log's
// own that the engine acknowledges is held to the chain the episode computes itself, from the
// head of the checkpoint before it over the bodies the engine acknowledged at each op above.
// An installed checkpoint starts a chain of its own (its head is the peer's business) and is
// not judged; a span whose bodies the model does not hold whole is not judged either.

// expectedAuditHead returns the head the engine must store for its own checkpoint at op, and
// whether the model can tell.
func (e *storeEpisode) expectedAuditHead(op uint64) ([32]byte, bool) {
	m := e.m
	head, ok := m.Audits[m.CP]
	if m.CP == 0 {
		head, ok = [32]byte{}, true // the format's empty chain
	}
	if !ok || op <= m.CP || m.Audited < m.CP {
		return head, false
	}
	var in [72]byte
	for o := m.CP + 1; o <= op; o++ {
		body, held := m.Log[o]
		if !held || m.Disowned[o] {
			return head, false
		}
		copy(in[:32], head[:])
		binary.LittleEndian.PutUint64(in[32:40], o)
		sum := sha256.Sum256(body)
		copy(in[40:], sum[:])
		head = sha256.Sum256(in[:])
	}
	return head, true
}

// checkAuditHead judges the audit head got that the engine stored for an acknowledged
// checkpoint of the log's own, before the model takes it: the violation, or "".
func (e *storeEpisode) checkAuditHead(step storagemodel.Step, got [32]byte) string {
	if step.Kind != storagemodel.Checkpoint {
		return ""
	}
	want, ok := e.expectedAuditHead(step.Op)
	if !ok {
		return ""
	}
	e.counters["coverage.storage_episode.audit_chains"]++
	if got != want {
		return fmt.Sprintf("checkpoint %d stored audit head %x, but the chain of the bodies acknowledged at ops %d-%d from checkpoint %d's head is %x",
			step.Op, got[:8], e.m.CP+1, step.Op, e.m.CP, want[:8])
	}
	return ""
}
