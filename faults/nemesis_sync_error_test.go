package faults

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/storage"
	"vopr/sim"
)

// TestNemesisCrashAfterSyncError: a failed sync arms the crash for its replica about half the
// time; the armed move lets the replica's next completions through, other replicas' do not
// count, and it crashes the replica at the k-th (recorded and marked). A successful sync arms
// nothing, and an armed crash nobody reaches in time is given up.
func TestNemesisCrashAfterSyncError(t *testing.T) {
	run := newAimedRun(t, 3, 60, NemesisOptions{})
	c, n := run.c, run.n
	c.RunFor(100 * sim.Millisecond)
	n.syncError = syncErrorCrash{r: sim.Stream(60, "nemesis/sync_error"), at: disarmed}
	failed := sim.IOCompletion{Op: sim.IOSync, Name: "superblock", Err: storage.ErrIO}
	require.False(t, n.onCompletion(c, 1, sim.IOCompletion{Op: sim.IOSync, Name: "superblock"}))
	require.Equal(t, -1, n.syncError.at.replica, "a sync that succeeded arms nothing")
	for n.syncError.at.replica < 0 {
		require.False(t, n.onCompletion(c, 1, failed), "the failed sync itself reaches the replica")
	}
	left := n.syncError.at.left
	require.GreaterOrEqual(t, left, 1)
	require.LessOrEqual(t, left, syncErrorCrashIOMax)
	require.False(t, n.onCompletion(c, 0, sim.IOCompletion{Op: sim.IOWrite, Name: "superblock"}), "another replica")
	for range left - 1 {
		require.False(t, n.onCompletion(c, 1, sim.IOCompletion{Op: sim.IOWrite, Name: "superblock"}))
	}
	require.True(t, n.onCompletion(c, 1, sim.IOCompletion{Op: sim.IOWrite, Name: "superblock"}))
	require.Equal(t, -1, n.syncError.at.replica, "spent")
	require.Equal(t, uint64(1), n.Counts()[ActionCrashAfterSyncError])
	require.Equal(t, uint64(1), n.Marks().Count(MarkCrashAfterSyncError))
	require.Contains(t, run.out.String(), ActionCrashAfterSyncError+" r1 as the write of superblock completed")

	for n.syncError.at.replica < 0 {
		n.onCompletion(c, 2, failed)
	}
	n.tick += crashAtIOWaitTicks
	require.False(t, n.onCompletion(c, 2, sim.IOCompletion{Op: sim.IOWrite, Name: "superblock"}), "too late: given up")
	require.Equal(t, -1, n.syncError.at.replica)

	armed := 0
	for range 400 {
		n.syncError = syncErrorCrash{r: n.syncError.r, at: disarmed}
		n.onCompletion(c, 0, failed)
		if n.syncError.at.replica == 0 {
			armed++
		}
	}
	require.InDelta(t, 200, armed, 50, "half the failed syncs")

	off := newAimedRun(t, 3, 60, NemesisOptions{}).n
	off.ArmSyncErrorCrashes(sim.Stream(60, "nemesis/sync_error"))
	require.Nil(t, off.syncError.r, "a swarm without sync errors arms nothing")
}
