package storage_test

import (
	"encoding/binary"
	"maps"
	"slices"
	"testing"

	"vopr/cluster/storage"
)

// TestRecordsAboveARecoveredHeadAreTombstoned: ops 13-16 (of segment 12-23) were appended with
// their records above checkpoint 12; a peer's checkpoint at 16 was installed (so the log
// above 12 is not audited), and it rotted. The fallback to checkpoint 12 keeps ops 13-16
// faulty, of unknown identity (they were committed, but perhaps not as this log holds them),
// and their records must go. A view change saves the state, appends of ops 13-14 replace the
// log from 13, op 13's entry rots, and the replica restarts: a stale record of op 15 or 16
// left in place names an op above the damaged one, so recovery takes it as a durable entry
// the damage hid and brings it back, header and all, above the head (swarm seed 2026552870: a
// view-12 op given up that way came back under commit number 270).
func TestRecordsAboveARecoveredHeadAreTombstoned(t *testing.T) {
	opts := storage.Options{SegmentEntriesMax: 12, EntryBodyMax: 4096}
	eachDisk(t, func(t *testing.T, d *disk) {
		s := staleAbove12(t, d, opts, 16)
		d.must(t, "InstallCheckpoint", func(done func(error)) { s.InstallCheckpoint(16, []byte("a peer's state at 16"), done) })
		flipBit(d, "checkpoint-0000000000000010", 10)
		d.restart()
		s, rec := d.mustOpen(t, opts)
		if rec.State.CheckpointOp != 12 || rec.CheckpointDamaged != 16 || s.Head() != 16 ||
			!slices.Equal(rec.Faulty, []uint64{13, 14, 15, 16}) || len(rec.FaultyPrefix) != 0 {
			t.Fatalf("recovery: lost %t, damaged %d, head %d, faulty %v, prefixes %d: want the fallback to 12, "+
				"ops 13-16 faulty of unknown identity", rec.CheckpointLost, rec.CheckpointDamaged, s.Head(),
				rec.Faulty, len(rec.FaultyPrefix))
		}
		st := s.State()
		st.View, st.LogView = st.View+1, st.View+1 // a view change persists the fallen-back state
		d.must(t, "SaveState", func(done func(error)) { s.SaveState(st, done) })
		for op := uint64(13); op <= 14; op++ {
			if err := d.append(t, s, op, body(op)); err != nil {
				t.Fatalf("Append(%d): %v", op, err)
			}
		}
		flipEntryBody(t, d, 13)
		d.restart()
		s, rec = d.mustOpen(t, opts)
		if s.Head() != 14 || !slices.Equal(rec.Faulty, []uint64{13}) {
			t.Fatalf("head %d, faulty %v, entries %v: want head 14, op 13 faulty; ops 15-16, given up at the "+
				"fallback, must not come back from their records", s.Head(), rec.Faulty, entriesOf(rec))
		}
	})
}

// TestFallbackKeepsTheOpsUnderTheDamagedCheckpoint: a replica left behind with ops 13-14 of an
// older view above its checkpoint 12 state-syncs to a peer's checkpoint 24, which rots. The
// fallback to 12 must keep every op up to 24 in the log, faulty of unknown identity: they were
// committed, and the log of the replica's log view holds them. Recovery used to give up 13-14
// (distrusted, with no record, they looked like appends that never finished) and ended the
// log at 12, so the replica offered its log view with op 12 in the next view change, and a
// new primary could start the view from it (swarm seed 2026690511, on a build that cut more
// at recovery: the view began at op 128 over a commit number of 189).
func TestFallbackKeepsTheOpsUnderTheDamagedCheckpoint(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		s := staleAbove12(t, d, distrustOptions, 14)
		d.must(t, "InstallCheckpoint", func(done func(error)) { s.InstallCheckpoint(24, []byte("a peer's state at 24"), done) })
		flipBit(d, "checkpoint-0000000000000018", 10)
		d.restart()
		s, rec := d.mustOpen(t, distrustOptions)
		if rec.State.CheckpointOp != 12 || rec.CheckpointDamaged != 24 || s.Head() != 24 ||
			!slices.Equal(rec.Faulty, opsRange(13, 24)) || len(rec.FaultyPrefix) != 0 {
			t.Fatalf("recovery: damaged %d, checkpoint %d, head %d, faulty %v, prefixes %d: want the fallback "+
				"to 12 with ops 13-24 faulty of unknown identity", rec.CheckpointDamaged, rec.State.CheckpointOp,
				s.Head(), rec.Faulty, len(rec.FaultyPrefix))
		}
	})
}

// TestFallbackReadsDamageAboveTheDamagedCheckpoint: after a state sync to checkpoint 24 the
// log resumes at op 25, in a segment (24-35) where op 24 was never appended. Checkpoint 24
// rots, and op 25's entry header and its record are both unreadable. The fallback to 12 must
// still read op 25's damaged record as evidence that op 25 was appended (its append finished,
// and it may have been acknowledged): reading damage from above checkpoint 12, the scan met
// the absent record of op 24 and stopped, and op 25 was lost (storage crash seed 98136).
func TestFallbackReadsDamageAboveTheDamagedCheckpoint(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		s := fill(t, d, distrustOptions, 12)
		d.checkpoint(t, s, 12, []byte("state at 12"))
		d.must(t, "InstallCheckpoint", func(done func(error)) { s.InstallCheckpoint(24, []byte("a peer's state at 24"), done) })
		if err := d.append(t, s, 25, body(25)); err != nil {
			t.Fatalf("Append(25): %v", err)
		}
		p := places(t, d)[25]
		flipBit(d, p.file, p.offset*8+100)             // the entry's header
		flipBit(d, p.file, storage.SectorSize*1*8+100) // op 25's record (the segment's second)
		flipBit(d, "checkpoint-0000000000000018", 10)
		d.restart()
		s, rec := d.mustOpen(t, distrustOptions)
		if rec.State.CheckpointOp != 12 || rec.CheckpointDamaged != 24 || s.Head() != 25 ||
			!slices.Equal(rec.Faulty, opsRange(13, 25)) {
			t.Fatalf("recovery: damaged %d, checkpoint %d, head %d, faulty %v: want the fallback to 12 "+
				"with ops 13-25 faulty", rec.CheckpointDamaged, rec.State.CheckpointOp, s.Head(), rec.Faulty)
		}
	})
}

// TestFaultyMarksOutliveTheFallback: after the fallback of TestDistrustOutlivesTheFallbacksSuperblock
// (ops 13-24 faulty, most with no entry at all, op 25 intact above them) and a view change that
// saved the fallen-back state, op 25's entry header and record rot. Nothing but Open's faulty
// marks tells the next recovery that ops 13-24 are in the log: without them it read damage
// from above checkpoint 12, stopped at the absent records, and ended the log at op 12, losing
// the acknowledged op 25 (storage crash seed 2027381379).
func TestFaultyMarksOutliveTheFallback(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		s := fallBackPastAnInstall(t, d)
		p := places(t, d)[25]
		d.restart()
		flipBit(d, p.file, p.offset*8+100)             // op 25's entry header
		flipBit(d, p.file, storage.SectorSize*1*8+100) // and its record (the segment's second)
		s, rec := d.mustOpen(t, distrustOptions)
		if s.Head() != 25 || !slices.Equal(rec.Faulty, opsRange(13, 25)) {
			t.Fatalf("head %d, faulty %v, entries %v: want ops 13-25 faulty", s.Head(), rec.Faulty, entriesOf(rec))
		}
	})
}

// TestInstalledCheckpointLostForgetsDamagedOpsRecords: ops 5-7 sit above this log's own
// checkpoint 4 when a peer's checkpoint 8 is installed (a state sync: the log above 4 is not
// audited), and op 6's entry is damaged. Checkpoint 8 rots, and recovery falls back to 4: ops
// 5-7 come back faulty, and none with an identity. Op 6's record names the prepare the log
// held, which the synced history may have replaced, like the entries of 5 and 7 (swarm seed
// 2026568758: an unreadable op 98 of view 6 came back with its record's header under commit
// number 99; view 7's had committed).
func TestInstalledCheckpointLostForgetsDamagedOpsRecords(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		s := fill(t, d, smallSegments, 7)
		d.checkpoint(t, s, 4, []byte("state at 4"))
		d.must(t, "InstallCheckpoint", func(done func(error)) {
			s.InstallCheckpoint(8, []byte("a peer's state at 8"), done)
		})
		flipEntryBody(t, d, 6)
		flipBit(d, "checkpoint-0000000000000008", 10)
		d.restart()
		_, rec := d.mustOpen(t, smallSegments)
		if rec.CheckpointDamaged != 8 || rec.State.CheckpointOp != 4 {
			t.Fatalf("recovery: lost %t, damaged %d, state %+v: want the fallback to 4", rec.CheckpointLost,
				rec.CheckpointDamaged, rec.State)
		}
		if len(entriesOf(rec)) != 0 {
			t.Fatalf("faulty %v, entries %v: want no op above 4 kept intact", rec.Faulty, entriesOf(rec))
		}
		if len(rec.FaultyPrefix) != 0 {
			t.Fatalf("prefixes for ops %v: a record of the unaudited log gave a faulty op an identity",
				slices.Sorted(maps.Keys(rec.FaultyPrefix)))
		}
	})
}

// misdirectFS carries the first write that starts with a tombstone to another place of the
// file (its first sector only), as a misdirected write does.
type misdirectFS struct {
	storage.FS
	armed  bool
	landed int64
}

// Magics of record.go's sectors, as the tests' file systems recognise the writes they aim at.
const (
	tombstoneMagic = 0x31424d5452504f56 // "VOPRTMB1"
	recordMagic    = 0x31434552524f5056 // "VOPRREC1"
)

// startsWith reports whether data begins with a whole sector of the kind magic names.
func startsWith(data []byte, magic uint64) bool {
	return len(data) >= storage.SectorSize && binary.LittleEndian.Uint64(data[16:]) == magic
}

func (m *misdirectFS) WriteAt(name string, data []byte, offset int64, done func(error)) {
	if !m.armed || !startsWith(data, tombstoneMagic) {
		m.FS.WriteAt(name, data, offset, done)
		return
	}
	m.armed = false
	m.FS.WriteAt(name, data[:storage.SectorSize], m.landed, func(err error) {
		if err != nil || len(data) == storage.SectorSize {
			done(err)
			return
		}
		m.FS.WriteAt(name, data[storage.SectorSize:], offset+storage.SectorSize, done)
	})
}

// TestTruncationRewritesAMisdirectedTombstone: a truncation after op 3 tombstones the records
// of ops 4 and 5 before it cuts their entries, and the write of op 4's tombstone lands on
// record slot 11 instead. Left so, op 4's old record would bring it back as a faulty op of its
// old identity at the next boot (swarm seed 2026605648: view 0's op 5 under commit number
// 21); the tombstones are read back, and the one that is not there is written again.
func TestTruncationRewritesAMisdirectedTombstone(t *testing.T) {
	opts := storage.Options{SegmentEntriesMax: 12, EntryBodyMax: 4096}
	eachDisk(t, func(t *testing.T, d *disk) {
		fill(t, d, opts, 5)
		d.restart()
		plain := d.fs
		d.fs = &misdirectFS{FS: plain, armed: true, landed: 11 * storage.SectorSize}
		s, _ := d.mustOpen(t, opts)
		d.must(t, "TruncateAfter", func(done func(error)) { s.TruncateAfter(3, done) })
		d.fs = plain
		d.restart()
		s, rec := d.mustOpen(t, opts)
		if s.Head() != 3 || len(rec.Faulty) != 0 {
			t.Fatalf("head %d, faulty %v: ops 4-5, truncated, came back from a record", s.Head(), rec.Faulty)
		}
	})
}

// TestDistrustOutlivesTheFallbacksSuperblock: ops 13-18 (of segment 12-23) sit above this
// log's own checkpoint 12, from an older view, when a peer's checkpoint at 24 is installed and
// op 25 appended above it, in the next segment. Checkpoint 24 rots: the fallback to 12 makes
// ops 13-24 faulty, of unknown identity, since their entries were never audited against 24.
// A view change then saves the fallen-back state, and the superblock no longer names 24. The
// next boot must still hold ops 13-18 faulty: trusted, their older view's entries would sit under a commit
// number of the newer view (swarm seed 2026602066: view 1's op 67 under commit number 128).
// Writing an op again lifts its distrust.
func TestDistrustOutlivesTheFallbacksSuperblock(t *testing.T) {
	opts := distrustOptions
	eachDisk(t, func(t *testing.T, d *disk) {
		fallBackPastAnInstall(t, d)
		d.restart()
		s, rec := d.mustOpen(t, opts)
		if !slices.Equal(rec.Faulty, opsRange(13, 24)) || !slices.Equal(entriesOf(rec), []uint64{25}) {
			t.Fatalf("faulty %v, entries %v: want ops 13-24 still faulty after the superblock moved on",
				rec.Faulty, entriesOf(rec))
		}
		if r := d.verify(t, s); !slices.Contains(r.Faulty, 14) {
			t.Fatalf("verify reports faulty %v: want the distrusted ops among them", r.Faulty)
		}
		// A repair that cannot write op 13 in place truncates and appends it: its record
		// replaces the mark.
		d.must(t, "TruncateAfter", func(done func(error)) { s.TruncateAfter(12, done) })
		if err := d.append(t, s, 13, body(13)); err != nil {
			t.Fatalf("Append(13): %v", err)
		}
		d.restart()
		s, rec = d.mustOpen(t, opts)
		if len(rec.Faulty) != 0 || !slices.Equal(entriesOf(rec), []uint64{13}) {
			t.Fatalf("faulty %v, entries %v after op 13 was written again: want op 13 intact", rec.Faulty, entriesOf(rec))
		}
	})
}

// TestReinstalledLostCheckpointKeepsItsAuditPoint: ops 1-3 are audited, 4-5 are a stale
// suffix of an older view, when a peer's checkpoint at 12 is installed (audited up to 3). It
// rots before segment 1 exists, so it is lost (no replay from op 0 reaches it), and a state
// sync installs it again. That checkpoint still knows the log only up to op 3: when it rots
// in turn, with segment 1 now on disk, the replay from op 0 must hold ops 4-5 faulty rather
// than replay them as committed (swarm seed 2026642591: view 2's op 11 under commit number
// 92; the re-installed checkpoint took its audit point from the lost one's op).
func TestReinstalledLostCheckpointKeepsItsAuditPoint(t *testing.T) {
	opts := storage.Options{SegmentEntriesMax: 12, EntryBodyMax: 4096, ReplayOpsMax: 64}
	eachDisk(t, func(t *testing.T, d *disk) {
		s := fill(t, d, opts, 5)
		if _, err := s.Commit(3); err != nil {
			t.Fatalf("Commit(3): %v", err)
		}
		install := func() {
			d.must(t, "InstallCheckpoint", func(done func(error)) { s.InstallCheckpoint(12, []byte("a peer's state at 12"), done) })
		}
		install()
		flipBit(d, "checkpoint-000000000000000c", 10)
		d.restart()
		s, rec := d.mustOpen(t, opts)
		if !rec.CheckpointLost {
			t.Fatalf("recovery: lost %t, damaged %d, state %+v: want checkpoint 12 lost", rec.CheckpointLost,
				rec.CheckpointDamaged, rec.State)
		}
		install()
		for op := uint64(13); op <= 14; op++ {
			if err := d.append(t, s, op, body(op)); err != nil {
				t.Fatalf("Append(%d): %v", op, err)
			}
		}
		flipBit(d, "checkpoint-000000000000000c", 10)
		d.restart()
		_, rec = d.mustOpen(t, opts)
		if rec.State.CheckpointOp != 0 || slices.Contains(entriesOf(rec), 4) || slices.Contains(entriesOf(rec), 5) {
			t.Fatalf("recovery: state %+v, lost %t, entries %v, faulty %v: want a replay from op 0 with "+
				"ops 4-5, never audited, faulty", rec.State, rec.CheckpointLost, entriesOf(rec), rec.Faulty)
		}
	})
}

// TestTruncationKeepsDistrust: after the fallback of TestDistrustOutlivesTheFallbacksSuperblock
// and a view change that saved the state, a truncation after op 12 is cut short by a crash
// after it wrote the marks over the records of ops 13-23 and before it cut their entries. The
// stale entries of ops 13-18 are still there, intact: they must come back faulty, as the
// fallback left them, not intact under tombstones.
func TestTruncationKeepsDistrust(t *testing.T) {
	opts := distrustOptions
	eachDisk(t, func(t *testing.T, d *disk) {
		s := fallBackPastAnInstall(t, d)
		before := d.raw(segmentName(1))
		d.must(t, "TruncateAfter", func(done func(error)) { s.TruncateAfter(12, done) })
		after := d.raw(segmentName(1))
		area := storage.RecordAreaSize(opts.SegmentEntriesMax)
		d.setRaw(segmentName(1), append(append([]byte(nil), after[:area]...), before[area:]...))
		d.restart()
		_, rec := d.mustOpen(t, opts)
		if len(entriesOf(rec)) != 0 {
			t.Fatalf("entries %v, faulty %v: the stale entries came back intact after the truncation's crash",
				entriesOf(rec), rec.Faulty)
		}
	})
}

var distrustOptions = storage.Options{SegmentEntriesMax: 12, EntryBodyMax: 4096}

// fallBackPastAnInstall builds the disk of TestDistrustOutlivesTheFallbacksSuperblock: ops
// 13-18 stale above checkpoint 12, a peer's checkpoint 24 installed over them and op 25
// above it, checkpoint 24 rotted, the fallback to 12 (ops 13-24 faulty), and a view change
// that saves the fallen-back state. It returns the open storage.
func fallBackPastAnInstall(t *testing.T, d *disk) *storage.Storage {
	t.Helper()
	s := staleAbove12(t, d, distrustOptions, 18)
	d.must(t, "InstallCheckpoint", func(done func(error)) { s.InstallCheckpoint(24, []byte("a peer's state at 24"), done) })
	if err := d.append(t, s, 25, body(25)); err != nil {
		t.Fatalf("Append(25): %v", err)
	}
	flipBit(d, "checkpoint-0000000000000018", 10)
	d.restart()
	s, rec := d.mustOpen(t, distrustOptions)
	if rec.State.CheckpointOp != 12 || rec.CheckpointDamaged != 24 || s.Head() != 25 ||
		!slices.Equal(rec.Faulty, opsRange(13, 24)) {
		t.Fatalf("recovery: damaged %d, state %+v, head %d, faulty %v: want the fallback to 12, ops 13-24 faulty",
			rec.CheckpointDamaged, rec.State, s.Head(), rec.Faulty)
	}
	st := s.State()
	st.View, st.LogView = st.View+1, st.View+1 // a view change persists the fallen-back state
	d.must(t, "SaveState", func(done func(error)) { s.SaveState(st, done) })
	return s
}

// staleAbove12 fills ops 1-12, checkpoints 12, and appends ops 13..last of an older view: a
// replica left behind, about to state-sync.
func staleAbove12(t *testing.T, d *disk, opts storage.Options, last uint64) *storage.Storage {
	t.Helper()
	s := fill(t, d, opts, 12)
	d.checkpoint(t, s, 12, []byte("state at 12"))
	for op := uint64(13); op <= last; op++ {
		if err := d.append(t, s, op, []byte("stale, of an older view")); err != nil {
			t.Fatalf("Append(%d): %v", op, err)
		}
	}
	return s
}
