package invariants

import (
	"encoding/binary"
	"fmt"

	"vopr/cluster/vsr"
)

// NameCheckpointContent holds the state machine a checkpoint saves to the committed history:
// the first snapshot a replica takes of op N (checkpoint_agreement holds every later one to
// it, byte for byte) must hold the release and exactly the keys and values of the state
// after op N, by this package's own model (kvShadow, replaying the canonical prepares).
//
// digest_agreement compares digests the replicas compute from their own snapshot encoder,
// and checkpoint_agreement compares replicas with each other: an encoder that leaves out
// or alters part of the state the same way on every replica (and a decoder that agrees
// with it) passes both, and a replica restored from the checkpoint reports the same digest
// as one that never restarted. Only reads after a restart would show it; here it is the
// checkpoint itself. After a restore or a failover rewound the history, or when the model
// stopped, nothing is checked.
//
// The snapshot is decoded here from the layout (replica_open.go snapshot, kv.Snapshot):
// a prepare header, u32 size, then the machine's snapshot: magic "KVS2", release u32, key
// count u32, per key u16 size, key, u32 size, value, then a 16-byte checksum.
const NameCheckpointContent = "checkpoint_content"

type checkpointContent struct {
	model            *kvShadow
	checked, skipped uint64
}

// held checks the first snapshot taken of op.
func (c *checkpointContent) held(atNs int64, replica int, op uint64, snapshot []byte) *Violation {
	m := c.model
	if m.broken != "" || m.rewound || op > m.applied || op == 0 {
		c.skipped++
		return nil
	}
	c.checked++
	if problem := m.stateDiffers(op, snapshot); problem != "" {
		return violation(NameCheckpointContent, replica, op, 0, atNs,
			"its checkpoint of op %d %s (the committed history to op %d)", op, problem, m.applied)
	}
	return nil
}

// stateDiffers returns how the machine's snapshot in a checkpoint snapshot of op differs from
// the model's state after op, "" if it does not.
func (m *kvShadow) stateDiffers(op uint64, snapshot []byte) string {
	le := binary.LittleEndian
	if len(snapshot) < vsr.HeaderSize+4 {
		return "is too short to hold a state"
	}
	b := snapshot[vsr.HeaderSize:]
	size := uint64(le.Uint32(b))
	b = b[4:]
	const head, sum = 12, 16
	if size > uint64(len(b)) || size < head+sum || string(b[:4]) != "KVS2" {
		return "holds no state machine snapshot"
	}
	b = b[:size-sum]
	if release, want := le.Uint32(b[4:]), m.releaseAt(op); release != want {
		return fmt.Sprintf("holds release %d, but the history runs release %d there", release, want)
	}
	count := le.Uint32(b[8:])
	b = b[head:]
	for i := uint32(0); i < count; i++ {
		if len(b) < 2 || len(b) < 2+int(le.Uint16(b))+4 {
			return fmt.Sprintf("ends inside key %d of %d", i+1, count)
		}
		key := string(b[2 : 2+le.Uint16(b)])
		b = b[2+len(key):]
		n := uint64(le.Uint32(b))
		if n > uint64(len(b)-4) {
			return fmt.Sprintf("ends inside the value of key %s", quote(key))
		}
		value := string(b[4 : 4+n])
		b = b[4+n:]
		if want, present := m.at(key, op); !present || want != value {
			held := "absent"
			if present {
				held = quote(want)
			}
			return fmt.Sprintf("holds key %s = %s, but the history holds it %s there", quote(key), quote(value), held)
		}
	}
	if len(b) != 0 {
		return fmt.Sprintf("holds %d bytes past its %d keys", len(b), count)
	}
	// Every key it holds is the history's: the history holds no other if the counts agree.
	present := 0
	for key := range m.versions {
		if _, ok := m.at(key, op); ok {
			present++
		}
	}
	if uint32(present) != count {
		return fmt.Sprintf("holds %d keys, but the history holds %d there", count, present)
	}
	return ""
}
