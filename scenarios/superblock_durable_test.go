package scenarios

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/zeebo/xxh3"

	"vopr/cluster/storage"
	"vopr/cluster/vsr"
	"vopr/sim"
)

// superblockDisk is the storage engine on one simulated disk with the superblock checks
// watching its completions, as the swarm wires them.
type superblockDisk struct {
	*truthDisk
	checks superblockChecks
	s      *storage.Storage
}

func newSuperblockDisk(t *testing.T) *superblockDisk {
	d := &superblockDisk{truthDisk: newTruthDisk(t)}
	d.format(6)
	d.s, _ = d.open(d.disk)
	return d
}

// do runs one engine call to completion.
func (d *superblockDisk) do(call func(done func(error))) {
	d.t.Helper()
	finished := false
	call(func(err error) {
		require.NoError(d.t, err)
		finished = true
	})
	d.wait(&finished)
}

// sync is a superblock sync completion as the swarm's hook reports it.
func (d *superblockDisk) sync() string {
	return d.checks.onCompletion(d.disk, 0, sim.IOCompletion{Op: sim.IOSync, Name: "superblock"})
}

func (d *superblockDisk) durableFile() []byte {
	return d.disk.DurableRange("superblock", 0, superblockFileSize)
}

// TestDurableSuperblockDecoder: the checks' decoder reads what the engine wrote: the state's
// fields, the newest copy, and a checkpoint reference that matches the durable file.
func TestDurableSuperblockDecoder(t *testing.T) {
	d := newSuperblockDisk(t)
	state := d.s.State()
	state.View, state.LogView, state.Commit, state.Boots = 4, 3, 2, 5
	d.do(func(done func(error)) { d.s.SaveState(state, done) })
	d.do(func(done func(error)) { d.s.Checkpoint(2, []byte("snapshot at op 2"), done) })
	sb := readSuperblock(d.durableFile())
	require.True(t, sb.ok)
	require.Equal(t, uint32(4), sb.view)
	require.Equal(t, uint32(3), sb.logView)
	require.Equal(t, uint64(2), sb.commit)
	require.Equal(t, uint32(5), sb.boots)
	require.Equal(t, uint64(2), sb.checkpointOp)
	require.Equal(t, uint64(3), sb.sequence, "format, state, checkpoint")
	require.Len(t, superblockCopies(d.durableFile()), 4)
	require.Empty(t, d.checks.checkCheckpoint(d.disk, 0, &superblockWatch{newest: sb}), "the engine's checkpoint is durable")

	// A checkpoint beyond the log is installed as state sync's are: the head is the seed.
	d.do(func(done func(error)) { d.s.Checkpoint(10, []byte("synced at op 10"), done) })
	sb = readSuperblock(d.durableFile())
	require.Equal(t, uint64(10), sb.checkpointOp)
	require.Equal(t, auditSeedOf(10, []byte("synced at op 10")), sb.auditHead)
}

// TestSuperblockChecksPassTheEngine: every sync of the engine's superblock writes passes.
func TestSuperblockChecksPassTheEngine(t *testing.T) {
	d := newSuperblockDisk(t)
	require.Empty(t, d.sync())
	for i := uint32(1); i <= 4; i++ {
		state := d.s.State()
		state.View, state.Boots = i, i
		d.do(func(done func(error)) { d.s.SaveState(state, done) })
		require.Empty(t, d.sync())
		d.do(func(done func(error)) { d.s.Checkpoint(uint64(i), []byte{byte(i)}, done) })
		require.Empty(t, d.sync())
	}
	require.Positive(t, d.checks.marks["superblock_pair"])
	require.Positive(t, d.checks.marks["superblock_checkpoint"])
	require.Positive(t, d.checks.marks["superblock_previous"])
}

// TestSuperblockPreviousCheckpointFires: a durable superblock that keeps a previous
// checkpoint for its fallback whose file is gone (a cleanup that removed it too early) is a
// violation.
func TestSuperblockPreviousCheckpointFires(t *testing.T) {
	d := newSuperblockDisk(t)
	d.do(func(done func(error)) { d.s.Checkpoint(2, []byte("snapshot at op 2"), done) })
	d.do(func(done func(error)) { d.s.Checkpoint(4, []byte("snapshot at op 4"), done) })
	require.Empty(t, d.sync())
	sb := readSuperblock(d.durableFile())
	require.Equal(t, uint64(4), sb.checkpointOp)
	require.Equal(t, uint64(2), sb.previousOp, "the decoder reads the previous checkpoint")
	d.do(func(done func(error)) { d.disk.Remove(checkpointFileName(2), done) })
	d.writeNext(false) // a new superblock write naming the same pair of checkpoints
	require.Contains(t, d.sync(), "names previous checkpoint (its fallback) 2 of ")
}

// TestSuperblockCheckpointFires: a durable superblock that names a checkpoint whose file is
// not durable (written, never synced) is a violation.
func TestSuperblockCheckpointFires(t *testing.T) {
	d := newSuperblockDisk(t)
	d.do(func(done func(error)) { d.s.Checkpoint(2, []byte("snapshot at op 2"), done) })
	require.Empty(t, d.sync())
	name := checkpointFileName(2)
	size, err := d.disk.Size(name)
	require.NoError(t, err)
	d.do(func(done func(error)) { d.disk.Truncate(name, size/2, done) })
	d.writeNext(false) // a new superblock write naming the same checkpoint
	require.Contains(t, d.sync(), "are durable")
}

// TestSuperblockCheckpointNotHeldAgainstAStateStoredAgain (swarm seeds 2044400509,
// 2044400571): recovery found a newest copy naming a checkpoint whose file is torn (what a
// superblock write whose sync failed left, the file rewritten since) and stored that copy
// again in its pair's other sector before falling back. That sync made nothing new durable:
// it passes. A new state naming the torn file still fails.
func TestSuperblockCheckpointNotHeldAgainstAStateStoredAgain(t *testing.T) {
	d := newSuperblockDisk(t)
	d.do(func(done func(error)) { d.s.Checkpoint(2, []byte("snapshot at op 2"), done) })
	require.Empty(t, d.sync())
	name := checkpointFileName(2)
	size, err := d.disk.Size(name)
	require.NoError(t, err)
	d.do(func(done func(error)) { d.disk.Truncate(name, size/2, done) })
	newest := readSuperblock(d.durableFile())
	twin := int64(newest.index ^ 1) // the other sector of its pair: torn, as the failed sync left it
	d.do(func(done func(error)) {
		d.disk.WriteAt("superblock", make([]byte, superblockCopySize), twin*superblockCopySize, done)
	})
	d.do(func(done func(error)) { d.disk.Sync("superblock", done) })
	require.Empty(t, d.checks.onCompletion(d.disk, 0, sim.IOCompletion{Op: sim.IORead, Name: "superblock"}))
	d.do(func(done func(error)) {
		d.disk.WriteAt("superblock", append([]byte(nil), newest.bytes...), twin*superblockCopySize, done)
	})
	d.do(func(done func(error)) { d.disk.Sync("superblock", done) })
	require.Empty(t, d.sync(), "the same state, stored again")
	d.writeNext(false)
	require.Contains(t, d.sync(), "are durable", "a new state naming the torn checkpoint")
}

// TestSuperblockPairFires: a write that lands on the pair holding the newest state (both of
// its copies) is a violation; one the engine saw damaged there is not.
func TestSuperblockPairFires(t *testing.T) {
	d := newSuperblockDisk(t)
	state := d.s.State()
	state.View = 1
	d.do(func(done func(error)) { d.s.SaveState(state, done) })
	require.Empty(t, d.sync())
	d.writeNext(true)
	require.Contains(t, d.sync(), "left no intact copy of sequence")

	d = newSuperblockDisk(t)
	d.do(func(done func(error)) { d.s.SaveState(state, done) })
	require.Empty(t, d.sync())
	newest := readSuperblock(d.durableFile())
	d.disk.CorruptSector("superblock", int64(newest.index)*superblockCopySize+100)
	d.checks.onCompletion(d.disk, 0, sim.IOCompletion{Op: sim.IORead, Name: "superblock"})
	d.writeNext(true)
	require.Empty(t, d.sync(), "the newest copy was damaged: writing over it is right")
}

// writeNext writes the newest copy again with the next sequence, and syncs it: over the pair
// that holds the newest copy (the write of a broken engine) or over the other one.
func (d *superblockDisk) writeNext(samePair bool, edits ...func(c []byte)) {
	d.t.Helper()
	newest := readSuperblock(d.durableFile())
	c := append([]byte(nil), newest.bytes...)
	binary.LittleEndian.PutUint64(c[24:], newest.sequence+1)
	for _, edit := range edits {
		edit(c)
	}
	sum := xxh3.Hash128(c[16:]).Bytes()
	copy(c, sum[:16])
	pair := int64(newest.index / 2)
	if !samePair {
		pair = 1 - pair
	}
	pair *= 2 * superblockCopySize
	d.do(func(done func(error)) {
		d.disk.WriteAt("superblock", append(append([]byte(nil), c...), c...), pair, done)
	})
	d.do(func(done func(error)) { d.disk.Sync("superblock", done) })
}

// TestSuperblockBootsFires: a prepare on a disk whose durable boot count is 0, or not above
// the previous boot's after a restart, is a violation; one after the boot is durable is not.
func TestSuperblockBootsFires(t *testing.T) {
	d := newSuperblockDisk(t)
	first, second := &vsr.Replica{}, &vsr.Replica{}
	require.Contains(t, d.checks.onPrepare(d.disk, 0, first), "boot count of 0")
	state := d.s.State()
	state.Boots = 1
	d.do(func(done func(error)) { d.s.SaveState(state, done) })
	require.Empty(t, d.checks.onPrepare(d.disk, 0, first))
	state.View = 1 // the restart writes the superblock again, but forgets to count its boot
	d.do(func(done func(error)) { d.s.SaveState(state, done) })
	require.Contains(t, d.checks.onPrepare(d.disk, 0, second), "not above the 1 of its previous boot")
	state.View, state.Boots = 2, 2
	d.do(func(done func(error)) { d.s.SaveState(state, done) })
	require.Empty(t, d.checks.onPrepare(d.disk, 0, first), "a restart that counted its boot")
}

// TestSuperblockAuditFires: a durable superblock that stores another audit head for a
// checkpoint op than the one stored before is a violation, unless it is the seed of a
// checkpoint installed by state sync.
func TestSuperblockAuditFires(t *testing.T) {
	d := newSuperblockDisk(t)
	d.do(func(done func(error)) { d.s.Checkpoint(2, []byte("snapshot at op 2"), done) })
	require.Empty(t, d.sync())
	state := d.s.State()
	state.View = 3
	d.do(func(done func(error)) { d.s.SaveState(state, done) })
	require.Empty(t, d.sync(), "the same head again")
	seed := auditSeedOf(2, []byte("snapshot at op 2"))
	d.writeNext(false, func(c []byte) { copy(c[96:128], seed[:]) })
	require.Empty(t, d.sync(), "state sync's seed")
	d.writeNext(false, func(c []byte) { c[100] ^= 1 })
	require.Contains(t, d.sync(), "which it stored before as")
}

// TestSuperblockAuditSeedThenChain: a checkpoint op stored first with its seed (the engine
// checkpointed before its log held the op) and later with the chain head (checkpointed again
// from a log that holds it) is no violation; another chain head after that is (swarm seed
// 20262615).
func TestSuperblockAuditSeedThenChain(t *testing.T) {
	d := newSuperblockDisk(t)
	d.do(func(done func(error)) { d.s.Checkpoint(2, []byte("snapshot at op 2"), done) })
	chain := readSuperblock(d.durableFile()).auditHead
	seed := auditSeedOf(2, []byte("snapshot at op 2"))
	require.NotEqual(t, seed, chain)
	d.writeNext(false, func(c []byte) { copy(c[96:128], seed[:]) })
	require.Empty(t, d.sync(), "the seed first")
	d.writeNext(false, func(c []byte) { copy(c[96:128], chain[:]) })
	require.Empty(t, d.sync(), "then the chain head")
	d.writeNext(false, func(c []byte) { copy(c[96:128], seed[:]) })
	require.Empty(t, d.sync(), "the seed again")
	d.writeNext(false, func(c []byte) { copy(c[96:128], chain[:]); c[100] ^= 1 })
	require.Contains(t, d.sync(), "which it stored before as")
}

// TestUnsyncedRepairFires: an acknowledged entry that reads intact only through an unsynced
// rewrite over damage is a violation; once the rewrite is synced, or if the damage struck
// after the write, it is not.
func TestUnsyncedRepairFires(t *testing.T) {
	d := newTruthDisk(t)
	d.format(2)
	name := segmentFileName(1)
	var entry parsedEntry
	for _, e := range readWrittenLog(d.disk, name) {
		if e.op == 1 {
			entry = parsedEntry{op: 1, offset: e.offset, size: e.size}
		}
	}
	require.Positive(t, entry.size)
	require.Empty(t, unsyncedRepair(d.disk, 0, 1, entry, "acknowledged"))
	d.disk.CorruptSector(name, entry.offset+storage.SectorSize+3)
	require.Empty(t, unsyncedRepair(d.disk, 0, 1, entry, "acknowledged"), "damage after the write")
	data := d.disk.Written(name, entry.offset, entry.size)
	finished := false
	d.disk.WriteAt(name, data, entry.offset, func(err error) { require.NoError(t, err); finished = true })
	d.wait(&finished)
	require.Contains(t, unsyncedRepair(d.disk, 0, 1, entry, "acknowledged"), "unsynced rewrite")
	finished = false
	d.disk.Sync(name, func(err error) { require.NoError(t, err); finished = true })
	d.wait(&finished)
	require.Empty(t, unsyncedRepair(d.disk, 0, 1, entry, "acknowledged"))
}

// TestVerifyJudgeCheckpointFallback: a damaged checkpoint explains missing entries in the log
// segments at or below its op (the engine falls back to the checkpoint before it), not above.
func TestVerifyJudgeCheckpointFallback(t *testing.T) {
	report := storage.VerifyReport{CheckpointOp: 896, Head: 1000, Faulty: []uint64{960},
		Problems: []storage.Problem{{File: segmentFileName(960), Offset: -1, Op: 960, Reason: "missing entry"}}}
	require.Contains(t, damage{files: map[string]bool{}}.judge(report, nil), "reported damage the disk did not do")
	damaged := damage{files: map[string]bool{checkpointFileName(960): true}}
	require.Empty(t, damaged.judge(report, nil))
	// The engine removes the checkpoint it fell back from: its damage still counts (fresh-range
	// seed 2026213444), and only for the segments at or below its op.
	removed := damage{files: map[string]bool{}, removed: []string{checkpointFileName(960)}}
	require.Empty(t, removed.judge(report, nil))
	report.Problems[0].File, report.Faulty = segmentFileName(1024), []uint64{1024}
	require.Contains(t, damaged.judge(report, nil), "reported damage the disk did not do")
	require.Contains(t, removed.judge(report, nil), "reported damage the disk did not do")
	// The superblock still names the removed checkpoint: its state is not the engine's.
	stale := storage.VerifyReport{Problems: []storage.Problem{{File: "superblock", Offset: -1,
		Reason: "newest superblock on disk is not the current state"}}}
	require.Empty(t, removed.judge(stale, nil))
	require.Contains(t, damage{files: map[string]bool{}}.judge(stale, nil), "reported damage the disk did not do")
}

// TestSuperblockAuditNewChainAfterSeed: a seed stored for a checkpoint op starts another
// chain there, so the same op above it checkpointed again may store another chain head
// (swarm seed 20262660: checkpoint 192 stored, a fallback to 128, 128 lost and installed from
// a peer with its seed, 192 checkpointed again from it). The same seed stored again is the
// same chain: the head above must not change then, nor without any seed in between.
func TestSuperblockAuditNewChainAfterSeed(t *testing.T) {
	d := newSuperblockDisk(t)
	d.do(func(done func(error)) { d.s.Checkpoint(2, []byte("snapshot at op 2"), done) })
	require.Empty(t, d.sync())
	d.do(func(done func(error)) { d.s.Checkpoint(4, []byte("snapshot at op 4"), done) })
	require.Empty(t, d.sync())
	at4 := readSuperblock(d.durableFile())
	require.Equal(t, uint64(4), at4.checkpointOp)
	seed := auditSeedOf(2, []byte("snapshot at op 2"))
	require.NotEqual(t, seed, d.checks.watch(0).audit[2], "op 2 was chained, not seeded")
	other := at4.auditHead
	other[0] ^= 1 // the chain from the seed at op 2 through the same ops 3 and 4

	w := d.checks.watch(0)
	store := func(op uint64, head [32]byte) string {
		w.newest = durableSuperblock{ok: true, sequence: w.newest.sequence + 1, checkpointOp: op, auditHead: head}
		return d.checks.checkAudit(d.disk, 0, w)
	}
	require.Contains(t, store(4, other), "which it stored before as", "another head, no seed in between")
	require.Empty(t, store(4, at4.auditHead))
	require.Empty(t, store(2, seed), "a peer's checkpoint at op 2 installed")
	require.Empty(t, store(4, other), "op 4 checkpointed again on the seed's chain")
	require.Empty(t, store(2, seed), "a fallback to the seeded checkpoint: the same chain")
	require.Contains(t, store(4, at4.auditHead), "which it stored before as")
}
