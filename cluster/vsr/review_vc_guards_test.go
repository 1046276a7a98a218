package vsr

// Tests from a review of three planted bugs of blind batch 18 (the h61 helper): the new
// primary's merge of do_view_change headers, the primary's count of prepare_oks, and a
// backup's append window. Each test drives a real replica through the sequence the bug needs
// and asserts the safe outcome. The first two show why those bugs are equivalent in the
// shipped code: a second guard upstream refuses the same messages (the do_view_change
// sender's log view or commit number; the prepare_ok's view), so only both bugs together
// install a stale prepare or commit without a quorum. The third is reachable on its own.

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/kv"
)

// TestMergeKeepsAStaleOlderLogViewOpOutOfTheChosenLog: the new primary fills a hole of the
// chosen log from another do_view_change only with a header of the same log view, or of an
// older one at or below that sender's commit number, and only if the chosen log's op above
// names it as parent.
//
// The sequence: replica 1 led view 1, committed ops 1-10, then was cut off and prepared ops
// 11-13 of its own that never committed (a divergent suffix). Replicas 0 and 2 went on in
// view 2 and prepared ops 11-14 there. Replica 0 restarted with its entry of op 12 damaged
// past its record (a hole of unknown identity) and leads view 3 (replica 2 is down): its
// own do_view_change (log view 2, op 14) and replica 1's (log view 1, op 13, commit 10) are
// the quorum. Replica 0's log is chosen; its hole at op 12 must not take replica 1's stale
// op 12, which no quorum holds and which does not chain to view 2's op 13.
//
// Either guard alone refuses it: replica 1's op 12 is of an older log view above its commit
// number, and view 2's op 13 names another parent. So the planted bug
// vsr.merge_headers_ignores_chain (the chain check dropped) passes this test, as does
// vsr.merge_headers_any_log_view (the log view guard dropped); both together fail it. A
// header the log view guard lets through is of the chosen log view (whose replicas' logs
// agree by the hash chain: forgetGaps, unverifiedBelow) or committed (which every later log
// holds): the chain check never refuses it in the shipped code.
func TestMergeKeepsAStaleOlderLogViewOpOutOfTheChosenLog(t *testing.T) {
	stale := reviewChainViews(t, []uint32{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1})
	chosen := reviewChainViews(t, []uint32{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2})
	require.Equal(t, stale[10].Header.Checksum, chosen[10].Header.Checksum, "ops 1-10 are common")
	require.NotEqual(t, stale[12].Header.Checksum, chosen[12].Header.Checksum)

	r, _, _ := reviewReplica(t, 0, 3, 2, chosen, 14)
	require.Equal(t, 0, r.primaryIndex(3))
	r.commitMin, r.commitMax = 10, 10
	r.log.markFaulty(12) // damaged past its record: its do_view_change has no header for it
	r.status = StatusViewChange
	r.viewChange.svcFrom = 1<<0 | 1<<1
	r.maybeSendDoViewChange()
	require.NotNil(t, r.viewChange.dvcs[0], "own do_view_change not recorded")

	failure := deliver(r, reviewDoViewChange(t, 1, 3, 1, stale, 13, 10))
	require.Empty(t, failure)
	require.True(t, r.viewChange.installed, "the quorum's best log was not installed")
	h, ok := r.log.header(12)
	require.False(t, ok && h.Checksum == stale[12].Header.Checksum,
		"the chosen log's hole at op 12 took replica 1's stale op 12 of log view 1 (above its commit number 10, not the parent of view 2's op 13)")
}

// TestLatePrepareOKOfAnOlderViewCommitsNothing: the primary counts a prepare_ok only for the
// op and checksum of its pipeline, and only of its own view.
//
// The sequence: replica 1 led view 1 and prepared op 11 (never committed); replica 2
// acknowledged it, and that prepare_ok was held by the network (a clogged path) while views
// 2 and 3 replaced op 11 with another prepare. Replica 1 leads view 4 with view 3's op 11 in
// its pipeline, its own vote counted; the held prepare_ok (view 1, op 11, view 1's checksum)
// arrives. It must commit nothing: replica 2 never held view 3's op 11.
//
// The view check refuses it first, so vsr.prepare_ok_counted_for_other_checksum (the
// checksum compared no more) passes this test, as does vsr.prepare_ok_from_older_view_counted
// (older views let in); both together commit op 11. Within one view a backup acknowledges
// only the prepare its log holds at that op (sendPrepareOK), and every log of the view is the
// primary's (start_view and the hash chain), so a prepare_ok of the primary's view names its
// pipeline's checksum: the checksum comparison never refuses one in the shipped code.
func TestLatePrepareOKOfAnOlderViewCommitsNothing(t *testing.T) {
	old := reviewChainViews(t, []uint32{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1})
	chain := reviewChainViews(t, []uint32{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 4})
	require.NotEqual(t, old[11].Header.Checksum, chain[11].Header.Checksum)

	r, _, _ := reviewReplica(t, 1, 4, 4, chain, 12)
	require.Equal(t, 1, r.primaryIndex(4))
	r.commitMin, r.commitMax = 10, 10
	r.stateDurable.Commit = 10
	for op := uint64(11); op <= 12; op++ {
		r.pipeline = append(r.pipeline, pipelineEntry{op: op, checksum: chain[op].Header.Checksum, oks: 1 << 1})
	}

	late := Header{Command: CommandPrepareOK, Cluster: reviewCluster, Replica: 2, View: 1, Op: 11,
		Parent: old[11].Header.Checksum, Commit: 10, Release: kv.ReleaseBase}
	m, err := Decode(Encode(late, nil), reviewCluster)
	require.NoError(t, err)
	require.Empty(t, deliver(r, m))
	require.Equal(t, uint64(10), r.commitMax,
		"a prepare_ok of view 1 for another prepare at op 11 committed view 3's op 11, which replica 2 never held")
}

// TestBackupBehindOnCheckpointsKeepsItsCheckpointOp: a backup appends prepares only up to a
// checkpoint interval short of a whole log window past its checkpoint, so that no op takes
// the slot of the checkpoint's own op. That op's prepare is what the backup serves by
// checksum to a peer that repairs it, and its checksum is what the backup's state sync of
// that checkpoint names (the sync's Context, which the receiver reports in its state_sync
// event and the canonical_commit checker compares with the executed history).
//
// The sequence, reachable with the shipped code: replica 2, a backup of view 4, checkpointed
// op 64 and has executed up to 128, whose checkpoint write is still in flight on a slow disk
// (execution waits for it). The primary, two checkpoints ahead, prepares up to op 320 (its
// own checkpoint at 192 plus PrepareAheadMax). Replica 2 takes them in order; with
// vsr.append_window_ignores_checkpoint_margin it takes them all and op 320 lands in op 64's
// slot. Then replica 0, lagging below 64, asks it for op 64's prepare and for its checkpoint.
// The bug loses no committed op (ops at or below 64 are executed and checkpointed), so no
// user-visible checker of the swarm sees it: this test names what it changes.
func TestBackupBehindOnCheckpointsKeepsItsCheckpointOp(t *testing.T) {
	views := make([]uint32, 320)
	for i := range views {
		views[i] = 4
	}
	chain := reviewChainViews(t, views)
	r, bus, _ := reviewReplica(t, 2, 4, 4, chain, 128)
	r.checkpointOp, r.checkpointSnapshot = 64, reviewSnapshot(chain[64].Header)
	r.commitMin, r.commitMax = 128, 128
	r.checkpointing, r.checkpointingOp = true, 128 // the checkpoint of 128, on a slow disk

	for op := 129; op <= 320; op++ {
		require.Empty(t, deliver(r, chain[op]))
	}
	require.GreaterOrEqual(t, r.op, uint64(64+LogSlotsMax-CheckpointInterval), "the backup stopped early")

	bus.sent = nil
	ask := Header{Command: CommandRequestPrepare, Cluster: reviewCluster, Replica: 0, View: 4, Op: 64,
		Parent: chain[64].Header.Checksum, Release: kv.ReleaseBase}
	askMsg, err := Decode(Encode(ask, nil), reviewCluster)
	require.NoError(t, err)
	require.Empty(t, deliver(r, askMsg))
	served := false
	for _, s := range bus.sent {
		served = served || (s.to == 0 && s.m.Header.Command == CommandPrepare && s.m.Header.Checksum == chain[64].Header.Checksum)
	}
	require.True(t, served, "the backup no longer serves its checkpoint op's prepare: op %d took its slot", r.op)

	bus.sent = nil
	sync := Header{Command: CommandRequestSync, Cluster: reviewCluster, Replica: 0, View: 4, Op: 10, Release: kv.ReleaseBase}
	syncMsg, err := Decode(Encode(sync, nil), reviewCluster)
	require.NoError(t, err)
	require.Empty(t, deliver(r, syncMsg))
	require.NotEmpty(t, bus.sent, "no state sync served")
	got := bus.sent[0].m.Header
	require.Equal(t, CommandSync, got.Command)
	require.Equal(t, uint64(64), got.Op)
	require.Equal(t, chain[64].Header.Checksum, got.Context,
		"the state sync of checkpoint 64 does not name op 64's prepare: op %d took its slot", r.op)
}
