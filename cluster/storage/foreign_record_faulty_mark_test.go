package storage_test

import (
	"slices"
	"testing"

	"vopr/cluster/storage"
)

// TestFaultyOpUnderAForeignRecordGetsAFaultyMark: ops 1-5, checkpoints 3 and 5. A misdirected
// write left op 4's whole record over op 5's record sector, and op 5's entry is damaged, so
// op 5 has no copy of its own. Checkpoint 5's file rots: the fallback to 3 holds op 5 faulty,
// in the log on the strength of the damaged checkpoint alone, which the next superblock write
// forgets. Open must write a faulty mark over op 5's record sector, as it does for an op
// faulty with no record at all: a record of another op is no evidence of op 5 (recovery
// drops an op at the top of the log under one as an append that never finished). Open
// marked only the ops whose record sector was absent, so after a view change saved the
// fallen-back state the next Open ended the log at op 4, op 5 acknowledged and committed
// (storage crash seed 2200735971: op 4 under damaged checkpoint 4, its record sector and its
// entry each covered by a misdirected record of op 5, a boot apart).
func TestFaultyOpUnderAForeignRecordGetsAFaultyMark(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		opts := smallSegments
		s := fill(t, d, opts, 5)
		d.checkpoint(t, s, 3, []byte("state at 3"))
		d.checkpoint(t, s, 5, []byte("state at 5"))
		const file = "log-0000000000000001" // ops 4-7: op 4's record sector is the first
		raw := d.raw(file)
		sector := func(i int64) []byte { return raw[i*storage.SectorSize : (i+1)*storage.SectorSize] }
		copy(sector(1), slices.Clone(sector(0))) // op 4's record over op 5's
		d.setRaw(file, raw)
		flipEntryBody(t, d, 5)
		flipBit(d, "checkpoint-0000000000000005", 10)
		d.restart()
		s, rec := d.mustOpen(t, opts)
		if rec.State.CheckpointOp != 3 || rec.CheckpointDamaged != 5 || s.Head() != 5 ||
			!slices.Equal(rec.Faulty, []uint64{5}) {
			t.Fatalf("first open: checkpoint %d (damaged %d), head %d, faulty %v, entries %v: want the "+
				"fallback to 3, op 5 faulty", rec.State.CheckpointOp, rec.CheckpointDamaged, s.Head(), rec.Faulty,
				entriesOf(rec))
		}
		st := s.State()
		st.View, st.LogView = st.View+1, st.View+1 // a view change persists the fallen-back state
		d.must(t, "SaveState", func(done func(error)) { s.SaveState(st, done) })
		d.restart()
		s, rec = d.mustOpen(t, opts)
		if s.Head() != 5 || !slices.Equal(rec.Faulty, []uint64{5}) {
			t.Fatalf("second open: head %d, faulty %v, entries %v: op 5, faulty under the damaged checkpoint, "+
				"must stay in the log once the superblock forgot it", s.Head(), rec.Faulty, entriesOf(rec))
		}
	})
}
