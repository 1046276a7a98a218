package vsr

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/kv"
)

// TestStartViewOfOurViewKeepsBufferedPrepares: a normal backup that installs a start_view of
// its own view (a restarted backup asks for it, onRecoverTimeout) keeps the prepares of that
// view it buffered ahead of its head, and appends the one that follows the installed log.
// Clearing them dropped the next prepare, which had overtaken the start_view: under load
// the backup then fell more than aheadSlotsMax ops behind the primary, repair fetches
// RepairRequestsMax ops a round, and it caught up only by state sync, again and again
// (swarm seed 9800006006: three state syncs in the traffic round).
func TestStartViewOfOurViewKeepsBufferedPrepares(t *testing.T) {
	chain, r, _, fs := viewFourBackup(t, 16, 10)

	// The primary's prepare of op 12 arrives before its start_view (ops 1..11).
	require.Empty(t, deliver(r, chain[12]))
	require.Equal(t, uint64(10), r.op)

	sv := Header{Cluster: reviewCluster, Replica: 1, View: 4, Command: CommandStartView, Release: kv.ReleaseBase,
		LogView: 4, Op: 11, Commit: 10}
	require.Empty(t, deliver(r, withHeaders(t, sv, chain)))
	fs.drain()
	require.Equal(t, StatusNormal, r.status)
	require.Equal(t, uint64(12), r.op, "the buffered prepare of op 12 was dropped by a start_view of our own view")
	_, held := r.log.prepare(12)
	require.True(t, held)

	// Op 11's prepare, repaired, completes the log.
	require.Empty(t, deliver(r, chain[11]))
	fs.drain()
	_, held = r.log.prepare(11)
	require.True(t, held)
}
