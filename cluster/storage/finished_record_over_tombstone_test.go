package storage_test

import (
	"slices"
	"testing"

	"vopr/cluster/storage"
)

// recordMisdirectFS carries the first record write (a sector starting a redundant record) to
// another place of the file, as a misdirected write does: the sector it was meant for keeps
// its old bytes.
type recordMisdirectFS struct {
	storage.FS
	armed  bool
	landed int64
}

func (m *recordMisdirectFS) WriteAt(name string, data []byte, offset int64, done func(error)) {
	if !m.armed || len(data) != storage.SectorSize || !startsWith(data, recordMagic) {
		m.FS.WriteAt(name, data, offset, done)
		return
	}
	m.armed = false
	m.FS.WriteAt(name, data, m.landed, done)
}

// TestFinishedRecordOverATombstoneIsReadBack: a view change truncated op 3 (its tombstone
// written and synced, its entry cut) and appended op 3 again; the crash came after the new
// entry was synced and before its record was written, so op 3's record sector holds the
// truncation's tombstone over an intact entry. Open returns op 3 intact, and finishes its
// append (finishRecords) by writing its record over the tombstone; the replica may then
// acknowledge it. That write is misdirected (to op 11's record sector, where a stray does not
// count: a tombstone in place supersedes it), and the tombstone stays. When op 3's entry rots
// before the next boot, that Open takes the tombstone over a damaged head for an append that
// never finished and drops op 3. An append's record over a mark is read back until it is
// there (verifyRecordOverMark, storage crash seed 50611); Open's finishing record was not.
func TestFinishedRecordOverATombstoneIsReadBack(t *testing.T) {
	opts := storage.Options{SegmentEntriesMax: 12, EntryBodyMax: 4096}
	eachDisk(t, func(t *testing.T, d *disk) {
		const file = "log-0000000000000000"
		s := fill(t, d, opts, 3)
		d.must(t, "TruncateAfter", func(done func(error)) { s.TruncateAfter(2, done) })
		tombstone := slices.Clone(d.raw(file)[3*storage.SectorSize : 4*storage.SectorSize])
		if err := d.append(t, s, 3, body(3)); err != nil {
			t.Fatalf("Append(3): %v", err)
		}
		// The crash lost the record write: the tombstone is back over op 3's record sector.
		raw := d.raw(file)
		copy(raw[3*storage.SectorSize:], tombstone)
		d.setRaw(file, raw)
		d.restart()

		plain := d.fs
		d.fs = &recordMisdirectFS{FS: plain, armed: true, landed: 11 * storage.SectorSize}
		s, rec := d.mustOpen(t, opts)
		if s.Head() != 3 || len(rec.Faulty) != 0 || !slices.Equal(entriesOf(rec), []uint64{1, 2, 3}) {
			t.Fatalf("first open: head %d, faulty %v, entries %v: want ops 1-3 intact", s.Head(), rec.Faulty,
				entriesOf(rec))
		}
		d.fs = plain
		requireRotKeepsOp3(t, d, opts)
	})
}
