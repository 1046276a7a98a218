package vsr

// A regression test for the bound persistState documents: the commit number a replica's
// superblock keeps trails min(commit_max, unverifiedFloor) by at most half a checkpoint
// interval once its writes land, on every path that raises that floor.

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRepairedEntryPersistsTheCommitItHeldBack: backup 2 of view 1 holds ops 1..50 on disk,
// its entry of op 10 damaged (of unknown identity, its header known from the log), and
// hears commit 50. Its persisted commit number stays below op 10 (unverifiedFloor: a restart
// could read another prepare there back as committed). Once op 10's prepare is repaired and
// its entry durably rewritten, nothing holds the floor: the superblock must name a commit
// number within half an interval of 50 without waiting for another commit or a checkpoint
// (which an idle cluster never brings). The write's completion persisted state only at the
// log's head or for a log view not yet durable, so the commit stayed at 0, 50 behind.
func TestRepairedEntryPersistsTheCommitItHeldBack(t *testing.T) {
	const head, damaged = 50, 10
	chain := failoverChain(t, head, 0, 0) // view 1, led by replica 1
	r, _, fs := reviewReplica(t, 2, 1, 1, chain, head)
	r.log.markFaulty(damaged)
	r.log.setHeader(chain[damaged].Header)
	require.True(t, r.log.diskMayDiffer(damaged))

	r.advanceCommitMax(head)
	fs.drain()
	require.Equal(t, uint64(damaged-1), r.unverifiedFloor())
	require.Less(t, r.stateDurable.Commit, uint64(damaged), "a commit number persisted over a damaged entry")

	r.log.setPrepare(chain[damaged]) // the repair: the op's prepare, written in place
	r.flushLog()
	fs.drain()
	require.False(t, r.log.diskMayDiffer(damaged))
	require.Equal(t, uint64(head), r.unverifiedFloor())
	require.GreaterOrEqual(t, r.stateDurable.Commit+CheckpointInterval/2, uint64(head),
		"the persisted commit number trails commit_max by more than half an interval after the repair")
}
