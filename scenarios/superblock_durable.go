package scenarios

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/zeebo/xxh3"

	"vopr/cluster/vsr"
	"vopr/sim"
)

// The superblock checks hold each replica's durable superblock (what a crash now would
// leave, read from the simulated disk with this package's own decoder) to the engine's
// durability contract, at the instant it changes: when a sync of the superblock completes
// (sim.ClusterOptions.OnCompletion), before the replica learns of it. A read of the
// superblock (recovery's, after a crash that may have kept an unsynced write) sets the state
// the next write is held to.
//
//   - Written last: the checkpoint the newest durable copy names is durable, whole, with
//     the size and checksum the copy records. A superblock pointed at a checkpoint before the
//     checkpoint file's sync leaves a crash nothing to fall back on but an older pair. So is
//     the previous checkpoint it keeps for a fallback: a cleanup that removed that file while
//     a copy still names it leaves a rot of the newest checkpoint no fallback, and the
//     replica loses its state (it must state-sync, or stop if it is alone).
//   - Alternating pairs: a superblock write that becomes durable leaves the previous newest
//     state intact in the other pair, so that a torn or lost write of the next one still
//     finds it. A copy a fault altered since (visibly: the engine saw it damaged and may
//     rightly write over it) is exempt.
//   - One audit chain head per checkpoint: the SHA-256 audit chain's head that a durable
//     copy stores for a checkpoint op is either the seed of the checkpoint's snapshot
//     (SHA-256 of "vopr audit seed", the op, and the snapshot's SHA-256) or the one chain
//     head the replica stored for that op before (a chain over the same committed ops). The
//     engine seeds whenever its log cannot audit up to the op: a state sync, a lost
//     checkpoint taken again, or a local checkpoint whose own op's entry is not written yet;
//     the same op checkpointed again later, from a log that holds it (after a fallback to the
//     previous checkpoint), stores the chain head instead (swarm seed 20262615). A fallback
//     to an older checkpoint that kept the newer one's head breaks it. The claim holds
//     within one chain only: a seed starts another chain at its op, and the same committed
//     ops above it then give other heads (a lost checkpoint replaced by a peer's, and the
//     ops after it executed and checkpointed again: swarm seed 20262660), so a head stored
//     for an op that differs from the one stored last for it forgets the heads above it.
//   - Boots before prepares: a replica prepares an op only once its durable superblock
//     holds this boot (Boots >= 1, and above the count its disk held before its last
//     restart): a crash must never make a replica that prepared look like a first boot.
//
// The decoder is readSuperblock (durability.go); TestDurableSuperblockDecoder holds it to
// the engine's encoder.

// superblockChecks follows every replica's durable superblock; the zero value is ready.
type superblockChecks struct {
	replicas []superblockWatch
	marks    map[string]uint64
	// onAuditHead, if set, is told every audit head a newly durable copy stores and whether
	// it is its checkpoint's seed (the swarm's Suite: invariants' audit_chain).
	onAuditHead func(replica int, op uint64, head [32]byte, seeded bool)
}

// superblockWatch is one replica's durable superblock as last seen.
type superblockWatch struct {
	seed   seedCache         // the audit seed of the durable checkpoint file last read
	reader superblockReader  // the durable superblock, decoded on change
	file   []byte            // the durable superblock file at the last sync checked
	spare  []byte            // the array of the file before it, for the next one
	newest durableSuperblock // its newest intact copy
	// held are checkpoint files found durable and whole (checkpointFileHolds): see fileHolds.
	held [2]heldCheckpoint
	// altered marks the copies a fault altered (visibly) since the last sync checked.
	altered [4]bool
	// boots and sequence are the durable boot count and sequence at the replica's last
	// prepare, by the incarnation that made it; excused is set when a fault altered a copy
	// since (recovery may then rightly have read an older boot count).
	boots       uint32
	sequence    uint64
	incarnation *vsr.Replica
	excused     bool
	// audit holds the audit chain head (not a seed) stored for each checkpoint op on the
	// current chain since the disk was formatted or restored; stored holds the head (seed or
	// chain head) stored last for each of those ops.
	audit, stored map[uint64][32]byte
}

// superblockMarks are the coverage marks of the superblock checks, reported even at zero.
var superblockMarks = []string{"superblock_sync", "superblock_checkpoint", "superblock_previous", "superblock_pair",
	"superblock_audit", "superblock_boots"}

// watch returns replica's watch.
func (sc *superblockChecks) watch(replica int) *superblockWatch {
	for len(sc.replicas) <= replica {
		sc.replicas = append(sc.replicas, superblockWatch{})
	}
	return &sc.replicas[replica]
}

func (sc *superblockChecks) mark(name string) {
	if sc.marks == nil {
		sc.marks = map[string]uint64{}
	}
	sc.marks[name]++
}

// onCompletion runs the superblock checks of a swarm run (sim.ClusterOptions.OnCompletion).
func (run *swarmRun) onCompletion(replica int, io sim.IOCompletion) {
	if run.c != nil && run.durability == "" {
		run.durability = run.storage.superblocks.onCompletion(run.c.Nodes[replica].Disk, replica, io)
	}
}

// onCompletion checks replica's durable superblock when a sync of it completes, and notes
// the copies a fault altered at every completion on the superblock file. It returns the
// violation, if any.
func (sc *superblockChecks) onCompletion(disk *sim.Disk, replica int, io sim.IOCompletion) string {
	if io.Name != "superblock" {
		return ""
	}
	w := sc.watch(replica)
	for i := range w.altered {
		if len(disk.Altered("superblock", int64(i)*superblockCopySize, superblockCopySize)) > 0 {
			w.altered[i], w.excused = true, true
		}
	}
	if io.Op == sim.IORead && io.Err == nil {
		// Recovery reads the superblock: a crash may have kept a write whose sync never
		// completed, so what it finds is the state the next write must leave intact.
		w.file = disk.DurableRange("superblock", 0, superblockFileSize)
		w.newest = readSuperblock(w.file)
		return ""
	}
	if io.Op != sim.IOSync || io.Err != nil {
		return ""
	}
	// Most syncs leave the durable bytes as the last one did: compared in place, copied only
	// when they changed, into the array of the file before the last (the last one's copies
	// are previous's, read below).
	view := disk.DurableView("superblock", 0, superblockFileSize)
	if bytes.Equal(view, w.file) {
		return ""
	}
	file := append(w.spare[:0], view...)
	w.spare = w.file
	sc.mark("superblock_sync")
	previous, altered := w.newest, w.altered
	w.file, w.newest, w.altered = file, readSuperblock(file), [4]bool{}
	if !w.newest.ok {
		return fmt.Sprintf("superblock: replica %d synced a superblock with no intact copy", replica)
	}
	if msg := sc.checkPair(replica, previous, altered, file, w.newest); msg != "" {
		return msg
	}
	// A sync that only stored again the state the newest copy held (Open's twin of it) made
	// nothing newly durable: that state may be what a superblock write whose sync failed left,
	// naming a checkpoint whose file the engine then rewrote, and a crash tore (swarm seeds
	// 2044400509, 2044400571); Open falls back from it. A new state is held to its checkpoint.
	if !previous.ok || w.newest.sequence != previous.sequence {
		if msg := sc.checkCheckpoint(disk, replica, w); msg != "" {
			return msg
		}
	}
	if previous.ok && w.newest.sequence < previous.sequence {
		w.audit, w.stored = nil, nil // a restore or a format: another disk's history
	}
	return sc.checkAudit(disk, replica, w)
}

// checkAudit holds the newest durable copy's audit head to its checkpoint's seed or to the
// chain head stored before for its checkpoint op, within one chain: a head the copy stores
// for its op that is not the one stored last for that op (a seed where there was none or
// another head, or a chain head where a seed was) starts another chain from that op, so the
// chain heads stored for the ops above it belong to the old chain and are forgotten.
func (sc *superblockChecks) checkAudit(disk *sim.Disk, replica int, w *superblockWatch) string {
	sb := w.newest
	op, head := sb.checkpointOp, sb.auditHead
	if op == 0 {
		if sc.onAuditHead != nil {
			sc.onAuditHead(replica, 0, head, false)
		}
		// The format's state (a first checkpoint that rotted falls back to it): the chain
		// starts again from the zero head, and any seed stored since is behind it.
		w.audit, w.stored = nil, nil
		return ""
	}
	if w.audit == nil {
		w.audit, w.stored = map[uint64][32]byte{}, map[uint64][32]byte{}
	}
	name := checkpointFileName(op)
	file := disk.DurableView(name, 0, math.MaxInt64)
	seeded := len(file) >= checkpointHeaderBytes && head == w.seed.of(op, file, disk, disk.DurableStamp(name))
	if sc.onAuditHead != nil {
		sc.onAuditHead(replica, op, head, seeded)
	}
	before, known := w.audit[op]
	switch {
	case !seeded && known && before != head:
		sc.mark("superblock_audit")
		return fmt.Sprintf("superblock: replica %d's durable superblock (sequence %d) stores audit head %x for "+
			"checkpoint %d, which it stored before as %x", replica, sb.sequence, head[:8], op, before[:8])
	case !seeded:
		w.audit[op] = head
	case known && before != head:
		sc.mark("superblock_audit") // the chain head replaced by the seed: a sync
	}
	if last, stored := w.stored[op]; last != head && (stored || seeded) {
		w.forgetAbove(op)
	}
	w.stored[op] = head
	return ""
}

// forgetAbove forgets the heads stored for the checkpoint ops above op: a chain that starts
// again at op (a seed: state sync, or a checkpoint its log could not audit up to) reaches
// them from another head, so the same committed ops give other heads there (swarm seed
// 20262660: a fallback to checkpoint 128, that checkpoint lost, a peer's 128 installed with
// its seed, and 192 checkpointed again from it).
func (w *superblockWatch) forgetAbove(op uint64) {
	for k := range w.audit {
		if k > op {
			delete(w.audit, k)
		}
	}
	for k := range w.stored {
		if k > op {
			delete(w.stored, k)
		}
	}
}

// seedCache is auditSeedOf a checkpoint file, hashed again only when the op or the file's
// bytes differ from the last (a checkpoint file is written once; the superblock that names
// it is synced many times). While the disk's stamp of the file stays the one it had when
// its bytes were last found equal, they still are: the comparison is skipped too.
type seedCache struct {
	valid bool
	op    uint64
	file  []byte
	seed  [32]byte
	disk  *sim.Disk
	stamp uint64 // the disk's DurableStamp of the file when it last held file (0: none)
}

// of returns the audit seed of checkpoint op whose file (header and snapshot) is file, the
// durable bytes of disk's checkpoint file of op, which the disk stamps stamp.
func (c *seedCache) of(op uint64, file []byte, disk *sim.Disk, stamp uint64) [32]byte {
	if c.valid && c.op == op && stamp != 0 && c.stamp == stamp && c.disk == disk {
		return c.seed
	}
	if !c.valid || c.op != op || !bytes.Equal(c.file, file) {
		c.valid, c.op, c.file = true, op, append(c.file[:0], file...) // c.file is c's alone
		c.seed = auditSeedOf(op, file[checkpointHeaderBytes:])
	}
	c.disk, c.stamp = disk, stamp
	return c.seed
}

// checkpointHeaderBytes is the size of a checkpoint file's header, before the snapshot
// (storage/superblock.go).
const checkpointHeaderBytes = 64

// auditSeedOf is the audit head of a checkpoint installed by state sync (storage/checkpoint.go
// auditSeed): SHA-256("vopr audit seed" || op || SHA-256(snapshot)).
func auditSeedOf(op uint64, snapshot []byte) [32]byte {
	b := binary.LittleEndian.AppendUint64([]byte("vopr audit seed"), op)
	sum := sha256.Sum256(snapshot)
	return sha256.Sum256(append(b, sum[:]...))
}

// checkPair holds a superblock write to the pair rule: the previous newest state survives it.
func (sc *superblockChecks) checkPair(replica int, previous durableSuperblock, altered [4]bool, file []byte,
	newest durableSuperblock) string {
	if !previous.ok || newest.sequence <= previous.sequence || altered[previous.index] {
		return "" // a first sync, a format or restore, or a copy the engine saw damaged
	}
	sc.mark("superblock_pair")
	for _, c := range superblockCopies(file) {
		if bytes.Equal(c.bytes, previous.bytes) {
			return ""
		}
	}
	return fmt.Sprintf("superblock: replica %d's write of sequence %d left no intact copy of sequence %d "+
		"(the state a torn or lost write must fall back to)", replica, newest.sequence, previous.sequence)
}

// checkCheckpoint holds the newest durable copy to its checkpoint: the file is durable, with
// the size and checksum the copy names.
func (sc *superblockChecks) checkCheckpoint(disk *sim.Disk, replica int, w *superblockWatch) string {
	sb := w.newest
	if sb.checkpointOp == 0 {
		return ""
	}
	sc.mark("superblock_checkpoint")
	checkpoint := heldCheckpoint{disk: disk, op: sb.checkpointOp, size: sb.checkpointSize, sum: sb.checkpointSum}
	if msg := w.fileHolds(replica, sb, "checkpoint", checkpoint, sb.previousOp); msg != "" {
		return msg
	}
	if sb.previousOp == 0 {
		return ""
	}
	sc.mark("superblock_previous")
	previous := heldCheckpoint{disk: disk, op: sb.previousOp, size: sb.previousSize, sum: sb.previousSum}
	return w.fileHolds(replica, sb, "previous checkpoint (its fallback)", previous, sb.checkpointOp)
}

// heldCheckpoint is a checkpoint file of disk found durable with the size and checksum a
// superblock copy names, when the disk's DurableStamp of it was stamp.
type heldCheckpoint struct {
	disk  *sim.Disk
	stamp uint64
	op    uint64
	size  int64
	sum   [16]byte
}

// fileHolds is checkpointFileHolds of the file c names, which it skips while the disk's
// stamp of the file is the one it last held at (its durable bytes are the same): the
// superblock is synced many times for each checkpoint, and hashing the checkpoint and its
// fallback at every sync was most of these checks' cost. other is the op of the other file
// the superblock names, whose memo is kept.
func (w *superblockWatch) fileHolds(replica int, sb durableSuperblock, what string, c heldCheckpoint, other uint64) string {
	c.stamp = c.disk.DurableStamp(checkpointFileName(c.op))
	if c.stamp != 0 && slices.Contains(w.held[:], c) {
		return ""
	}
	if msg := checkpointFileHolds(c.disk, replica, sb, what, c.op, c.size, c.sum); msg != "" {
		return msg
	}
	slot := 0
	if w.held[0].op == other {
		slot = 1
	}
	w.held[slot] = c
	return ""
}

// checkpointFileHolds reports where the durable file of checkpoint op, which superblock copy
// sb names as what, lacks the size and checksum the copy records ("" if it holds them).
func checkpointFileHolds(disk *sim.Disk, replica int, sb durableSuperblock, what string, op uint64, size int64,
	sum [16]byte) string {
	name := checkpointFileName(op)
	durable := disk.DurableView(name, 0, math.MaxInt64) // only read here
	if int64(len(durable)) < size {
		return fmt.Sprintf("superblock: replica %d's durable superblock (sequence %d) names %s %d of %d bytes, "+
			"but only %d bytes of %s are durable", replica, sb.sequence, what, op, size, len(durable), name)
	}
	if got := xxh3.Hash128(durable[:size]).Bytes(); !bytes.Equal(got[:], sum[:]) {
		return fmt.Sprintf("superblock: replica %d's durable superblock (sequence %d) names %s %d, "+
			"but the durable %s does not have its checksum", replica, sb.sequence, what, op, name)
	}
	return ""
}

// onPrepare holds a replica (its incarnation: a restart makes a new one) that creates a
// prepare to its durable boot count. It returns the violation, if any.
func (sc *superblockChecks) onPrepare(disk *sim.Disk, replica int, incarnation *vsr.Replica) string {
	w := sc.watch(replica)
	sb := w.reader.read(disk)
	if !sb.ok {
		return ""
	}
	sc.mark("superblock_boots")
	// A restart since the last prepare, on the same disk: not restored or reformatted (the
	// sequence went on rising), nor read past damage.
	restarted := w.incarnation != nil && incarnation != w.incarnation && sb.sequence > w.sequence && !w.excused
	before := w.boots
	w.boots, w.sequence, w.incarnation, w.excused = sb.boots, sb.sequence, incarnation, false
	switch {
	case sb.boots == 0:
		return fmt.Sprintf("superblock: replica %d prepared with a durable boot count of 0 (a crash now "+
			"looks like a first boot)", replica)
	case restarted && sb.boots <= before:
		return fmt.Sprintf("superblock: replica %d prepared after a restart with a durable boot count of %d, "+
			"not above the %d of its previous boot", replica, sb.boots, before)
	}
	return ""
}

// forget drops what the checks knew of replica's superblock: its disk was replaced.
func (sc *superblockChecks) forget(replica int) {
	*sc.watch(replica) = superblockWatch{}
}

// counters adds the coverage marks to a result's counters.
func (sc *superblockChecks) counters(counters map[string]uint64) {
	for _, name := range superblockMarks {
		counters["coverage.check."+name] = sc.marks[name]
	}
}
