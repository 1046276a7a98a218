package scenarios

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/checksum"
	"vopr/cluster/storage"
	"vopr/cluster/vsr"
	"vopr/sim"
)

// truthDisk is a replica's storage engine on one simulated disk, driven to completion step
// by step: the storage truth and verify checks against an engine whose checks a wrapper
// defeats.
type truthDisk struct {
	t    *testing.T
	loop *sim.Loop
	disk *sim.Disk
}

func newTruthDisk(t *testing.T) *truthDisk {
	loop := sim.NewLoop()
	opts := sim.DiskOptions{ReadLatencyMin: sim.Microsecond, ReadLatencyMean: 10 * sim.Microsecond,
		WriteLatencyMin: sim.Microsecond, WriteLatencyMean: 10 * sim.Microsecond, Capacity: 64 << 20}
	return &truthDisk{t: t, loop: loop, disk: sim.NewDisk(loop, sim.Stream(1, "disk"), sim.NewTrace(loop.Now), 0, opts)}
}

func (d *truthDisk) wait(done *bool) {
	d.t.Helper()
	for steps := 0; !*done; steps++ {
		require.Less(d.t, steps, 1_000_000)
		require.True(d.t, d.loop.Step(), "idle before the completion")
	}
}

// format formats the disk as a replica's and appends ops 1..n, each of a body spanning
// several sectors.
func (d *truthDisk) format(n uint64) {
	d.t.Helper()
	done := false
	state := storage.State{Cluster: 7, Replica: 0, ReplicaCount: 3, Release: 1}
	storage.Format(d.disk, vsr.StorageOptions(d.disk), state, func(err error) {
		require.NoError(d.t, err)
		done = true
	})
	d.wait(&done)
	s, _ := d.open(d.disk)
	for op := uint64(1); op <= n; op++ {
		done = false
		s.Append(storage.Entry{Op: op, Body: truthBody(op)}, func(err error) {
			require.NoError(d.t, err)
			done = true
		})
		d.wait(&done)
	}
}

func truthBody(op uint64) []byte { return bytes.Repeat([]byte{byte(op)}, 2000) }

func (d *truthDisk) open(fs storage.FS) (*storage.Storage, *storage.Recovery) {
	d.t.Helper()
	var s *storage.Storage
	var rec *storage.Recovery
	done := false
	storage.Open(fs, vsr.StorageOptions(fs), func(got *storage.Storage, r *storage.Recovery, err error) {
		require.NoError(d.t, err)
		s, rec, done = got, r, true
	})
	d.wait(&done)
	return s, rec
}

// corruptBody flips a bit in the third sector of op's entry: body bytes only.
func (d *truthDisk) corruptBody(op uint64) {
	d.t.Helper()
	name := segmentFileName(op)
	for _, e := range readWrittenLog(d.disk, name) {
		if e.op == op {
			d.disk.CorruptSector(name, e.offset+2*storage.SectorSize)
			return
		}
	}
	d.t.Fatalf("no entry of op %d", op)
}

// held is what a replica recovering from these entries would hold.
func held(rec *storage.Recovery) vsr.DiskHeld {
	var h vsr.DiskHeld
	for _, e := range rec.Entries {
		h.Prepares = append(h.Prepares, vsr.HeldPrepare{Op: e.Op, Prepare: e.Body})
	}
	return h
}

// forgingFS defeats the engine's checks on what it reads: every log entry it reads whole
// gets its checksums recomputed over the bytes read (entry.go documents the layout), so a
// damaged entry passes as intact, and the redundant records read as never written (a record
// names its entry's checksums, so it would betray the forgery). A test-only stand-in for an
// engine with its checks off.
type forgingFS struct{ storage.FS }

func (f forgingFS) ReadAt(name string, buf []byte, offset int64, done func(int, error)) {
	f.FS.ReadAt(name, buf, offset, func(n int, err error) {
		if err == nil && strings.HasPrefix(name, "log-") {
			forgeEntries(buf[:n], offset)
		}
		done(n, err)
	})
}

func forgeEntries(b []byte, offset int64) {
	if area := storage.RecordAreaSize(vsr.CheckpointInterval); offset < area {
		clear(b[:min(int64(len(b)), area-offset)])
	}
	const magic = 0x31474f4c52504f56 // "VOPRLOG1"
	for at := 0; at+storage.HeaderSize <= len(b); at += storage.SectorSize {
		h := b[at:]
		if binary.LittleEndian.Uint64(h[48:]) != magic || binary.LittleEndian.Uint64(h[72:]) != uint64(offset)+uint64(at) {
			continue
		}
		size := (storage.HeaderSize + int(binary.LittleEndian.Uint32(h[80:])) + storage.SectorSize - 1) /
			storage.SectorSize * storage.SectorSize
		if at+size > len(b) {
			continue
		}
		body := checksum.Of(b[at+storage.HeaderSize : at+size])
		copy(h[16:32], body[:])
		header := checksum.Of(h[16:storage.HeaderSize])
		copy(h[0:16], header[:])
	}
}

// TestStorageTruthFires: an engine whose checks are defeated accepts a corrupt entry, and
// the storage truth check names it and the altered sector; the real engine reports the op
// faulty instead, and the check is silent.
func TestStorageTruthFires(t *testing.T) {
	d := newTruthDisk(t)
	d.format(3)
	_, rec := d.open(d.disk)
	require.Empty(t, checkHeldWritten(d.disk, 0, held(rec)), "an undamaged disk")

	d.corruptBody(3)
	_, rec = d.open(d.disk)
	require.Equal(t, []uint64{3}, rec.Faulty, "the engine's checks catch the corruption")
	require.Empty(t, checkHeldWritten(d.disk, 0, held(rec)))

	_, rec = d.open(forgingFS{d.disk})
	require.Len(t, rec.Entries, 3, "with its checks defeated, the engine accepts op 3")
	msg := checkHeldWritten(d.disk, 0, held(rec))
	require.Contains(t, msg, "storage truth: replica 0 holds op 3 as read from its disk, but the node never wrote")
	require.Contains(t, msg, "corruption")
}

// TestStorageTruthCheckpointFires: a checkpoint held that differs from the checkpoint file
// written is a violation; the one written is not.
func TestStorageTruthCheckpointFires(t *testing.T) {
	d := newTruthDisk(t)
	d.format(3)
	s, _ := d.open(d.disk)
	snapshot := bytes.Repeat([]byte("state"), 300)
	done := false
	s.Checkpoint(3, snapshot, func(err error) { require.NoError(t, err); done = true })
	d.wait(&done)
	_, rec := d.open(d.disk)
	require.Equal(t, snapshot, rec.Snapshot)
	require.Empty(t, checkHeldWritten(d.disk, 0, vsr.DiskHeld{CheckpointOp: 3, Checkpoint: rec.Snapshot}))
	altered := bytes.Clone(rec.Snapshot)
	altered[100] ^= 4
	require.Contains(t, checkHeldWritten(d.disk, 0, vsr.DiskHeld{CheckpointOp: 3, Checkpoint: altered}),
		"holds a checkpoint of op 3 that the node never wrote")
}

// verifyOn runs the operator's storage verify on fs to completion.
func (d *truthDisk) verifyOn(fs storage.FS) (storage.VerifyReport, error) {
	var report storage.VerifyReport
	var err error
	done := false
	verifyDisk(fs, func(r storage.VerifyReport, e error) { report, err, done = r, e, true })
	d.wait(&done)
	return report, err
}

// TestStorageVerifyCheckFires: verify with its checks defeated misses damage the disk did,
// and the check says so; the real verify reports it, and the check is satisfied. A report
// of damage on a disk without any is a violation too.
func TestStorageVerifyCheckFires(t *testing.T) {
	d := newTruthDisk(t)
	d.format(5)
	report, err := d.verifyOn(d.disk)
	require.NoError(t, err)
	require.True(t, report.OK)
	clean := diskDamage(d.disk)
	require.Empty(t, clean.judge(report, nil))
	phantom := report
	phantom.OK, phantom.Faulty = false, []uint64{2}
	phantom.Problems = []storage.Problem{{File: segmentFileName(2), Offset: 0, Op: 2, Reason: "entry body corrupt or torn"}}
	require.Contains(t, clean.judge(phantom, nil), "reported damage the disk did not do")

	d.corruptBody(5) // the head: no later entry's parent gives the forgery away
	damaged := diskDamage(d.disk)
	require.Len(t, damaged.live, 1)
	report, err = d.verifyOn(d.disk)
	require.NoError(t, err)
	require.Equal(t, []uint64{5}, report.Faulty)
	require.Empty(t, damaged.judge(report, nil))

	report, err = d.verifyOn(forgingFS{d.disk})
	require.NoError(t, err)
	require.True(t, report.OK, "with its checks defeated, verify sees nothing")
	require.Contains(t, damaged.judge(report, nil), "missed damage: op 5's entry")
}

// TestStorageVerifyCheckFallenBackFrom: a damaged checkpoint the node removed and then created
// again (a state sync fetched it) still explains problems in the log below it while the
// replica's checkpoint is below it, and no longer once its checkpoint has reached it.
func TestStorageVerifyCheckFallenBackFrom(t *testing.T) {
	d := damage{files: map[string]bool{}, removedEver: []string{checkpointFileName(64)}}
	report := storage.VerifyReport{CheckpointOp: 0, Faulty: []uint64{60},
		Problems: []storage.Problem{{File: segmentFileName(60), Offset: -1, Op: 60, Reason: "missing entry"}}}
	require.Empty(t, d.judge(report, nil), "checkpoint 64, fallen back from, explains op 60 missing")
	report.CheckpointOp = 64
	require.Contains(t, d.judge(report, nil), "reported damage the disk did not do")
	report.CheckpointOp = 0
	report.Problems[0].File, report.Faulty = segmentFileName(130), []uint64{130}
	require.Contains(t, d.judge(report, nil), "reported damage the disk did not do", "op 130 lies in a segment above checkpoint 64")
}

// TestSwarmRunsStorageVerify: over a few swarm seeds, verify runs, meets damage, and every
// report holds; seed 647 has an op written twice in its segment, the first copy left over
// inside a damaged region (the check once took it for the op's entry).
func TestSwarmRunsStorageVerify(t *testing.T) {
	if testing.Short() {
		t.Skip("runs swarm seeds")
	}
	r := runSwarm(Options{Seed: 647})
	require.Equal(t, Pass, r.Outcome, "seed 647: %s", r.Reason)
	marks := map[string]uint64{}
	for seed := uint64(1); seed <= 30 && marks["coverage.check.storage_verify_damage"] == 0; seed++ {
		r := runSwarm(Options{Seed: seed})
		require.Equal(t, Pass, r.Outcome, "seed %d: %s", seed, r.Reason)
		for _, name := range storageMarks {
			marks["coverage.check."+name] += r.Counters["coverage.check."+name]
		}
	}
	for _, name := range storageMarks {
		require.Positive(t, marks["coverage.check."+name], name)
	}
}

// TestStorageVerifyCheckCopyBelow: an op written twice in its segment, its last copy altered,
// is damage only if no unaltered copy of the same entry (same parent and body) lies below
// it: the engine writes an entry nothing names again at the start of its damaged region,
// below its damaged old copy (fresh-range seed 2026130971). A copy of another entry does not
// excuse the last one.
func TestStorageVerifyCheckCopyBelow(t *testing.T) {
	withCopy := func(body []byte) (*truthDisk, writtenEntry, int64) {
		d := newTruthDisk(t)
		d.format(3)
		name := segmentFileName(3)
		log := readWrittenLog(d.disk, name)
		e := log[len(log)-1]
		require.Equal(t, uint64(3), e.op)
		above := e.offset + e.size
		done := false
		d.disk.WriteAt(name, storage.EncodeEntry(7, 3, above, e.parent, body), above, func(err error) {
			require.NoError(t, err)
			done = true
		})
		d.wait(&done)
		require.Len(t, readWrittenLog(d.disk, name), len(log)+1)
		d.disk.CorruptSector(name, above) // the last copy of op 3
		return d, e, above
	}

	d, below, _ := withCopy(truthBody(3))
	require.Empty(t, diskDamage(d.disk).live, "an unaltered copy of op 3's entry lies below")
	report, err := d.verifyOn(d.disk)
	require.NoError(t, err)
	require.NotContains(t, report.Faulty, uint64(3))
	require.Empty(t, diskDamage(d.disk).judge(report, nil))

	d.disk.CorruptSector(segmentFileName(3), below.offset+2*storage.SectorSize)
	live := diskDamage(d.disk).live
	require.Len(t, live, 1, "both copies altered")
	require.Equal(t, uint64(3), live[0].entry.op)

	d, _, above := withCopy(bytes.Repeat([]byte{9}, 700))
	live = diskDamage(d.disk).live
	require.Len(t, live, 1, "the copy below is another entry")
	require.Equal(t, above, live[0].entry.offset)
}

// TestVerifyHeadAim: each way of damaging the head entry (its header, its header and its
// record, any sector) leaves damage the judge knows of, and the real verify reports the head
// op faulty; with its checks defeated verify misses it, and the judge says so.
func TestVerifyHeadAim(t *testing.T) {
	for aim := range headAims {
		d := newTruthDisk(t)
		d.format(5)
		require.Equal(t, uint64(5), damageHeadEntry(d.disk, aim, sim.Stream(1, "aim")), "aim %d", aim)
		damaged := diskDamage(d.disk)
		report, err := d.verifyOn(d.disk)
		require.NoError(t, err)
		require.Equal(t, []uint64{5}, report.Faulty, "aim %d: %+v", aim, report)
		require.Empty(t, damaged.judge(report, nil), "aim %d", aim)

		report, err = d.verifyOn(forgingFS{d.disk})
		require.NoError(t, err)
		require.Contains(t, damaged.judge(report, nil), "missed damage: op 5's entry", "aim %d", aim)
	}
}
