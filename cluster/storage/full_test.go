package storage_test

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"vopr/cluster/storage"
)

const fullCapacity = 32 << 10

func bigBody(op uint64) []byte { return bytes.Repeat([]byte{byte(op)}, 1000) }

// TestDiskFull (runbook scenario 6): a full disk refuses the append with ErrNoSpace and
// corrupts nothing; after a checkpoint and a compaction the space is back and appends resume.
func TestDiskFull(t *testing.T) {
	opts := storage.Options{SegmentEntriesMax: 4, EntryBodyMax: 4096, AutoCompactPercent: 100,
		ReserveBytes: 1024}
	for _, m := range disks {
		t.Run(m.name, func(t *testing.T) {
			d := m.make(t, fullCapacity)
			d.format(t, opts, testState)
			s, _ := d.mustOpen(t, opts)
			op := uint64(1)
			for ; ; op++ {
				err := d.append(t, s, op, bigBody(op))
				if errors.Is(err, storage.ErrNoSpace) {
					break
				}
				if err != nil || op > 100 {
					t.Fatalf("Append(%d): %v", op, err)
				}
			}
			full := op - 1
			if s.Head() != full || s.Stats().NoSpace != 1 || full < 10 {
				t.Fatalf("head %d, full at %d, stats %+v", s.Head(), full, s.Stats())
			}
			if r := d.verify(t, s); !r.OK {
				t.Fatalf("Verify of a full disk: %v", r.Problems)
			}
			d.restart()
			s, rec := d.mustOpen(t, opts)
			if !slices.Equal(entriesOf(rec), opsRange(1, full)) || len(rec.Faulty) != 0 {
				t.Fatalf("recovered %v, faulty %v", entriesOf(rec), rec.Faulty)
			}
			before := s.UsagePercent()
			d.checkpoint(t, s, full, []byte("small snapshot"))
			if freed := d.compact(t, s); freed <= 0 || s.UsagePercent() >= before {
				t.Fatalf("Compact freed %d, usage %d%% -> %d%%", freed, before, s.UsagePercent())
			}
			for op := full + 1; op <= full+3; op++ {
				if err := d.append(t, s, op, bigBody(op)); err != nil {
					t.Fatalf("Append(%d) after compaction: %v", op, err)
				}
			}
		})
	}
}

// TestAutoCompaction: with a checkpoint every segment and no manual compaction, usage never
// reaches the capacity: compaction runs by itself at 85% (runbook: "Auto-compaction at 85%").
func TestAutoCompaction(t *testing.T) {
	opts := storage.Options{SegmentEntriesMax: 4, EntryBodyMax: 4096, ReserveBytes: 1024}
	for _, m := range disks {
		t.Run(m.name, func(t *testing.T) {
			d := m.make(t, fullCapacity)
			d.format(t, opts, testState)
			s, _ := d.mustOpen(t, opts)
			peak := 0
			const ops = 150 // about seven times what the disk holds
			for op := uint64(1); op <= ops; op++ {
				if err := d.append(t, s, op, bigBody(op)); err != nil {
					t.Fatalf("Append(%d): %v (usage %d%%)", op, err, s.UsagePercent())
				}
				peak = max(peak, s.UsagePercent())
				if op%4 == 3 {
					d.checkpoint(t, s, op, []byte("snapshot"))
				}
			}
			st := s.Stats()
			if st.AutoCompactions == 0 || st.SegmentsRemoved == 0 || st.NoSpace != 0 {
				t.Fatalf("stats %+v", st)
			}
			if peak >= 100 || peak < storage.AutoCompactPercentDefault {
				t.Fatalf("usage peaked at %d%%", peak)
			}
			d.restart()
			_, rec := d.mustOpen(t, opts)
			if rec.State.CheckpointOp != ops-ops%4+3-4 || len(rec.Faulty) != 0 {
				t.Fatalf("recovered checkpoint %d, faulty %v", rec.State.CheckpointOp, rec.Faulty)
			}
		})
	}
}

// TestNoSpaceCompactsAndRetries: an append that meets a full disk compacts what a checkpoint
// allows and succeeds, even below the auto-compaction threshold.
func TestNoSpaceCompactsAndRetries(t *testing.T) {
	opts := storage.Options{SegmentEntriesMax: 4, EntryBodyMax: 4096, AutoCompactPercent: 100}
	for _, m := range disks {
		t.Run(m.name, func(t *testing.T) {
			d := m.make(t, fullCapacity)
			d.format(t, opts, testState)
			s, _ := d.mustOpen(t, opts)
			for op := uint64(1); op <= 12; op++ {
				if err := d.append(t, s, op, bigBody(op)); err != nil {
					t.Fatal(err)
				}
			}
			d.checkpoint(t, s, 12, nil)
			// 16 entries (with their segments' record areas) fit before compaction, and
			// appends past them need the space compaction frees.
			for op := uint64(13); op <= 22; op++ {
				if err := d.append(t, s, op, bigBody(op)); err != nil {
					t.Fatalf("Append(%d): %v", op, err)
				}
			}
			if s.Stats().SegmentsRemoved == 0 || s.Stats().AutoCompactions != 0 {
				t.Fatalf("stats %+v", s.Stats())
			}
		})
	}
}
