package storage_test

import (
	"testing"

	"vopr/cluster/storage"
)

// BenchmarkAppend measures one durable append (write and sync) of a 1 KiB body on osfs.
func BenchmarkAppend(b *testing.B) {
	d := newOSDisk(b, 0)
	opts := storage.Options{}
	d.format(b, opts, testState)
	s, _ := d.mustOpen(b, opts)
	body := make([]byte, 1024)
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for op := uint64(1); op <= uint64(b.N); op++ {
		if err := d.append(b, s, op, body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRecovery measures Open of a log of 2000 entries of 1 KiB in 2 segments.
func BenchmarkRecovery(b *testing.B) {
	d := newOSDisk(b, 0)
	opts := storage.Options{}
	d.format(b, opts, testState)
	s, _ := d.mustOpen(b, opts)
	const entries = 2000
	for op := uint64(1); op <= entries; op++ {
		if err := d.append(b, s, op, make([]byte, 1024)); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for range b.N {
		d.restart()
		if _, rec := d.mustOpen(b, opts); len(rec.Entries) != entries {
			b.Fatal("entries lost")
		}
	}
}
