package vsr

// Regression tests from a review of the replica's core paths (the h52 helper: view change,
// commit, repair, checkpoint, client table). Each failed on the code before its fix.

import (
	"maps"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/checksum"
	"vopr/cluster/kv"
	"vopr/cluster/storage"
)

// coreChain returns prepares 1..n of view 0 (replica 0's), hash-chained, each a batch that
// registers one client (executable).
func coreChain(t *testing.T, n uint64) []Message {
	t.Helper()
	chain := []Message{{}}
	parent := checksum.Sum{}
	for op := uint64(1); op <= n; op++ {
		h := Header{Command: CommandPrepare, Cluster: reviewCluster, Op: op, Parent: parent, View: 0, Replica: 0,
			Release: kv.ReleaseBase, Timestamp: int64(op)}
		m, err := Decode(Encode(h, reviewBatch(op)), reviewCluster)
		require.NoError(t, err)
		chain = append(chain, m)
		parent = m.Header.Checksum
	}
	return chain
}

// faultyFS is a testFS whose writes to files named with a prefix in fail fail with an I/O
// error (the swarm's disk.write_error), and that can be frozen: a copy of its files as a
// crash would leave them (every completed write of testFS is durable).
type faultyFS struct {
	*testFS
	fail []string
}

func (f *faultyFS) WriteAt(name string, data []byte, offset int64, done func(error)) {
	for _, prefix := range f.fail {
		if strings.HasPrefix(name, prefix) {
			f.later(func() { done(storage.ErrIO) })
			return
		}
	}
	f.testFS.WriteAt(name, data, offset, done)
}

// crashCopy returns a disk holding what fs holds now, as a crash at this instant leaves it.
func (f *faultyFS) crashCopy() *testFS {
	c := newTestFS()
	c.files = maps.Clone(f.files)
	for name, data := range c.files {
		c.files[name] = append([]byte(nil), data...)
	}
	return c
}

// coreRestart formats fs with state and prepares 1..len-1 in its log, and opens replica
// state.Replica of 3 on it as a restart does.
func coreRestart(t *testing.T, fs *faultyFS, state storage.State, prepares []Message) *Replica {
	t.Helper()
	opts := StorageOptions(fs)
	require.NoError(t, fs.do(func(done func(error)) { storage.Format(fs, opts, state, done) }))
	var s *storage.Storage
	require.NoError(t, fs.do(func(done func(error)) {
		storage.Open(fs, opts, func(got *storage.Storage, _ *storage.Recovery, err error) { s = got; done(err) })
	}))
	for o := uint64(1); o < uint64(len(prepares)); o++ {
		require.NoError(t, fs.do(func(done func(error)) { s.Append(storage.Entry{Op: o, Body: prepares[o].Bytes}, done) }))
	}
	r := Open(Options{Cluster: reviewCluster, ReplicaCount: 3, Replica: int(state.Replica), Release: kv.ReleaseBase,
		FS: fs, Bus: &reviewBus{t: t}, Clock: reviewClock{}, Rand: rand.New(rand.NewPCG(1, 2))})
	fs.drain()
	return r
}

// coreStartView is view's start_view from its primary, with the headers of prepares 1..op
// and commit number commit.
func coreStartView(t *testing.T, view uint32, prepares []Message, op, commit uint64) Message {
	t.Helper()
	return withHeaders(t, Header{Cluster: reviewCluster, Replica: uint8(view % 3), View: view, Command: CommandStartView,
		Release: kv.ReleaseBase, LogView: view, Op: op, Commit: commit}, prepares)
}

// TestFailedCheckpointNeverPersistsALogViewOverAHole: logDurable counts the ops up to the
// checkpoint in flight (checkpointingOp) as logged, so that a log view whose start the
// checkpoint covers is persisted without their entries. But the checkpoint is not durable
// yet: a superblock write submitted meanwhile runs after it in the engine, and when the
// checkpoint fails (a write error, a full disk) that write still persists the new log view
// over a log that lacks the ops the checkpoint was to cover. A crash before they are
// written brings the replica back claiming the new log view with a log that ends below
// ops committed in it, and that claim beats every replica of an older log view: a view
// change led with one of those (which committed the ops in the older view) installs the
// short log and loses committed, acknowledged ops. The swarm reaches the first half (swarm
// seed 62: replica 2 repaired view 8's log, checkpoint 64's file lost its sync, and log
// view 8 landed over an engine log ending at op 52, below op 54 where the view began); no
// seed had the crash and the view change follow.
//
// Here replica 2 lagged in view 0 with ops 1-49 while replicas 0 and 1 committed 1-64. View
// 1's start_view (op 64, commit 64) reaches it; it repairs 50-64 and executes them, and
// checkpoint 64 starts while the append of op 50 is in flight. The append's completion
// persists log view 1; the checkpoint's file write fails; the superblock write lands; the
// crash comes before the appends of 51-64. Replica 2 restarts, replica 0 (log view 0, op 64:
// it never heard view 1) and it start view 2, whose primary replica 2 is.
func TestFailedCheckpointNeverPersistsALogViewOverAHole(t *testing.T) {
	const lagged, committed = 49, 64
	chain := coreChain(t, committed)
	fs := &faultyFS{testFS: newTestFS()}
	r := coreRestart(t, fs, storage.State{Cluster: reviewCluster, Replica: 2, ReplicaCount: 3, Boots: 1}, chain[:lagged+1])
	require.Equal(t, StatusNormal, r.status)

	require.Empty(t, deliver(r, coreStartView(t, 1, chain, committed, committed)))
	fs.drain()
	require.Equal(t, uint64(committed), r.op)
	require.Equal(t, uint64(lagged), r.commitMin)

	// The repairs of 50-64, one after another: op 50's append goes out, the others wait.
	fs.fail = []string{"checkpoint-"}
	for op := uint64(lagged + 1); op <= committed; op++ {
		require.Empty(t, deliver(r, chain[op]))
	}
	require.True(t, r.checkpointing, "checkpoint 64 in flight")
	// Run the engine until the superblock write behind the failed checkpoint lands, and
	// crash there.
	var crashed *testFS
	fs.watch = func() {
		if crashed == nil && r.stateDurable.LogView == 1 {
			crashed = fs.crashCopy()
		}
	}
	fs.drain()
	if crashed == nil {
		crashed = fs.crashCopy() // the log view was not persisted early: crash at the end
	}

	restarted := Open(Options{Cluster: reviewCluster, ReplicaCount: 3, Replica: 2, Release: kv.ReleaseBase,
		FS: crashed, Bus: &reviewBus{t: t}, Clock: reviewClock{}, Rand: rand.New(rand.NewPCG(5, 6))})
	crashed.drain()
	in := restarted.InspectState()
	if in.LogView == 1 {
		require.GreaterOrEqual(t, in.Op, uint64(committed),
			"restarted claiming log view 1 with a log that ends below the ops it began with")
	}

	// The harm: replica 2 leads view 2 with replica 0, which committed 1-64 in view 0.
	bus := restarted.bus.(*reviewBus)
	svc := Header{Cluster: reviewCluster, Replica: 0, View: 2, Command: CommandStartViewChange, Release: kv.ReleaseBase}
	m, err := Decode(Encode(svc, nil), reviewCluster)
	require.NoError(t, err)
	require.Empty(t, deliver(restarted, m))
	crashed.drain()
	require.Empty(t, deliver(restarted, reviewDoViewChange(t, 0, 2, 0, chain, committed, committed)))
	crashed.drain()
	for range 200 {
		restarted.Tick()
		crashed.drain()
	}
	var startView *Message
	for i := range bus.sent {
		if bus.sent[i].m.Header.Command == CommandStartView && bus.sent[i].m.Header.View == 2 {
			startView = &bus.sent[i].m
		}
	}
	if startView != nil {
		require.GreaterOrEqual(t, startView.Header.Op, uint64(committed), "view 2 started without committed ops")
	}
	require.GreaterOrEqual(t, restarted.op, uint64(committed), "the new primary's log lost committed ops")
}
