package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
	"vopr/sim"
)

// TestPersistedCommitStaysBelowAnOlderLogsEntries: a replica's disk keeps ops of an older log
// view that a start_view could not vouch for (its headers begin above them), and the commit
// number of the new view must not be persisted over them. Replica 0, primary of view 0,
// prepares op a alone while cut off, and crashes; replicas 1 and 2 commit another op in its
// place and run on past a checkpoint, far enough that their start_view no longer lists op a.
// Replica 0 restarts, takes that start_view and is cut off again before it repairs anything;
// then it crashes. What its disk holds at or below its persisted commit number is what it
// executes after the next restart, so it must be the committed log. Campaign seed 20261674
// persisted the new view's commit number over a, which came back as committed. Restarted
// and healed, replica 0 then catches up with the others.
func TestPersistedCommitStaysBelowAnOlderLogsEntries(t *testing.T) {
	tc := newTestCluster(t, testOptions{replicas: 3, clients: 3, seed: 54})
	tc.commitN(1, ticks)
	tc.RunFor(2 * sim.Second)
	base := tc.inspect(0).Op
	require.Equal(t, 0, tc.primary())

	tc.cutBetween(0, 1) // a: the primary of view 0 prepares alone
	tc.cutBetween(0, 2)
	tc.load = true
	tc.runUntilOp(0, base+1)
	tc.load = false
	tc.RunFor(100 * sim.Millisecond) // a is durable on replica 0
	a, ok := tc.Replica(0).Header(base + 1)
	require.True(t, ok)
	tc.CrashReplica(0)

	// Far enough that the start_view's headers (vsr.ViewHeadersMax, and above the sender's
	// checkpoint) begin above a, not so far that replica 0 must state-sync instead.
	tc.commitN(vsr.ViewHeadersMax+vsr.CheckpointInterval/2, ticks)
	tc.RunFor(sim.Second)
	in := tc.inspect(1)
	require.Greater(t, in.Op, base+1+vsr.ViewHeadersMax, tc.describe())
	require.Greater(t, in.CheckpointOp, base+1, tc.describe())
	require.Less(t, in.Op, base+vsr.LogSlotsMax, tc.describe())
	b, ok := tc.Replica(1).Header(base + 1)
	require.True(t, ok)
	require.NotEqual(t, a.Checksum, b.Checksum, "op a committed")

	tc.Network.Heal()
	tc.StartReplica(0)
	ok = tc.RunUntil(func() bool {
		r := tc.Replica(0).Inspect()
		return r.Status == vsr.StatusNormal && r.LogView > 0
	}, ticks)
	require.True(t, ok, "replica 0 never took a start_view: %s", tc.describe())
	tc.isolateAll(0) // no repair, no state sync: the disk keeps a
	tc.RunFor(100 * sim.Millisecond)
	tc.CrashReplica(0)

	requireCommittedBelowPersistedCommit(t, tc, a, 1, true)

	tc.Network.Heal()
	tc.StartReplica(0)
	tc.commitN(3, ticks)
	tc.converge(ticks)
	if h, ok := tc.Replica(0).Header(base + 1); ok {
		require.Equal(t, b.Checksum, h.Checksum, "replica 0 kept a")
	}
	tc.requireNoFailures()
}

// TestPersistedCommitStaysBelowAStaleEntryExecutedFromMemory: as above, but replica 0
// repairs the committed prepare b in a's place and executes it from memory. Replica 0, primary
// of view 0, prepares a alone and crashes; replicas 1 and 2 commit b in its place and run on
// past a checkpoint and ViewHeadersMax ops, so that no do_view_change lists a's op. Replica 1
// crashes, replica 0 restarts, and replica 2's start_view of view 2 is kept from it, so that
// replica 0 leads view 3 from replica 2's log, as swarm seed 20261302's replica 1 did. Its log
// keeps a unverified; it repairs b along the hash chain and executes it. a is the engine's
// head: nothing above it can be lost, so b is written in its place (truncating a) before the
// ops above it. It was once left to the checkpoint that covers the op (leftToCheckpoint) while
// the ops above were appended after a; a restart before that checkpoint replayed a, and the
// persisted commit number had to stay below it (the seed persisted commit 101 over op 73 of
// view 1, whose committed prepare was of view 4: committed_prefix), and a crash then
// recovered a log whose hash chain broke above a (fresh-range seed 2026249483). Now the disk
// no longer holds a, and every entry at or below the persisted commit number is committed.
func TestPersistedCommitStaysBelowAStaleEntryExecutedFromMemory(t *testing.T) {
	tc := newTestCluster(t, testOptions{replicas: 3, clients: 1, seed: 54})
	var drop func(from, to int, h vsr.Header) bool
	tc.dropWhere(&drop)
	for tc.inspect(0).Op < 20 {
		tc.commitN(1, ticks)
	}
	tc.RunFor(sim.Second)
	require.Equal(t, 0, tc.primary())

	tc.cutBetween(0, 1) // a: the primary of view 0 prepares alone (one client: one op)
	tc.cutBetween(0, 2)
	tc.load = true
	tc.runUntilOp(0, tc.inspect(0).Op+1)
	tc.load = false
	tc.RunFor(100 * sim.Millisecond) // a is durable on replica 0
	top := tc.inspect(0).Op          // a is the head of replica 0's engine
	a, ok := tc.Replica(0).Header(top)
	require.True(t, ok)
	tc.CrashReplica(0)

	// Past a+ViewHeadersMax and a checkpoint, so that the headers of a do_view_change begin
	// above a, and short of replica 0's log window (no state sync).
	tc.load = true
	ok = tc.RunUntil(func() bool { return tc.inspect(1).CommitMin >= top+vsr.ViewHeadersMax+8 }, 4*ticks)
	tc.load = false
	require.True(t, ok, tc.describe())
	tc.RunFor(sim.Second)
	in := tc.inspect(1)
	require.Less(t, in.Op, uint64(vsr.LogSlotsMax-vsr.CheckpointInterval), tc.describe())
	require.GreaterOrEqual(t, in.CheckpointOp, top, tc.describe())
	b, ok := tc.Replica(1).Header(top)
	require.True(t, ok)
	require.NotEqual(t, a.Checksum, b.Checksum, "op a committed")

	tc.CrashReplica(1)
	tc.Network.Heal()
	drop = func(_, to int, h vsr.Header) bool {
		return to == 0 && h.Command == vsr.CommandStartView && h.View < 3
	}
	tc.StartReplica(0)
	ok = tc.RunUntil(func() bool { return tc.inspect(0).CommitMin > top }, 4*ticks)
	require.True(t, ok, "replica 0 never executed past a: %s", tc.describe())
	tc.RunFor(20 * sim.Millisecond) // what the writes above a persist meanwhile
	in = tc.inspect(0)
	require.Equal(t, uint32(3), in.View, tc.describe())
	require.Less(t, in.CheckpointOp, top, "a state sync or a checkpoint covers a: the case was not built")
	tc.CrashReplica(0)

	requireCommittedBelowPersistedCommit(t, tc, a, 2, false)

	drop = nil
	tc.StartReplica(0)
	tc.StartReplica(1)
	tc.commitN(3, ticks)
	tc.converge(4 * ticks)
	tc.requireNoFailures()
}

// requireCommittedBelowPersistedCommit checks replica 0's disk, crashed: every entry above
// its checkpoint and at or below its persisted commit number is the committed prepare (what
// it executes after a restart; replica ref's log has it), and the disk still holds a if
// wantA (else the case was not built), or no longer holds it.
func requireCommittedBelowPersistedCommit(t *testing.T, tc *testCluster, a vsr.Header, ref int, wantA bool) {
	t.Helper()
	rec := tc.recoverDisk(0)
	kept := false
	for _, e := range rec.Entries {
		m, err := vsr.Decode(e.Body, 7)
		require.NoError(t, err)
		kept = kept || m.Header.Checksum == a.Checksum
		if e.Op <= rec.State.CheckpointOp || e.Op > rec.State.Commit {
			continue
		}
		want, ok := tc.Replica(ref).Header(e.Op)
		require.True(t, ok)
		require.Equal(t, want.Checksum, m.Header.Checksum,
			"op %d on replica 0's disk is not the committed prepare, at or below its persisted commit number %d",
			e.Op, rec.State.Commit)
	}
	if wantA {
		require.True(t, kept, "replica 0's disk no longer holds a: the case was not built")
		return
	}
	require.False(t, kept, "replica 0's disk still holds a, its engine's head, under the ops executed above it")
}
