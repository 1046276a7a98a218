package vsr

// Regression tests from the h59 review of the storage engine and the recovery path against
// the storage-fault cases of protocol-aware recovery (PAR, FAST'18): what a failed write leaves.

import (
	"encoding/binary"
	"maps"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/kv"
	"vopr/cluster/storage"
)

// recordSyncFailFS is a testFS (every completed write durable at once) that fails (ErrIO) the
// sync after the first write of op's redundant record, leaving the write applied: a failed
// fsync need not undo what it was to make durable (the page stays in the cache, or had reached
// the platter).
type recordSyncFailFS struct {
	*testFS
	op             uint64
	armed, pending bool
}

func (f *recordSyncFailFS) WriteAt(name string, data []byte, offset int64, done func(error)) {
	const recordMagic = 0x31434552524f5056 // "VOPRREC1", storage/record.go's
	if f.armed && len(data) == storage.SectorSize && binary.LittleEndian.Uint64(data[16:]) == recordMagic {
		if h, err := storage.DecodeHeader(data[32 : 32+storage.HeaderSize]); err == nil && h.Op == f.op {
			f.armed, f.pending = false, true
		}
	}
	f.testFS.WriteAt(name, data, offset, done)
}

func (f *recordSyncFailFS) Sync(name string, done func(error)) {
	if !f.pending {
		f.testFS.Sync(name, done)
		return
	}
	f.pending = false
	f.later(func() { done(storage.ErrIO) })
}

// TestFailedAppendIsNotClaimedUnderALaterLogView: replica 2, a backup of view 0 with ops 1-2,
// receives view 0's op 3; its append writes and syncs the entry, writes the record, and the
// record's sync fails. The replica never acknowledges op 3. View 1 starts with a log ending at
// op 2 (the engine's head is 2: nothing to truncate) and the replica persists log view 1; then
// it crashes. The record stayed on disk, and the restart read it as proof that op 3's entry
// had been durable: op 3 came back faulty, named by view 0's prepare, under log view 1. The
// replica then claims in its do_view_change that log view 1 holds view 0's op 3, a prepare
// that view never had, and as the log of the newest log view with the highest op its claim
// can win over the prepare view 1 committed at op 3.
func TestFailedAppendIsNotClaimedUnderALaterLogView(t *testing.T) {
	chain := coreChain(t, 3)
	fs := &recordSyncFailFS{testFS: newTestFS(), op: 3}
	opts := StorageOptions(fs)
	state := storage.State{Cluster: reviewCluster, Replica: 2, ReplicaCount: 3, Boots: 1}
	require.NoError(t, fs.do(func(done func(error)) { storage.Format(fs, opts, state, done) }))
	var s *storage.Storage
	require.NoError(t, fs.do(func(done func(error)) {
		storage.Open(fs, opts, func(got *storage.Storage, _ *storage.Recovery, err error) { s = got; done(err) })
	}))
	for o := uint64(1); o <= 2; o++ {
		require.NoError(t, fs.do(func(done func(error)) { s.Append(storage.Entry{Op: o, Body: chain[o].Bytes}, done) }))
	}
	bus := &reviewBus{t: t}
	r := Open(Options{Cluster: reviewCluster, ReplicaCount: 3, Replica: 2, Release: kv.ReleaseBase,
		FS: fs, Bus: bus, Clock: reviewClock{}, Rand: rand.New(rand.NewPCG(1, 2))})
	fs.drain()
	require.Equal(t, StatusNormal, r.status)

	fs.armed = true
	require.Empty(t, deliver(r, chain[3]))
	fs.drain()
	require.False(t, fs.armed, "op 3's record was never written")
	for _, sent := range bus.sent {
		require.False(t, sent.m.Header.Command == CommandPrepareOK && sent.m.Header.Op == 3,
			"op 3 acknowledged though its append failed")
	}

	require.Empty(t, deliver(r, coreStartView(t, 1, chain, 2, 2)))
	fs.drain()
	require.Equal(t, uint32(1), r.stateDurable.LogView, "log view 1 persisted")

	crashed := newTestFS()
	crashed.files = maps.Clone(fs.files)
	restarted := Open(Options{Cluster: reviewCluster, ReplicaCount: 3, Replica: 2, Release: kv.ReleaseBase,
		FS: crashed, Bus: &reviewBus{t: t}, Clock: reviewClock{}, Rand: rand.New(rand.NewPCG(5, 6))})
	crashed.drain()
	require.Equal(t, uint32(1), restarted.logView)
	if h, ok := restarted.log.header(3); ok {
		require.NotEqual(t, chain[3].Header.Checksum, h.Checksum,
			"log view 1 claims view 0's op 3, whose append failed and which view 1 never held")
	}
	require.Equal(t, uint64(2), restarted.op, "the restarted log reaches past what log view 1 holds")
}

// tombstoneNoSpaceFS is a testFS that refuses (ErrNoSpace, nothing written) its first refuse
// tombstone writes: a full disk with no block for a record sector that is a hole of the file,
// or on a file system that copies on write.
type tombstoneNoSpaceFS struct {
	*testFS
	refuse, refused int
}

func (f *tombstoneNoSpaceFS) WriteAt(name string, data []byte, offset int64, done func(error)) {
	const tombstoneMagic = 0x31424d5452504f56 // "VOPRTMB1", storage/record.go's
	if f.refused < f.refuse && len(data) >= storage.SectorSize && binary.LittleEndian.Uint64(data[16:]) == tombstoneMagic {
		f.refused++
		f.later(func() { done(storage.ErrNoSpace) })
		return
	}
	f.testFS.WriteAt(name, data, offset, done)
}

// TestFailedTruncationIsNotUnderANewLogView: replica 2, a backup of view 0 with ops 1-4,
// installs view 1's start_view, whose log ends at op 2. Its cut after op 2 fails: the disk is
// full and refuses the tombstones of ops 3-4. The replica takes the truncation as done and
// persists log view 1 (the superblock write runs after the cut in the engine's queue). A
// restart then read ops 3-4, view 0's prepares, back as ops of log view 1: a do_view_change
// claiming them under the newest log view, with the highest op, can win over the prepare view
// 1 commits at op 3. The log view must not be persisted over them: the superblock write
// completes the cut first (here on the disk's third try, a tick apart), or fails.
func TestFailedTruncationIsNotUnderANewLogView(t *testing.T) {
	chain := coreChain(t, 4)
	fs := &tombstoneNoSpaceFS{testFS: newTestFS()}
	opts := StorageOptions(fs)
	state := storage.State{Cluster: reviewCluster, Replica: 2, ReplicaCount: 3, Boots: 1}
	require.NoError(t, fs.do(func(done func(error)) { storage.Format(fs, opts, state, done) }))
	var s *storage.Storage
	require.NoError(t, fs.do(func(done func(error)) {
		storage.Open(fs, opts, func(got *storage.Storage, _ *storage.Recovery, err error) { s = got; done(err) })
	}))
	for o := uint64(1); o <= 4; o++ {
		require.NoError(t, fs.do(func(done func(error)) { s.Append(storage.Entry{Op: o, Body: chain[o].Bytes}, done) }))
	}
	r := Open(Options{Cluster: reviewCluster, ReplicaCount: 3, Replica: 2, Release: kv.ReleaseBase,
		FS: fs, Bus: &reviewBus{t: t}, Clock: reviewClock{}, Rand: rand.New(rand.NewPCG(1, 2))})
	fs.drain()
	require.Equal(t, StatusNormal, r.status)
	require.Equal(t, uint64(4), r.op)

	fs.refuse = 3
	require.Empty(t, deliver(r, coreStartView(t, 1, chain, 2, 2)))
	var crashed *testFS
	fs.watch = func() {
		if crashed == nil && r.stateDurable.LogView == 1 {
			crashed = newTestFS()
			crashed.files = maps.Clone(fs.files)
			for name, data := range crashed.files {
				crashed.files[name] = append([]byte(nil), data...)
			}
		}
	}
	fs.drain()
	for i := 0; i < 10 && crashed == nil; i++ {
		r.Tick() // a failed superblock write is written again on the next tick
		fs.drain()
	}
	require.Positive(t, fs.refused, "no tombstone write was refused")
	require.NotNil(t, crashed, "log view 1 was never persisted")

	restarted := Open(Options{Cluster: reviewCluster, ReplicaCount: 3, Replica: 2, Release: kv.ReleaseBase,
		FS: crashed, Bus: &reviewBus{t: t}, Clock: reviewClock{}, Rand: rand.New(rand.NewPCG(5, 6))})
	crashed.drain()
	require.Equal(t, uint32(1), restarted.logView)
	require.Equal(t, uint64(2), restarted.op,
		"log view 1 claims ops past its log: view 0's ops, which the failed cut was to drop")
}
