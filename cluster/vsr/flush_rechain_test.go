package vsr

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/storage"
)

// TestFlushWaitsForTheRechainRatherThanTruncate (swarm seed 2029100348): a state sync installs
// checkpoint 64 over ops 64 and 65 of unknown identity (entry and record damaged), so the
// checkpoint's anchor is its file's checksum and op 65's repaired prepare no longer chains to
// the parent op 66's entry names: it is not rewritable in place, and only RechainRun writes
// ops 65-70 again without dropping any. That needs every prepare up to the engine's head, and
// op 68's (its entry damaged too) is still being repaired. The replica's durable log view
// still claims ops 66-70, which it acknowledged: flushLog must not append op 65 by truncating
// them (a crash before they were written back offered that log view with a shorter log), but
// wait for op 68, then rechain. The engine's head stays at 70 throughout, and at the end
// every op is durable, intact, with our prepare.
func TestFlushWaitsForTheRechainRatherThanTruncate(t *testing.T) {
	const cluster, head = 7, 70
	fs := newTestFS()
	opts := StorageOptions(fs)
	require.NoError(t, fs.do(func(done func(error)) {
		storage.Format(fs, opts, storage.State{Cluster: cluster, ReplicaCount: 3, View: 1, LogView: 1}, done)
	}))
	s, _ := fs.open(t, opts)
	prepares := map[uint64]Message{}
	parent := Header{}
	for op := uint64(1); op <= head; op++ {
		h := Header{Command: CommandPrepare, Cluster: cluster, Op: op, Parent: parent.Checksum, View: 1}
		m, err := Decode(Encode(h, []byte(fmt.Sprintf("prepare %d", op))), cluster)
		require.NoError(t, err)
		prepares[op], parent = m, m.Header
		require.NoError(t, fs.do(func(done func(error)) { s.Append(storage.Entry{Op: op, Body: m.Bytes}, done) }))
	}
	segment := "log-0000000000000001" // ops 64-127
	for _, op := range []uint64{64, 65} {
		fs.damage(segment, int64(op%CheckpointInterval)*storage.SectorSize) // its record
	}
	for _, op := range []uint64{64, 65, 68} {
		fs.damage(segment, fs.entryOffset(t, segment, op))
	}
	s, rec := fs.open(t, opts)
	require.Equal(t, []uint64{64, 65, 68}, rec.Faulty)
	require.NoError(t, fs.do(func(done func(error)) { s.InstallCheckpoint(64, []byte("a peer's state at 64"), done) }))

	// The replica as the state sync to 64 left it, a backup of view 1 (its log view, durable)
	// that has repaired op 65 since, not yet op 68.
	r := &Replica{options: Options{FS: fs}, cluster: cluster, replica: 0, count: 3, bus: discardBus{},
		rand: rand.New(rand.NewPCG(1, 2)), status: StatusNormal, view: 1, logView: 1, storage: s}
	r.clients = newClientTable(r.clientsMax())
	r.stateDurable = s.State()
	r.checkpointOp, r.commitMin, r.commitMax, r.op = 64, 64, 64, head
	r.log.anchorOp, r.log.anchorChecksum = 64, prepares[64].Header.Checksum
	for _, e := range rec.Entries {
		if e.Op > 64 {
			r.log.setPrepare(prepares[e.Op])
			r.log.markDurable(e.Op)
		}
	}
	r.log.markFaultyKnown(prepares[68].Header)
	r.log.setPrepare(prepares[65])

	low := uint64(head)
	fs.watch = func() { low = min(low, s.Head()) }
	r.flushLog()
	fs.drain()
	require.Equal(t, uint64(head), low, "the append of op 65 truncated ops the durable log view holds")
	for op := uint64(66); op <= head; op++ {
		require.Equal(t, op != 68, r.log.slotOf(op).durable, "op %d", op)
	}

	r.log.setPrepare(prepares[68]) // op 68 repaired: the rechain can run
	r.writePrepare(68)
	fs.drain()
	require.Equal(t, uint64(head), low, "the rechain dropped ops")
	for op := uint64(65); op <= head; op++ {
		require.True(t, r.log.slotOf(op).durable, "op %d not written", op)
	}
	s, rec = fs.open(t, opts)
	require.Equal(t, uint64(head), s.Head())
	require.Empty(t, rec.Faulty)
	for _, e := range rec.Entries {
		require.Equal(t, prepares[e.Op].Bytes, e.Body, "op %d", e.Op)
	}
}

type discardBus struct{}

func (discardBus) SendToReplica(int, []byte)   {}
func (discardBus) SendToClient(uint64, []byte) {}

// testFS is an in-memory storage.FS whose writes are durable at once (no crash here) and
// whose completions run from drain, never inside the call; watch, if set, runs after each.
type testFS struct {
	files   map[string][]byte
	pending []func()
	watch   func()
}

func newTestFS() *testFS { return &testFS{files: map[string][]byte{}} }

func (f *testFS) later(fn func()) { f.pending = append(f.pending, fn) }

func (f *testFS) drain() {
	for len(f.pending) > 0 {
		fn := f.pending[0]
		f.pending = f.pending[1:]
		fn()
		if f.watch != nil {
			f.watch()
		}
	}
}

// do runs an engine operation to its completion.
func (f *testFS) do(issue func(done func(error))) error {
	var err error
	fired := false
	issue(func(e error) { err, fired = e, true })
	f.drain()
	if !fired {
		return errors.New("the operation never completed")
	}
	return err
}

func (f *testFS) open(t *testing.T, opts storage.Options) (*storage.Storage, *storage.Recovery) {
	t.Helper()
	var s *storage.Storage
	var rec *storage.Recovery
	require.NoError(t, f.do(func(done func(error)) {
		storage.Open(f, opts, func(got *storage.Storage, r *storage.Recovery, err error) { s, rec = got, r; done(err) })
	}))
	return s, rec
}

// entryOffset finds op's entry in the segment by content (its header names the op).
func (f *testFS) entryOffset(t *testing.T, name string, op uint64) int64 {
	t.Helper()
	data := f.files[name]
	for at := storage.RecordAreaSize(CheckpointInterval); at+storage.SectorSize <= int64(len(data)); at += storage.SectorSize {
		if h, err := storage.DecodeHeader(data[at:]); err == nil && h.Op == op {
			return at
		}
	}
	t.Fatalf("no entry of op %d in %s", op, name)
	return 0
}

// damage flips a byte of the sector at offset.
func (f *testFS) damage(name string, offset int64) { f.files[name][offset+40] ^= 0xff }

func (f *testFS) Create(name string, done func(error)) {
	if _, ok := f.files[name]; ok {
		f.later(func() { done(storage.ErrExist) })
		return
	}
	f.files[name] = nil
	f.later(func() { done(nil) })
}

func (f *testFS) ReadAt(name string, buf []byte, offset int64, done func(int, error)) {
	data, ok := f.files[name]
	if !ok {
		f.later(func() { done(0, storage.ErrNotExist) })
		return
	}
	n := 0
	if offset < int64(len(data)) {
		n = copy(buf, data[offset:])
	}
	f.later(func() { done(n, nil) })
}

func (f *testFS) WriteAt(name string, data []byte, offset int64, done func(error)) {
	file, ok := f.files[name]
	if !ok {
		f.later(func() { done(storage.ErrNotExist) })
		return
	}
	if end := offset + int64(len(data)); end > int64(len(file)) {
		file = append(file, make([]byte, end-int64(len(file)))...)
	}
	copy(file[offset:], data)
	f.files[name] = file
	f.later(func() { done(nil) })
}

func (f *testFS) Sync(name string, done func(error)) { f.later(func() { done(nil) }) }

func (f *testFS) Truncate(name string, size int64, done func(error)) {
	file, ok := f.files[name]
	if !ok {
		f.later(func() { done(storage.ErrNotExist) })
		return
	}
	if size <= int64(len(file)) {
		file = file[:size]
	} else {
		file = append(file, make([]byte, size-int64(len(file)))...)
	}
	f.files[name] = file
	f.later(func() { done(nil) })
}

func (f *testFS) Remove(name string, done func(error)) {
	if _, ok := f.files[name]; !ok {
		f.later(func() { done(storage.ErrNotExist) })
		return
	}
	delete(f.files, name)
	f.later(func() { done(nil) })
}

func (f *testFS) List(done func([]string, error)) {
	names := make([]string, 0, len(f.files))
	for name := range f.files {
		names = append(names, name)
	}
	slices.Sort(names)
	f.later(func() { done(names, nil) })
}

func (f *testFS) Size(name string) (int64, error) {
	file, ok := f.files[name]
	if !ok {
		return 0, storage.ErrNotExist
	}
	return int64(len(file)), nil
}

func (f *testFS) Usage() storage.Usage {
	used := int64(0)
	for _, file := range f.files {
		used += int64(len(file))
	}
	return storage.Usage{Used: used, Capacity: 1 << 30}
}
