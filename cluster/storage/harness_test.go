package storage_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"vopr/cluster/storage"
	"vopr/cluster/storage/osfs"
)

// disk is what the engine's tests need from an FS implementation: the FS, its event loop,
// raw access to file bytes for fault injection, and a restart. The tests run on every disk in
// disks; the simulated disk (sim.Disk) joins the list with its own constructor.
type disk struct {
	fs storage.FS
	// run steps the event loop once and reports false when it is idle.
	run func() bool
	// raw returns a file's bytes, read around the FS (nil if it does not exist).
	raw func(name string) []byte
	// setRaw replaces a file's bytes around the FS; restart afterwards.
	setRaw func(name string, data []byte)
	// restart drops the FS and makes a new one over the same files (a clean restart).
	restart func()
	// names lists the files, around the FS.
	names func() []string
}

type diskMaker struct {
	name string
	make func(t testing.TB, capacity int64) *disk
}

var disks = []diskMaker{{"osfs", newOSDisk}}

func eachDisk(t *testing.T, fn func(t *testing.T, d *disk)) {
	for _, m := range disks {
		t.Run(m.name, func(t *testing.T) { fn(t, m.make(t, 0)) })
	}
}

func newOSDisk(t testing.TB, capacity int64) *disk {
	dir := t.TempDir()
	d := &disk{}
	open := func() {
		fs, err := osfs.New(dir, osfs.Options{CapacityBytes: capacity})
		if err != nil {
			t.Fatal(err)
		}
		d.fs, d.run = fs, fs.Poll
	}
	open()
	t.Cleanup(func() { _ = d.fs.(*osfs.FS).Close() })
	d.raw = func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	d.setRaw = func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	d.restart = func() {
		_ = d.fs.(*osfs.FS).Close()
		open()
	}
	d.names = func() []string {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		return names
	}
	return d
}

// until runs the loop until *fired.
func (d *disk) until(t testing.TB, fired *bool) {
	t.Helper()
	for steps := 0; !*fired; steps++ {
		if steps > 10_000_000 || !d.run() {
			t.Fatal("event loop idle (or spinning) before the completion")
		}
	}
}

// do issues an operation with an error completion and waits for it, checking that the
// completion is not delivered inline.
func (d *disk) do(t testing.TB, issue func(done func(error))) error {
	t.Helper()
	var got error
	fired := false
	issue(func(err error) {
		if fired {
			t.Fatal("completion delivered twice")
		}
		got, fired = err, true
	})
	if fired {
		t.Fatal("completion delivered inline")
	}
	d.until(t, &fired)
	return got
}

func (d *disk) must(t testing.TB, what string, issue func(done func(error))) {
	t.Helper()
	if err := d.do(t, issue); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func (d *disk) format(t testing.TB, opts storage.Options, st storage.State) {
	t.Helper()
	d.must(t, "Format", func(done func(error)) { storage.Format(d.fs, opts, st, done) })
}

func (d *disk) open(t testing.TB, opts storage.Options) (*storage.Storage, *storage.Recovery, error) {
	t.Helper()
	var s *storage.Storage
	var rec *storage.Recovery
	err := d.do(t, func(done func(error)) {
		storage.Open(d.fs, opts, func(got *storage.Storage, r *storage.Recovery, err error) {
			s, rec = got, r
			done(err)
		})
	})
	return s, rec, err
}

func (d *disk) mustOpen(t testing.TB, opts storage.Options) (*storage.Storage, *storage.Recovery) {
	t.Helper()
	s, rec, err := d.open(t, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s, rec
}

func (d *disk) append(t testing.TB, s *storage.Storage, op uint64, body []byte) error {
	t.Helper()
	return d.do(t, func(done func(error)) { s.Append(storage.Entry{Op: op, Body: body}, done) })
}

func (d *disk) read(t testing.TB, s *storage.Storage, op uint64) ([]byte, error) {
	t.Helper()
	var body []byte
	err := d.do(t, func(done func(error)) {
		s.Read(op, func(b []byte, err error) { body = b; done(err) })
	})
	return body, err
}

func (d *disk) verify(t testing.TB, s *storage.Storage) storage.VerifyReport {
	t.Helper()
	var r storage.VerifyReport
	d.must(t, "Verify", func(done func(error)) {
		s.Verify(func(got storage.VerifyReport) { r = got; done(nil) })
	})
	return r
}

func (d *disk) compact(t testing.TB, s *storage.Storage) int64 {
	t.Helper()
	var freed int64
	d.must(t, "Compact", func(done func(error)) {
		s.Compact(func(n int64, err error) { freed = n; done(err) })
	})
	return freed
}

func (d *disk) backup(t testing.TB, s *storage.Storage) []byte {
	t.Helper()
	var b []byte
	d.must(t, "Backup", func(done func(error)) {
		s.Backup(func(got []byte, err error) { b = got; done(err) })
	})
	return b
}

// checkpoint commits through op and checkpoints there.
func (d *disk) checkpoint(t testing.TB, s *storage.Storage, op uint64, snapshot []byte) {
	t.Helper()
	if _, err := s.Commit(op); err != nil {
		t.Fatalf("Commit(%d): %v", op, err)
	}
	d.must(t, "Checkpoint", func(done func(error)) { s.Checkpoint(op, snapshot, done) })
}

// body returns a deterministic body for op, of a size that varies with op.
func body(op uint64) []byte {
	b := make([]byte, 40+int(op*97%700))
	for i := range b {
		b[i] = byte(op*31 + uint64(i))
	}
	return b
}

// fill formats a disk and appends ops 1..n with body(op).
func fill(t testing.TB, d *disk, opts storage.Options, n uint64) *storage.Storage {
	t.Helper()
	d.format(t, opts, testState)
	s, _ := d.mustOpen(t, opts)
	for op := uint64(1); op <= n; op++ {
		if err := d.append(t, s, op, body(op)); err != nil {
			t.Fatalf("Append(%d): %v", op, err)
		}
	}
	return s
}

var testState = storage.State{Cluster: 7, Replica: 1, ReplicaCount: 3, View: 1, LogView: 1, Release: 1}

// segments returns the names of the log segment files, sorted.
func segments(d *disk) []string {
	var out []string
	for _, name := range d.names() {
		if strings.HasPrefix(name, "log-") {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// place is where an entry lies in a segment, found by decoding the raw bytes.
type place struct {
	file   string
	offset int64
	size   int64
}

// places maps every intact entry on disk to its place.
func places(t testing.TB, d *disk) map[uint64]place {
	t.Helper()
	out := map[uint64]place{}
	for _, name := range segments(d) {
		b := d.raw(name)
		for pos := int64(0); pos+storage.SectorSize <= int64(len(b)); {
			h, _, err := storage.DecodeEntry(b[pos:])
			if err != nil {
				pos += storage.SectorSize
				continue
			}
			out[h.Op] = place{file: name, offset: pos, size: h.Size()}
			pos += h.Size()
		}
	}
	return out
}

func flipBit(d *disk, name string, bit int64) {
	b := d.raw(name)
	b[bit/8] ^= 1 << (bit % 8)
	d.setRaw(name, b)
}

func entriesOf(rec *storage.Recovery) []uint64 {
	var ops []uint64
	for _, e := range rec.Entries {
		ops = append(ops, e.Op)
	}
	return ops
}

func opsRange(first, last uint64, except ...uint64) []uint64 {
	var ops []uint64
	for op := first; op <= last; op++ {
		if !slices.Contains(except, op) {
			ops = append(ops, op)
		}
	}
	return ops
}
