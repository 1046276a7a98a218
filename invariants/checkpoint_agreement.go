package invariants

import (
	"crypto/sha256"
	"encoding/binary"
	"strings"

	"vopr/cluster/vsr"
)

// NameCheckpointAgreement checks that replicas agree on every byte of the replicated state at
// each checkpoint: a checkpoint of op N is the state after the committed prefix up to N, so
// every replica that takes one at N writes the same snapshot, byte for byte (the header of
// N's prepare, the state machine, and the client table with each session's latest request
// and reply). A replica behind its peers installs one of their snapshots by state sync, from
// whichever peer answers: were the snapshots to differ, what it holds, answers to retries
// and evicts would depend on that choice. digest_agreement compares the state machine's
// digest only; this covers the client table as well, which no other check compares across
// replicas.
//
// The harness passes each checkpoint a replica took, as the replica holds it; the checker
// keeps SHA-256 digests of the first snapshot taken at each op (of its three parts, split
// by the snapshot's layout: prepare header, u32 size and state machine, client table) and
// names the part that differs. A restore or a failover forgets the ops above its point.
const NameCheckpointAgreement = "checkpoint_agreement"

// checkpointParts are the SHA-256 digests of a snapshot's parts; a snapshot too short to
// split is digested whole as its header part.
type checkpointParts [3][sha256.Size]byte

var checkpointPartNames = [3]string{"prepare header", "state machine", "client table"}

type checkpointRecord struct {
	parts   checkpointParts
	size    int
	replica int
	atNs    int64
}

type checkpointAgreement struct {
	first   opTable[checkpointRecord]
	checked uint64
}

// splitCheckpoint digests a snapshot's parts (the layout of vsr's checkpoint snapshot: a
// prepare header, the state machine's snapshot after its u32 size, then the client table).
func splitCheckpoint(snapshot []byte) checkpointParts {
	var p checkpointParts
	if len(snapshot) < vsr.HeaderSize+4 {
		p[0] = sha256.Sum256(snapshot)
		return p
	}
	size := uint64(binary.LittleEndian.Uint32(snapshot[vsr.HeaderSize:]))
	machineEnd := uint64(vsr.HeaderSize + 4)
	if size <= uint64(len(snapshot))-machineEnd {
		machineEnd += size
	} else {
		machineEnd = uint64(len(snapshot)) // malformed: all of it counts as the state
	}
	p[0] = sha256.Sum256(snapshot[:vsr.HeaderSize])
	p[1] = sha256.Sum256(snapshot[vsr.HeaderSize:machineEnd])
	p[2] = sha256.Sum256(snapshot[machineEnd:])
	return p
}

// held takes the snapshot replica holds for its checkpoint at op, just taken.
func (c *checkpointAgreement) held(atNs int64, replica int, op uint64, snapshot []byte) *Violation {
	parts := splitCheckpoint(snapshot)
	first := c.first.at(op)
	if first == nil {
		c.first.put(op, checkpointRecord{parts: parts, size: len(snapshot), replica: replica, atNs: atNs})
		return nil
	}
	c.checked++
	if first.parts == parts {
		return nil
	}
	var differ []string
	for i := range parts {
		if parts[i] != first.parts[i] {
			differ = append(differ, checkpointPartNames[i])
		}
	}
	return violation(NameCheckpointAgreement, replica, op, 0, atNs,
		"checkpoint of op %d (%d bytes) differs in its %s from replica %d's checkpoint of that op (%d bytes, at %s): "+
			"the snapshot of a committed prefix must be the same on every replica",
		op, len(snapshot), strings.Join(differ, " and "), first.replica, first.size, formatNs(first.atNs))
}
