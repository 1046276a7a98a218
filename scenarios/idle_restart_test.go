package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestIdleRestartedPrimaryRejoinsWithoutAnElection (h33 review; cluster/vsr
// TestViewChangeAsksTheRunningViewOnItsHeartbeat at the replica level): a primary that
// restarts moves on to the view after its own (rejoin); when the others already run that
// view and no client is writing, it hears only the new primary's commit heartbeats, which
// onCommit ignores in view_change status (85dd5fd made onPrepare ask for start_view, not
// onCommit). Its view change times out and drags the healthy cluster into another election:
// view 1 becomes view 2 on every seed.
func TestIdleRestartedPrimaryRejoinsWithoutAnElection(t *testing.T) {
	for seed := uint64(101); seed <= 103; seed++ {
		tc := newTestCluster(t, testOptions{replicas: 3, seed: seed})
		tc.commitN(10, ticks)
		tc.CrashReplica(0)
		tc.commitN(10, ticks) // view 1 (led by replica 1) elected without replica 0
		tc.RunFor(2_000_000_000)
		require.Equal(t, 1, tc.primary())
		before := tc.inspect(1).View
		tc.StartReplica(0)
		tc.RunFor(5_000_000_000) // idle: the primary sends only heartbeats
		require.Equal(t, before, tc.inspect(1).View,
			"seed %d: restarting the old primary on an idle, healthy cluster forced a view change: %s", seed, tc.describe())
		tc.requireNoFailures()
	}
}
