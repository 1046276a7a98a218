package storage

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"vopr/cluster/checksum"
	"vopr/internal/assert"
)

// State is the replica's durable VSR state, kept in the superblock. It is opaque to storage
// except for the checkpoint fields, which storage owns.
type State struct {
	Cluster      uint64
	Replica      uint8
	ReplicaCount uint8
	// StandbyCount is how many standby replicas follow the cluster (indices ReplicaCount and
	// up): they never vote, so ReplicaCount alone sizes every quorum.
	StandbyCount uint8
	// View and LogView are the persisted view and log_view; Commit is commit_max.
	View, LogView uint32
	Commit        uint64
	// CheckpointOp is the op of the newest durable checkpoint (0: none). Owned by storage:
	// set only by Checkpoint (and Restore); SaveState keeps the stored value.
	CheckpointOp uint64
	// Epoch and Release are the configuration epoch and the release, for reconfiguration
	// and upgrades.
	Epoch, Release uint32
	// Outside is the configuration's membership: bit i set means replica index i (active
	// or standby) is outside the configuration of Epoch (vsr/reconfig.go). Zero: every
	// replica formatted is a member.
	Outside uint16
	// LogEpoch is the configuration epoch LogView belongs to: views of two epochs may share
	// numbers (a replica left in an ended epoch may complete a view change of it), so a log
	// is named by its epoch and view together.
	LogEpoch uint32
	// Boots counts the replica's opens of this state that it made durable: the replica
	// writes Boots+1 before it prepares anything, so that it can tell its first boot (no
	// prepare ever sent) from a restart.
	Boots uint32
	// AuditHead is the SHA-256 audit chain head at CheckpointOp (zero for no checkpoint).
	// Owned by storage like CheckpointOp. The head at later ops is advanced by Commit.
	AuditHead [32]byte
	// JoinedEmpty records that the replica was added to the cluster from an empty disk
	// (formatted to join). The replica keeps it so that a restart before it holds any state
	// still knows its empty log proves nothing of the ops committed before it joined.
	JoinedEmpty bool
}

// superblockJoinedEmpty is State.JoinedEmpty's bit in the superblock's flags byte.
const superblockJoinedEmpty = 1

// checkpointRef locates the newest durable checkpoint.
type checkpointRef struct {
	// Size and Checksum are the checkpoint file's size and the checksum of its whole content.
	Size     int64
	Checksum checksum.Sum
	// Chain is the chain sum of the entry at CheckpointOp: the parent of the next entry, so
	// the hash chain continues across compaction.
	Chain checksum.Sum
	// Audited is the highest op at or below the checkpoint's whose entry this storage had
	// audited (Commit) when it took the checkpoint: the op itself, unless the checkpoint was
	// installed from a snapshot (a state sync, or a commit past damaged entries). The entries
	// above it may not be the history the checkpoint holds (ops this log never received,
	// another view's left in their place), so a replay from an older state after this
	// checkpoint rots takes them for faulty, never for committed. On disk: CheckpointOp less
	// Audited, so that zero is a checkpoint of a fully audited log.
	Audited uint64
}

// superblock is one copy of the superblock. On disk, one sector (little endian):
//
//	0   checksum [16] of bytes [16:512)     80  SegmentEntriesMax u32
//	16  magic u64                           84  EntryBodyMax u32
//	24  Sequence u64                        88  Replica, ReplicaCount, StandbyCount u8
//	                                        91  flags u8 (bit 0 JoinedEmpty), 92 Boots u32
//	32  Cluster u64                         96  AuditHead [32]
//	40  Commit u64                          128 checkpoint Chain [16]
//	48  CheckpointOp u64                    144 checkpoint Checksum [16]
//	56  checkpoint Size u64                 160 Outside u16, 162 LogEpoch u32
//	                                        166 CheckpointOp less checkpoint Audited u64
//	                                        174 Previous: Op u64, 182 Size u64,
//	                                        190 Checksum [16], 206 Chain [16],
//	                                        222 Op less Audited u64, 230 AuditHead [32]
//	                                        262 reserved, zero, to 512
//	64  View u32, 68 LogView u32, 72 Epoch u32, 76 Release u32
//
// Invariants: Sequence increases with every write; CheckpointOp == 0 iff Checkpoint is zero;
// Previous.Op == 0 iff Previous is zero, and Previous.Op < CheckpointOp.
type superblock struct {
	Sequence          uint64
	State             State
	Checkpoint        checkpointRef
	Previous          previousCheckpoint
	SegmentEntriesMax int
	EntryBodyMax      int
}

// previousCheckpoint is the checkpoint before the current one, kept in every superblock write
// until the next checkpoint: the fallback when the current checkpoint's file rots, whatever
// the superblock writes since (a view change writes both pairs, so the other pair soon names
// the current checkpoint too; swarm seed 2026467162 lost its state to one latent sector on
// its only named checkpoint file). Its file is kept while it is named. Open falls back to it
// only from a checkpoint this log executed up to (checkpointRef.Audited): one installed from a
// peer's snapshot is fetched again by state sync (swarm seed 2026495629).
type previousCheckpoint struct {
	Op        uint64
	Ref       checkpointRef
	AuditHead [32]byte
}

const superblockMagic = 0x31304253525f4f56 // "VO_RSB01"

func encodeSuperblock(sb superblock) []byte {
	assert.That(sb.Sequence > 0, "storage: superblock sequence 0")
	assert.That((sb.State.CheckpointOp == 0) == (sb.Checkpoint == checkpointRef{}),
		"storage: checkpoint op and reference disagree")
	assert.That(sb.Checkpoint.Audited <= sb.State.CheckpointOp, "storage: audited past the checkpoint")
	p := sb.Previous
	assert.That((p.Op == 0) == (p == previousCheckpoint{}), "storage: previous checkpoint op and reference disagree")
	assert.That(p.Op < sb.State.CheckpointOp || p.Op == 0, "storage: previous checkpoint not below the current one")
	assert.That(p.Ref.Audited <= p.Op, "storage: previous checkpoint audited past itself")
	b := make([]byte, superblockCopySize)
	le := binary.LittleEndian
	le.PutUint64(b[16:], superblockMagic)
	le.PutUint64(b[24:], sb.Sequence)
	le.PutUint64(b[32:], sb.State.Cluster)
	le.PutUint64(b[40:], sb.State.Commit)
	le.PutUint64(b[48:], sb.State.CheckpointOp)
	le.PutUint64(b[56:], uint64(sb.Checkpoint.Size))
	le.PutUint32(b[64:], sb.State.View)
	le.PutUint32(b[68:], sb.State.LogView)
	le.PutUint32(b[72:], sb.State.Epoch)
	le.PutUint32(b[76:], sb.State.Release)
	le.PutUint32(b[80:], uint32(sb.SegmentEntriesMax))
	le.PutUint32(b[84:], uint32(sb.EntryBodyMax))
	b[88], b[89], b[90] = sb.State.Replica, sb.State.ReplicaCount, sb.State.StandbyCount
	if sb.State.JoinedEmpty {
		b[91] = superblockJoinedEmpty
	}
	le.PutUint32(b[92:], sb.State.Boots)
	copy(b[96:], sb.State.AuditHead[:])
	copy(b[128:], sb.Checkpoint.Chain[:])
	copy(b[144:], sb.Checkpoint.Checksum[:])
	le.PutUint16(b[160:], sb.State.Outside)
	le.PutUint32(b[162:], sb.State.LogEpoch)
	le.PutUint64(b[166:], sb.State.CheckpointOp-sb.Checkpoint.Audited)
	le.PutUint64(b[174:], p.Op)
	le.PutUint64(b[182:], uint64(p.Ref.Size))
	copy(b[190:], p.Ref.Checksum[:])
	copy(b[206:], p.Ref.Chain[:])
	le.PutUint64(b[222:], p.Op-p.Ref.Audited)
	copy(b[230:], p.AuditHead[:])
	sum := checksum.Of(b[16:])
	copy(b, sum[:])
	return b
}

// decodeSuperblock decodes one copy; it never panics on garbage.
func decodeSuperblock(b []byte) (superblock, error) {
	if len(b) != superblockCopySize {
		return superblock{}, fmt.Errorf("%w: superblock copy of %d bytes", ErrDecode, len(b))
	}
	if checksum.Of(b[16:]) != checksum.Sum(b[:16]) {
		return superblock{}, fmt.Errorf("%w: superblock checksum", ErrDecode)
	}
	le := binary.LittleEndian
	if le.Uint64(b[16:]) != superblockMagic || b[91]&^superblockJoinedEmpty != 0 || !AllZero(b[262:]) {
		return superblock{}, fmt.Errorf("%w: superblock magic or reserved bytes", ErrDecode)
	}
	sb := superblock{
		Sequence: le.Uint64(b[24:]),
		State: State{
			Cluster: le.Uint64(b[32:]), Commit: le.Uint64(b[40:]),
			CheckpointOp: le.Uint64(b[48:]),
			View:         le.Uint32(b[64:]), LogView: le.Uint32(b[68:]),
			Epoch: le.Uint32(b[72:]), Release: le.Uint32(b[76:]),
			Replica: b[88], ReplicaCount: b[89], StandbyCount: b[90], Boots: le.Uint32(b[92:]),
			Outside: le.Uint16(b[160:]), LogEpoch: le.Uint32(b[162:]),
			JoinedEmpty: b[91]&superblockJoinedEmpty != 0,
		},
		SegmentEntriesMax: int(le.Uint32(b[80:])),
		EntryBodyMax:      int(le.Uint32(b[84:])),
	}
	size := le.Uint64(b[56:])
	copy(sb.State.AuditHead[:], b[96:128])
	copy(sb.Checkpoint.Chain[:], b[128:144])
	copy(sb.Checkpoint.Checksum[:], b[144:160])
	if sb.Sequence == 0 || size > CheckpointFileSizeMax ||
		sb.SegmentEntriesMax < 1 || sb.SegmentEntriesMax > SegmentEntriesMaxLimit ||
		sb.EntryBodyMax < 1 || sb.EntryBodyMax > EntryBodyMaxLimit {
		return superblock{}, fmt.Errorf("%w: superblock fields out of bounds", ErrDecode)
	}
	sb.Checkpoint.Size = int64(size)
	unaudited := le.Uint64(b[166:])
	if unaudited > sb.State.CheckpointOp {
		return superblock{}, fmt.Errorf("%w: superblock audited op below zero", ErrDecode)
	}
	sb.Checkpoint.Audited = sb.State.CheckpointOp - unaudited
	if (sb.State.CheckpointOp == 0) != (sb.Checkpoint == checkpointRef{}) {
		return superblock{}, fmt.Errorf("%w: superblock checkpoint fields disagree", ErrDecode)
	}
	p, err := decodePrevious(b)
	if err != nil || (p.Op != 0 && p.Op >= sb.State.CheckpointOp) {
		return superblock{}, fmt.Errorf("%w: superblock previous checkpoint fields disagree", ErrDecode)
	}
	sb.Previous = p
	return sb, nil
}

// decodePrevious decodes a copy's previous checkpoint (bytes 174 to 262).
func decodePrevious(b []byte) (previousCheckpoint, error) {
	le := binary.LittleEndian
	p := previousCheckpoint{Op: le.Uint64(b[174:])}
	size, unaudited := le.Uint64(b[182:]), le.Uint64(b[222:])
	copy(p.Ref.Checksum[:], b[190:206])
	copy(p.Ref.Chain[:], b[206:222])
	copy(p.AuditHead[:], b[230:262])
	if size > CheckpointFileSizeMax || unaudited > p.Op {
		return previousCheckpoint{}, ErrDecode
	}
	p.Ref.Size, p.Ref.Audited = int64(size), p.Op-unaudited
	if (p.Op == 0) != (p == previousCheckpoint{}) {
		return previousCheckpoint{}, ErrDecode
	}
	return p, nil
}

// newestSuperblock picks the intact copy with the highest sequence from the superblock file
// (short files read as zeros). It returns the copy, the pair it lives in and how many copies
// are intact; ok is false if none is.
func newestSuperblock(file []byte) (sb superblock, pair int, intact int, ok bool) {
	for i := range superblockCopies {
		start := i * superblockCopySize
		copyBytes := make([]byte, superblockCopySize)
		if start < len(file) {
			copy(copyBytes, file[start:])
		}
		c, err := decodeSuperblock(copyBytes)
		if err != nil {
			continue
		}
		intact++
		if !ok || c.Sequence > sb.Sequence {
			sb, pair, ok = c, i/2, true
		}
	}
	assert.That(!ok || intact > 0, "storage: a superblock chosen from no intact copy")
	assert.That(pair == 0 || pair == 1, "storage: superblock pair out of range")
	return sb, pair, intact, ok
}

// pairNewest returns the newest intact copy of one pair of the superblock file.
func pairNewest(file []byte, pair int) (superblock, bool) {
	assert.That(pair == 0 || pair == 1, "storage: superblock pair out of range")
	start, end := pair*2*superblockCopySize, (pair+1)*2*superblockCopySize
	padded := make([]byte, superblockSize)
	copy(padded[start:end], file[min(start, len(file)):min(end, len(file))])
	sb, got, _, ok := newestSuperblock(padded)
	assert.That(!ok || got == pair, "storage: pair copy from the other pair")
	return sb, ok
}

// superblockTwin is the write that stores twice a superblock state the file holds in one copy
// only: the copy's bytes, into the other sector of its pair (never the copy's own sector).
type superblockTwin struct {
	slot int    // the copy written (0 to 3)
	data []byte // the state's copy, byte for byte as the file holds it
	// damaged reports that the slot held no intact copy (a sector fault, which
	// Recovery.Rewritten reports), rather than an older state (a torn or lost write's).
	damaged bool
}

// singleCopies returns, for each pair whose newest intact copy is the only copy of its state
// in the whole file (superblockTwin), the write of it into the pair's other sector: the
// newest state's pair first, then the other one. A crash tears a pair write at a sector
// boundary, so the newest state may land in one copy, the other keeping the state of two
// writes before; the newest intact state wins at Open, and a later fault over that copy would
// roll back what the replica acted on (PAR, FAST'18), unless Open stores it twice first.
//
// The other pair's state is what a fallback reaches (the previous checkpoint it names), so
// it is stored twice too, but only if it is the state the newest was written after (the
// sequence before the newest's; writes alternate pairs, and a write lost whole leaves its
// sequence to the next): an older one is what the pair shows when its newer copy is damaged
// or, for this read only, unreadable, and written over that copy it would destroy it.
func singleCopies(file []byte) []superblockTwin {
	padded := make([]byte, superblockSize)
	copy(padded, file)
	copyAt := func(i int) []byte { return padded[i*superblockCopySize : (i+1)*superblockCopySize] }
	newest, newestPair, _, ok := newestSuperblock(padded)
	if !ok {
		return nil
	}
	var twins []superblockTwin
	for _, pair := range []int{newestPair, 1 - newestPair} {
		sb, ok := pairNewest(padded, pair)
		if !ok || (pair != newestPair && sb.Sequence+1 != newest.Sequence) {
			continue
		}
		assert.That(sb.Sequence <= newest.Sequence, "storage: a pair's newest copy above the newest")
		one := encodeSuperblock(sb)
		var held []int
		for i := range superblockCopies {
			if bytes.Equal(copyAt(i), one) {
				held = append(held, i)
			}
		}
		assert.That(len(held) > 0, "storage: an intact superblock copy does not encode back to its bytes")
		if len(held) >= 2 {
			continue // Format's and Restore's state is in all four copies
		}
		assert.That(held[0]/2 == pair, "storage: a pair's newest copy lies in the other pair")
		slot := held[0] ^ 1
		_, err := decodeSuperblock(copyAt(slot))
		twins = append(twins, superblockTwin{slot: slot, data: one, damaged: err != nil})
	}
	for _, t := range twins {
		assert.That(t.slot >= 0 && t.slot < superblockCopies, "storage: superblock twin out of range")
		assert.That(!bytes.Equal(copyAt(t.slot), t.data),
			"storage: superblock twin over an identical copy")
	}
	return twins
}

// encodeSuperblockPair returns the two identical copies written as one pair.
func encodeSuperblockPair(sb superblock) []byte {
	one := encodeSuperblock(sb)
	return append(append(make([]byte, 0, 2*len(one)), one...), one...)
}

// AllZero reports whether b holds only zeros, compared a sector at a time (bytes.Equal is
// vectorised, a byte loop is not: every scan checks every record sector, and the simulated
// disk every sector it keeps undo bytes for).
func AllZero(b []byte) bool {
	for len(b) > 0 {
		n := min(len(b), len(zeroSector))
		if !bytes.Equal(b[:n], zeroSector[:n]) {
			return false
		}
		b = b[n:]
	}
	return true
}

// zeroSector is a sector of zeros, for AllZero.
var zeroSector [SectorSize]byte

// The checkpoint file: a header, then the snapshot. On disk (little endian):
//
//	0   checksum [16] of bytes [16:64)
//	16  magic u64
//	24  op u64
//	32  snapshot size u64
//	40  snapshot checksum [16]
//	56  reserved [8], zero
//
// The superblock also holds the checksum of the whole file, so a flipped bit anywhere in it
// is detected before the header is even read.
const checkpointMagic = 0x31305043525f4f56 // "VO_RCP01"

func encodeCheckpointFile(op uint64, snapshot []byte) []byte {
	assert.That(op > 0, "storage: checkpoint of op 0")
	assert.That(len(snapshot) <= CheckpointSizeMax, "storage: snapshot beyond the limit")
	var header [checkpointHeaderSize]byte
	b := header[:]
	le := binary.LittleEndian
	le.PutUint64(b[16:], checkpointMagic)
	le.PutUint64(b[24:], op)
	le.PutUint64(b[32:], uint64(len(snapshot)))
	sumSnapshot := checksum.Of(snapshot)
	copy(b[40:], sumSnapshot[:])
	sum := checksum.Of(b[16:checkpointHeaderSize])
	copy(b, sum[:])
	// The file's array is the append's: the snapshot is copied into it uncleared, where a
	// make of the whole file cleared it first (a large allocation, cleared in full).
	return append(b, snapshot...)
}

// decodeCheckpointFile checks a checkpoint file and returns its op and snapshot (aliasing b).
func decodeCheckpointFile(b []byte) (uint64, []byte, error) {
	if len(b) < checkpointHeaderSize || len(b) > CheckpointFileSizeMax {
		return 0, nil, fmt.Errorf("%w: checkpoint file of %d bytes", ErrDecode, len(b))
	}
	le := binary.LittleEndian
	if checksum.Of(b[16:checkpointHeaderSize]) != checksum.Sum(b[:16]) ||
		le.Uint64(b[16:]) != checkpointMagic || !AllZero(b[56:checkpointHeaderSize]) {
		return 0, nil, fmt.Errorf("%w: checkpoint header", ErrDecode)
	}
	op, size := le.Uint64(b[24:]), le.Uint64(b[32:])
	if op == 0 || size != uint64(len(b)-checkpointHeaderSize) {
		return 0, nil, fmt.Errorf("%w: checkpoint header fields", ErrDecode)
	}
	snapshot := b[checkpointHeaderSize:]
	if checksum.Of(snapshot) != checksum.Sum(b[40:56]) {
		return 0, nil, fmt.Errorf("%w: checkpoint snapshot checksum", ErrDecode)
	}
	return op, snapshot, nil
}
