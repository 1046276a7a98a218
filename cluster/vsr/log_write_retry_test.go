package vsr

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestFailedLogWriteIsInspectedUntilItsRetry: backup 2 of view 1 holds ops 1..50, its entry
// of op 10 damaged, and hears commit 50; its persisted commit stays below op 10
// (unverifiedFloor). The rewrite of op 10 fails (an I/O error): the commit stays held below
// it until the repair timeout writes it again, and Inspection.LogWriteRetry says so, for the
// persisted commit check (swarm seed 10000007607, h125: judged in that window, it took the
// replica's rightful wait for a violation). The timeout clears it as it writes again, and
// that write's success persists the commit.
func TestFailedLogWriteIsInspectedUntilItsRetry(t *testing.T) {
	const head, damaged = 50, 10
	chain := failoverChain(t, head, 0, 0) // view 1, led by replica 1
	fs := &faultyFS{testFS: newTestFS()}
	r, _ := reviewReplicaOn(t, fs, fs.testFS, 2, 1, 1, chain, head)
	r.log.markFaulty(damaged)
	r.log.setHeader(chain[damaged].Header)
	r.advanceCommitMax(head)
	fs.drain()
	require.False(t, r.InspectState().LogWriteRetry)
	require.Less(t, r.stateDurable.Commit, uint64(damaged))

	fs.fail = []string{"log"}
	r.log.setPrepare(chain[damaged]) // the repair, whose rewrite fails
	r.flushLog()
	fs.drain()
	require.True(t, r.log.diskMayDiffer(damaged))
	require.True(t, r.InspectState().LogWriteRetry, "a failed log write waiting for its retry is not inspected")
	require.Less(t, r.stateDurable.Commit, uint64(damaged))

	fs.fail = nil
	r.onRepairTimeout()
	require.False(t, r.InspectState().LogWriteRetry, "the repair timeout's retry leaves the flag set")
	fs.drain()
	require.False(t, r.log.diskMayDiffer(damaged))
	require.False(t, r.InspectState().LogWriteRetry)
	require.GreaterOrEqual(t, r.stateDurable.Commit+CheckpointInterval/2, uint64(head),
		"the persisted commit number trails commit_max by more than half an interval after the retry")
}
