package vsr

// Regression tests for a full disk met by the replica's own recovery and state writes (h63):
// the design's "disk full: the replica stops accepting new operations, never crashes; it
// resumes when space is freed" (DESIGN.md), and the runbook's Scenario 6, whose operator
// restarts a stuck process before growing the disk or compacting.

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/kv"
	"vopr/cluster/storage"
)

// fullFS is a testFS whose writes fail (ErrNoSpace, nothing written) while full, as every
// write that needs a new block does on a full file system: a record sector of a segment is
// a hole of the file until written, and a copy-on-write file system allocates for any write.
type fullFS struct {
	*testFS
	full            bool
	writes, refused int
}

func (f *fullFS) WriteAt(name string, data []byte, offset int64, done func(error)) {
	f.writes++
	if f.full {
		f.refused++
		f.later(func() { done(fmt.Errorf("write %s at %d: %w", name, offset, storage.ErrNoSpace)) })
		return
	}
	f.testFS.WriteAt(name, data, offset, done)
}

func (f *fullFS) Usage() storage.Usage {
	u := f.testFS.Usage()
	if f.full {
		u.Capacity = u.Used
	}
	return u
}

// fullDiskImage formats replica 2 of 3 (view 0, ops 1-3 appended) on a fullFS, and damages
// op 3's redundant record, as a crash between the entry's sync and the record's write
// leaves it: the next Open writes the record again (finishRecords) before it returns.
func fullDiskImage(t *testing.T) *fullFS {
	t.Helper()
	chain := coreChain(t, 3)
	fs := &fullFS{testFS: newTestFS()}
	opts := StorageOptions(fs)
	state := storage.State{Cluster: reviewCluster, Replica: 2, ReplicaCount: 3, Boots: 1}
	require.NoError(t, fs.do(func(done func(error)) { storage.Format(fs, opts, state, done) }))
	var s *storage.Storage
	require.NoError(t, fs.do(func(done func(error)) {
		storage.Open(fs, opts, func(got *storage.Storage, _ *storage.Recovery, err error) { s = got; done(err) })
	}))
	for o := uint64(1); o <= 3; o++ {
		require.NoError(t, fs.do(func(done func(error)) { s.Append(storage.Entry{Op: o, Body: chain[o].Bytes}, done) }))
	}
	fs.damage(fmt.Sprintf("log-%016x", 0), 3*storage.SectorSize)
	return fs
}

// TestOpenOnAFullDiskResumesWhenSpaceIsFreed: replica 2 restarts on a full disk (the
// runbook's operator restarting a stuck process), and its Open must write op 3's record
// again, which the disk refuses (ErrNoSpace). The replica stopped for good ("open failed"),
// though the design has it resume once space is freed: only I/O errors were retried. It must
// wait, report its disk full, and open again, on a timer, until the disk has room; then it
// rejoins.
func TestOpenOnAFullDiskResumesWhenSpaceIsFreed(t *testing.T) {
	fs := fullDiskImage(t)
	fs.full = true
	r := Open(Options{Cluster: reviewCluster, ReplicaCount: 3, Replica: 2, Release: kv.ReleaseBase,
		FS: fs, Bus: &reviewBus{t: t}, Clock: reviewClock{}, Rand: rand.New(rand.NewPCG(1, 2))})
	fs.drain()
	require.Positive(t, fs.refused, "the Open wrote nothing on the full disk")
	require.NotEqual(t, StatusStopped, r.status, "a replica restarted on a full disk stopped for good")
	require.True(t, r.Inspect().DiskFull, "a replica waiting for space does not report its disk full")
	require.Equal(t, 100, r.DiskUsagePct(), "a replica waiting for space does not report its disk's usage")
	refused := fs.refused
	for i := 0; i < 1000; i++ {
		r.Tick()
		fs.drain()
	}
	require.Greater(t, fs.refused, refused, "no Open was tried again while the disk stayed full")
	require.Less(t, fs.refused-refused, 100, "Open retried without a pause on a lasting full disk")
	require.NotEqual(t, StatusStopped, r.status)

	fs.full = false // the operator grows the disk, or frees space
	for i := 0; i < 200 && r.status == StatusRecovering; i++ {
		r.Tick()
		fs.drain()
	}
	require.Equal(t, StatusNormal, r.status, "the replica did not resume once space was freed")
	require.False(t, r.Inspect().DiskFull, "the replica still reports its disk full once it opened")
	require.Equal(t, uint64(3), r.op)
}

// TestFailedSaveStateIsNotRetriedInALoop: a superblock write that fails (ErrNoSpace on a
// full copy-on-write file system; a broken write path) was submitted again from its own
// completion at once, so a lasting failure spun: a busy loop of I/O that never paused, on a
// real machine as in the simulator. It must be retried on a timer, and land once the disk
// has room again.
func TestFailedSaveStateIsNotRetriedInALoop(t *testing.T) {
	fs := fullDiskImage(t)
	r := Open(Options{Cluster: reviewCluster, ReplicaCount: 3, Replica: 2, Release: kv.ReleaseBase,
		FS: fs, Bus: &reviewBus{t: t}, Clock: reviewClock{}, Rand: rand.New(rand.NewPCG(1, 2))})
	fs.drain()
	require.Equal(t, StatusNormal, r.status)
	require.Equal(t, r.boots, r.stateDurable.Boots, "the boot count is durable")

	fs.full = true
	r.transitionToViewChange(r.view + 1) // a view to persist
	for steps := 0; len(fs.pending) > 0; steps++ {
		require.Less(t, steps, 10_000, "failed superblock writes retried with no pause")
		fn := fs.pending[0]
		fs.pending = fs.pending[1:]
		fn()
	}
	require.Positive(t, fs.refused)
	require.NotEqual(t, r.view, r.stateDurable.View)
	fs.full = false
	for i := 0; i < 100 && r.stateDurable.View != r.view; i++ {
		r.Tick()
		fs.drain()
	}
	require.Equal(t, r.view, r.stateDurable.View, "the view was never persisted once the disk had room")
}
