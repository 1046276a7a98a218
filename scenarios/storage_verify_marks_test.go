package scenarios

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/checksum"
	"vopr/cluster/storage"
	"vopr/cluster/vsr"
	"vopr/sim"
)

// engineMark is the record sector of the engine's faulty mark of op (record.go: checksum [16]
// of bytes [16:512), the magic, the cluster and the op, then zeros), as markNextFaulty and
// Open's markFaulty write it. truthDisk formats cluster 7.
func engineMark(op uint64) []byte {
	b := make([]byte, storage.SectorSize)
	binary.LittleEndian.PutUint64(b[16:], verifyFaultyMagic)
	binary.LittleEndian.PutUint64(b[24:], 7)
	binary.LittleEndian.PutUint64(b[32:], op)
	sum := checksum.Of(b[16:])
	copy(b, sum[:])
	return b
}

// write writes data at offset of name and syncs it, as the engine does.
func (d *truthDisk) write(name string, data []byte, offset int64) {
	d.t.Helper()
	done := false
	d.disk.WriteAt(name, data, offset, func(err error) {
		require.NoError(d.t, err)
		d.disk.Sync(name, func(err error) {
			require.NoError(d.t, err)
			done = true
		})
	})
	d.wait(&done)
}

// entryOf returns op's entry as written in its segment.
func (d *truthDisk) entryOf(op uint64) writtenEntry {
	d.t.Helper()
	for _, e := range readWrittenLog(d.disk, segmentFileName(op)) {
		if e.op == op {
			return e
		}
	}
	d.t.Fatalf("no entry of op %d", op)
	return writtenEntry{}
}

// markMidRepair leaves op as a repair in place leaves it between its entry write and its
// record write: the engine's faulty mark over its record sector, written while it held the
// op of unknown identity (markNextFaulty before the op below was rewritten in place, or
// Open's markFaulty), and its entry written again, whole. With damaged, a fault first
// strikes the op's entry, and the rewrite then writes over it: the disk holds no damage any
// more, but damage struck the segment once (sim.Disk.DamagedEver).
func (d *truthDisk) markMidRepair(op uint64, damaged bool) {
	d.t.Helper()
	name := segmentFileName(op)
	e := d.entryOf(op)
	if damaged {
		d.disk.CorruptSector(name, e.offset)
		require.NotEmpty(d.t, d.disk.Faults())
	}
	d.write(name, engineMark(op), int64(op%vsr.CheckpointInterval)*storage.SectorSize)
	d.write(name, d.disk.Written(name, e.offset, e.size), e.offset)
	require.Empty(d.t, d.disk.Faults(), "the rewrite wrote over the damage")
	require.Equal(d.t, damaged, d.disk.DamagedEver(name))
}

// verifySnapshotOf runs verify on a snapshot of the disk, as the swarm does, and returns the
// damage the snapshot knows with the report.
func (d *truthDisk) verifySnapshotOf() (damage, storage.VerifyReport) {
	d.t.Helper()
	snapshot := d.disk.Snapshot(d.loop, sim.Stream(1, "verify/1"), sim.NewTrace(d.loop.Now))
	dmg := diskDamage(snapshot)
	report, err := d.verifyOn(snapshot)
	require.NoError(d.t, err)
	return dmg, report
}

// TestStorageVerifyCheckAcceptsTheEnginesMarkOverPastDamage: a verify whose snapshot falls in
// a repair in place, between the op's entry write and its record write, finds the engine's
// own faulty mark over the op's record, and reports the op (disowned, keepDistrusted),
// though the repair has written over every damaged sector (swarm seed 6 with the client
// retrying one tick later: op 100). The mark is the engine's answer to damage that struck
// the segment: the check accepts it.
func TestStorageVerifyCheckAcceptsTheEnginesMarkOverPastDamage(t *testing.T) {
	d := newTruthDisk(t)
	d.format(5)
	d.markMidRepair(3, true)
	dmg, report := d.verifySnapshotOf()
	require.Empty(t, dmg.files, "no damage left on the disk")
	require.Equal(t, map[uint64]bool{3: true}, dmg.disowned)
	require.Equal(t, []uint64{3}, report.Faulty)
	require.Len(t, report.Problems, 1)
	require.Equal(t, uint64(3), report.Problems[0].Op)
	require.Empty(t, dmg.judge(report, nil))

	// Without the mark's account (the check before this fix), the report is a violation.
	dmg.disowned = nil
	require.Contains(t, dmg.judge(report, nil), "reported damage the disk did not do")
}

// TestStorageVerifyCheckFiresOnAMarkNoDamageExplains: the same mark over an op of a segment
// that no damage ever struck is the engine's error, and the check fires; so does a mark in a
// segment only a later one's damage struck (explains counts a segment's damage for the
// segment after it, whose first entry chains onto its last, not for the one before).
func TestStorageVerifyCheckFiresOnAMarkNoDamageExplains(t *testing.T) {
	d := newTruthDisk(t)
	d.format(5)
	d.markMidRepair(3, false)
	dmg, report := d.verifySnapshotOf()
	require.Empty(t, dmg.disowned)
	require.Equal(t, []uint64{3}, report.Faulty)
	require.Contains(t, dmg.judge(report, nil), "reported damage the disk did not do")

	d = newTruthDisk(t)
	d.format(vsr.CheckpointInterval + 3)
	d.markMidRepair(vsr.CheckpointInterval+2, true) // damage ever in log 1: explains log 1 and 2
	d.markMidRepair(3, false)                       // a mark in log 0
	dmg, report = d.verifySnapshotOf()
	require.Equal(t, map[uint64]bool{vsr.CheckpointInterval + 2: true}, dmg.disowned)
	require.Contains(t, report.Faulty, uint64(3))
	require.Contains(t, dmg.judge(report, nil), "reported damage the disk did not do: log-0000000000000000")
}

// TestStorageVerifyCheckCountsTheSegmentAfterPastDamage: a mark in the segment after one that
// damage ever struck is accepted, as explains accepts live damage there.
func TestStorageVerifyCheckCountsTheSegmentAfterPastDamage(t *testing.T) {
	d := newTruthDisk(t)
	d.format(vsr.CheckpointInterval + 3)
	d.markMidRepair(3, true)
	d.markMidRepair(vsr.CheckpointInterval+2, false)
	dmg, report := d.verifySnapshotOf()
	require.Equal(t, map[uint64]bool{3: true, vsr.CheckpointInterval + 2: true}, dmg.disowned)
	require.Empty(t, dmg.judge(report, nil))
}
