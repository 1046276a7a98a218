package storage_test

import (
	"slices"
	"testing"

	"vopr/cluster/storage"
)

// TestLostCheckpointInstalledAgainKeepsItsAnchor: a replica state-synced to a peer's
// checkpoint 24 over a log that ended at 12 (so op 24 has no entry), appended ops 25-31 above
// it, and saved its state. Checkpoint 24's file rots and ops 25-27 lose their identity (entry
// and record damaged); Open keeps the superblock, reports the checkpoint lost and the log
// 25-31 (28-31 intact, chained from the superblock's anchor). A peer's checkpoint 24 is
// installed again, and ops 25-27 are repaired with their own bodies. Their repairs must be
// written in place and keep ops 28-31: the new checkpoint took the new file's checksum as its
// anchor instead of the lost one's, so op 27's repaired entry no longer chained to op 28's
// parent and its Append truncated the log after op 26, dropping ops 28-31, which the replica
// had acknowledged (swarm seed 2026754867: ops 132-144, committed, lost with checkpoint 128
// lost and installed again, ops 129-131 repaired).
func TestLostCheckpointInstalledAgainKeepsItsAnchor(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		s := fill(t, d, distrustOptions, 12)
		d.checkpoint(t, s, 12, []byte("state at 12"))
		d.must(t, "InstallCheckpoint", func(done func(error)) { s.InstallCheckpoint(24, []byte("a peer's state at 24"), done) })
		for op := uint64(25); op <= 31; op++ {
			if err := d.append(t, s, op, body(op)); err != nil {
				t.Fatalf("Append(%d): %v", op, err)
			}
		}
		st := s.State()
		for range 2 { // both superblock pairs name checkpoint 24: no fallback to 12
			st.View++
			d.must(t, "SaveState", func(done func(error)) { s.SaveState(st, done) })
		}
		flipBit(d, "checkpoint-0000000000000018", 10)
		loseIdentity(t, d, 25, 27)
		d.restart()
		s, rec := d.mustOpen(t, distrustOptions)
		if !rec.CheckpointLost || rec.State.CheckpointOp != 24 || s.Head() != 31 ||
			!slices.Equal(rec.Faulty, opsRange(25, 27)) || len(rec.FaultyPrefix) != 0 {
			t.Fatalf("recovery: lost %t, state %+v, head %d, faulty %v, prefixes %d: want checkpoint 24 lost, "+
				"ops 25-27 faulty of unknown identity", rec.CheckpointLost, rec.State, s.Head(), rec.Faulty,
				len(rec.FaultyPrefix))
		}
		d.must(t, "InstallCheckpoint", func(done func(error)) {
			s.InstallCheckpoint(24, []byte("another peer's state at 24"), done)
		})
		repairKeepsTheOpsAbove(t, d, s, 25, 27, 31, true)
	})
}

// TestSyncOverAKnownFaultyCheckpointOpKeepsItsAnchor: the log holds ops 1-31 with checkpoint
// 12; op 24's entry rots (its record survives: faulty of known identity), and ops 25-27 lose
// their identity. A peer's checkpoint 24 is installed (state sync). Its anchor must be op 24's
// chain sum, which the record keeps and ops 25-31 were written on, so that the repairs of ops
// 25-27 are written in place and keep ops 28-31; the new file's checksum left op 27's repair
// unchained to op 28, and its Append truncated the log after op 26 (the class of swarm seed
// 2026754867).
func TestSyncOverAKnownFaultyCheckpointOpKeepsItsAnchor(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		s := fill(t, d, distrustOptions, 31)
		d.checkpoint(t, s, 12, []byte("state at 12"))
		p := places(t, d)[24]
		flipBit(d, p.file, p.offset*8+100) // op 24's entry header; its record stays
		loseIdentity(t, d, 25, 27)
		d.restart()
		s, rec := d.mustOpen(t, distrustOptions)
		if s.Head() != 31 || !slices.Equal(rec.Faulty, opsRange(24, 27)) || len(rec.FaultyPrefix) != 1 {
			t.Fatalf("recovery: head %d, faulty %v, prefixes %d: want ops 24-27 faulty, 24 of known identity",
				s.Head(), rec.Faulty, len(rec.FaultyPrefix))
		}
		d.must(t, "InstallCheckpoint", func(done func(error)) { s.InstallCheckpoint(24, []byte("a peer's state at 24"), done) })
		repairKeepsTheOpsAbove(t, d, s, 25, 27, 31, false) // op 24's damaged entry stays: Verify reports it
	})
}

// loseIdentity damages the entry header and the record of each op in [first, last].
func loseIdentity(t *testing.T, d *disk, first, last uint64) {
	t.Helper()
	at := places(t, d)
	for op := first; op <= last; op++ {
		p := at[op]
		flipBit(d, p.file, p.offset*8+100)
		flipBit(d, p.file, int64(op%uint64(distrustOptions.SegmentEntriesMax))*storage.SectorSize*8+100)
	}
}

// repairKeepsTheOpsAbove appends ops first..last again with their own bodies (a repair) and
// requires that the head stays at head throughout and that, after a restart, every op above
// the checkpoint is intact, and with verify that Verify finds the disk sound.
func repairKeepsTheOpsAbove(t *testing.T, d *disk, s *storage.Storage, first, last, head uint64, verify bool) {
	t.Helper()
	for op := first; op <= last; op++ {
		if err := d.append(t, s, op, body(op)); err != nil {
			t.Fatalf("repair Append(%d): %v", op, err)
		}
		if s.Head() != head {
			t.Fatalf("the repair of op %d left head %d: the acknowledged ops above it were dropped", op, s.Head())
		}
	}
	d.restart()
	s, rec := d.mustOpen(t, distrustOptions)
	if rec.CheckpointLost || s.Head() != head || len(rec.Faulty) != 0 ||
		!slices.Equal(entriesOf(rec), opsRange(first, head)) {
		t.Fatalf("after the repairs: lost %t, head %d, faulty %v, entries %v: want ops %d-%d intact",
			rec.CheckpointLost, s.Head(), rec.Faulty, entriesOf(rec), first, head)
	}
	if r := d.verify(t, s); verify && !r.OK {
		t.Fatalf("Verify: %v", r.Problems)
	}
}
