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

	rec := tc.recoverDisk(0)
	kept := false
	for _, e := range rec.Entries {
		m, err := vsr.Decode(e.Body, 7)
		require.NoError(t, err)
		kept = kept || m.Header.Checksum == a.Checksum
		if e.Op <= rec.State.CheckpointOp || e.Op > rec.State.Commit {
			continue
		}
		want, ok := tc.Replica(1).Header(e.Op)
		require.True(t, ok)
		require.Equal(t, want.Checksum, m.Header.Checksum,
			"op %d on replica 0's disk is not the committed prepare, at or below its persisted commit number %d",
			e.Op, rec.State.Commit)
	}
	require.True(t, kept, "replica 0's disk no longer holds a: the case was not built")

	tc.Network.Heal()
	tc.StartReplica(0)
	tc.commitN(3, ticks)
	tc.converge(ticks)
	if h, ok := tc.Replica(0).Header(base + 1); ok {
		require.Equal(t, b.Checksum, h.Checksum, "replica 0 kept a")
	}
	tc.requireNoFailures()
}
