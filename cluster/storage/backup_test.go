package storage_test

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"vopr/cluster/checksum"
	"vopr/cluster/storage"
)

// backupFixture is a replica with a checkpoint, compacted segments and entries after the
// checkpoint, some of them committed (audited).
func backupFixture(t *testing.T, d *disk) (*storage.Storage, []byte) {
	t.Helper()
	s := fill(t, d, smallSegments, 12)
	d.checkpoint(t, s, 6, []byte("snapshot at 6"))
	d.compact(t, s)
	if _, err := s.Commit(10); err != nil {
		t.Fatal(err)
	}
	return s, d.backup(t, s)
}

func TestBackupRestoreRoundTrip(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		s, b := backupFixture(t, d)
		if again := d.backup(t, s); !bytes.Equal(again, b) {
			t.Fatal("two backups of the same state differ")
		}
		target := disks[0].make(t, 0)
		target.format(t, smallSegments, storage.State{Cluster: 99}) // replaced by Restore
		target.must(t, "Restore", func(done func(error)) { storage.Restore(target.fs, smallSegments, b, done) })
		target.restart()
		r, rec := target.mustOpen(t, smallSegments)
		if rec.State != s.State() || string(rec.Snapshot) != "snapshot at 6" ||
			!slices.Equal(entriesOf(rec), opsRange(7, 12)) || len(rec.Faulty) != 0 {
			t.Fatalf("restored: state %+v, entries %v, faulty %v", rec.State, entriesOf(rec), rec.Faulty)
		}
		for _, e := range rec.Entries {
			if !bytes.Equal(e.Body, body(e.Op)) {
				t.Fatalf("op %d body differs", e.Op)
			}
		}
		if v := target.verify(t, r); !v.OK {
			t.Fatalf("Verify after restore: %v", v.Problems)
		}
		wantHead, _ := s.Commit(12)
		if got, err := r.Commit(12); err != nil || got != wantHead {
			t.Fatalf("audit chain after restore differs: %v", err)
		}
		if err := target.append(t, r, 13, body(13)); err != nil {
			t.Fatalf("append after restore: %v", err)
		}
	})
}

// TestRestoreAsKeepsTheCommittedPrefix: the disaster-recovery restore names the new
// replica and keeps exactly the audited (committed) ops; a replica beyond the backup's
// replica count is refused without touching the disk.
func TestRestoreAsKeepsTheCommittedPrefix(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		s, b := backupFixture(t, d) // checkpoint 6, audited to 10, head 12
		replica := s.State().Replica + 1
		target := disks[0].make(t, 0)
		target.must(t, "RestoreAs", func(done func(error)) {
			storage.RestoreAs(target.fs, smallSegments, b, replica, done)
		})
		target.restart()
		r, rec := target.mustOpen(t, smallSegments)
		if rec.State.Replica != replica || rec.State.Cluster != s.State().Cluster ||
			rec.State.CheckpointOp != 6 || rec.State.Commit > 10 || string(rec.Snapshot) != "snapshot at 6" ||
			!slices.Equal(entriesOf(rec), opsRange(7, 10)) {
			t.Fatalf("restored as %d: state %+v, entries %v", replica, rec.State, entriesOf(rec))
		}
		if v := target.verify(t, r); !v.OK {
			t.Fatalf("Verify after RestoreAs: %v", v.Problems)
		}
		if err := target.append(t, r, 11, body(11)); err != nil {
			t.Fatalf("append after RestoreAs: %v", err)
		}
		other := disks[0].make(t, 0)
		err := other.do(t, func(done func(error)) {
			storage.RestoreAs(other.fs, smallSegments, b, s.State().ReplicaCount, done)
		})
		if !errors.Is(err, storage.ErrBackup) || len(other.names()) != 0 {
			t.Fatalf("RestoreAs of replica %d: %v, files %v", s.State().ReplicaCount, err, other.names())
		}
	})
}

// TestRestoreRefusesFlippedBit: one flipped bit anywhere in a backup is refused, and the
// target disk is not touched.
func TestRestoreRefusesFlippedBit(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		_, b := backupFixture(t, d)
		target := disks[0].make(t, 0)
		rapid.Check(t, func(rt *rapid.T) {
			bit := rapid.IntRange(0, len(b)*8-1).Draw(rt, "bit")
			bad := append([]byte{}, b...)
			bad[bit/8] ^= 1 << (bit % 8)
			err := target.do(t, func(done func(error)) { storage.Restore(target.fs, smallSegments, bad, done) })
			if !errors.Is(err, storage.ErrBackup) {
				rt.Fatalf("bit %d: Restore = %v", bit, err)
			}
		})
		if len(target.names()) != 0 {
			t.Fatalf("a refused restore wrote %v", target.names())
		}
	})
}

// TestRestoreRefusesForgery: edits that also fix the outer checksum, then the entry checksums,
// are still caught, by the entry checksum and then by the hash chain.
func TestRestoreRefusesForgery(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		_, b := backupFixture(t, d)
		entry := findEntry(t, b, 9)
		target := disks[0].make(t, 0)
		restore := func(bad []byte) error {
			return target.do(t, func(done func(error)) { storage.Restore(target.fs, smallSegments, bad, done) })
		}
		// Flip a body bit and fix the trailer: the entry checksum fails.
		bad := append([]byte{}, b...)
		bad[entry+storage.HeaderSize] ^= 1
		resum(bad)
		if err := restore(bad); !errors.Is(err, storage.ErrBackup) {
			t.Fatalf("body edit: %v", err)
		}
		// Re-encode the entry with the same parent: the next entry's parent breaks.
		h, _, _ := storage.DecodeEntry(b[entry:])
		forged := storage.EncodeEntry(h.Cluster, h.Op, h.Offset, h.Parent, bytes.Repeat([]byte{'x'}, len(body(9))))
		if int64(len(forged)) != h.Size() {
			t.Fatal("forged entry of another size")
		}
		bad = append([]byte{}, b...)
		copy(bad[entry:], forged)
		resum(bad)
		if err := restore(bad); !errors.Is(err, storage.ErrBackup) || !strings.Contains(err.Error(), "chain") {
			t.Fatalf("forged entry: %v", err)
		}
	})
}

// findEntry returns the offset of op's entry in a backup.
func findEntry(t *testing.T, b []byte, op uint64) int64 {
	for pos := int64(0); pos+storage.SectorSize <= int64(len(b)); pos += storage.SectorSize {
		if h, _, err := storage.DecodeEntry(b[pos:]); err == nil && h.Op == op && h.Offset == pos {
			return pos
		}
	}
	t.Fatalf("op %d not in the backup", op)
	return 0
}

// resum recomputes a backup's trailing checksum.
func resum(b []byte) {
	sum := checksum.Of(b[:len(b)-16])
	copy(b[len(b)-16:], sum[:])
}

func TestBackupRefusesFaultyLog(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		fill(t, d, smallSegments, 5)
		p := places(t, d)[3]
		flipBit(d, p.file, (p.offset+p.size-1)*8)
		d.restart()
		s, _ := d.mustOpen(t, smallSegments)
		err := d.do(t, func(done func(error)) { s.Backup(func(_ []byte, err error) { done(err) }) })
		if !errors.Is(err, storage.ErrFaulty) {
			t.Fatalf("Backup of a faulty log: %v", err)
		}
	})
}
