package scenarios

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/storage"
	"vopr/cluster/vsr"
	"vopr/ops"
)

// The draws of the new procedure steps stay within their bounds and both ways of each are
// reached; the older draws keep their values (they come from their own stream).
func TestQuorumLostProcedureDraws(t *testing.T) {
	seen := map[string]bool{}
	for seed := uint64(1); seed <= 300; seed++ {
		p := drawQuorumLost(seed)
		if v := p.oldBack(); v >= 0 {
			require.True(t, p.OptionB)
			require.Less(t, v, p.Replicas)
			require.Less(t, p.OldDelayTicks, 300)
			seen["old back"] = true
		} else if p.OptionB {
			seen["B without old back"] = true
		}
		if v := p.restoreCrashReplica(); v >= 0 {
			require.True(t, p.OptionC)
			require.True(t, v >= 1 && v < p.Replicas, "seed %d: replica %d", seed, v)
			seen["restore crash"] = true
		} else if p.OptionC {
			seen["C without crash"] = true
		}
	}
	require.Len(t, seen, 4, "%v", seen)
}

// checkPromotedConfiguration fires on a configuration that keeps other slots as members, on
// the wrong epoch and on a promoted replica that does not answer; it passes the failover's.
func TestQuorumLostPromotedConfigurationCheck(t *testing.T) {
	good := ops.ReplicaStatusReport{Replica: 0, Status: "normal", Role: "primary", Epoch: 3, Outside: ^uint16(1)}
	require.Empty(t, checkPromotedConfiguration(good, 3))

	kept := good
	kept.Outside = 0 // the old configuration's members kept
	reason := checkPromotedConfiguration(kept, 3)
	require.Contains(t, reason, "replica status --replica-id 100 after cluster failover --promote-standby 100")
	require.Contains(t, reason, "expected the new configuration (epoch 3) to name only the promoted standby")
	require.Contains(t, reason, "members [0 1 2 3 4 5 6 7 8 9]")

	oneKept := good
	oneKept.Outside = ^uint16(1) &^ (1 << 2)
	require.Contains(t, checkPromotedConfiguration(oneKept, 3), "members [0 2]")

	promotedOutside := good
	promotedOutside.Outside = ^uint16(0)
	require.Contains(t, checkPromotedConfiguration(promotedOutside, 3), "members []")

	require.Contains(t, checkPromotedConfiguration(good, 4), "got status normal replica 0 epoch 3")
	require.Contains(t, checkPromotedConfiguration(ops.Unreachable(3), 3), "got status unreachable")
}

// The old active replica's checks fire on a replica that entered the new epoch, committed
// past the loss, or reported a commit, a vote or a join in the new epoch; its old epoch's
// events (the replay of its own log) pass.
func TestQuorumLostOldActiveChecks(t *testing.T) {
	w := &oldActive{node: 1, epoch: 2, commitMax: 100}
	require.Empty(t, w.check(vsr.Inspection{Replica: 1, Status: vsr.StatusViewChange, Epoch: 1, CommitMax: 90}))
	require.Empty(t, w.check(vsr.Inspection{Replica: 1, Status: vsr.StatusStopped, Epoch: 2, Removed: true, CommitMax: 90}))

	joined := w.check(vsr.Inspection{Replica: 1, Status: vsr.StatusNormal, Role: vsr.RoleBackup, Epoch: 2, CommitMax: 90})
	require.Contains(t, joined, "old active replica 1, back with its old disk after cluster failover --promote-standby 100, took part in the new configuration")
	require.Contains(t, joined, "expected it to stay out of epoch 2")

	committed := w.check(vsr.Inspection{Replica: 1, Status: vsr.StatusViewChange, Epoch: 1, CommitMax: 101})
	require.Contains(t, committed, "expected commit_number at most 100")
	require.Contains(t, committed, "got 101")

	require.Empty(t, w.checkEvent(vsr.Event{Kind: vsr.EventCommit, Replica: 1, Epoch: 1, Op: 95}))
	for _, e := range []vsr.Event{
		{Kind: vsr.EventCommit, Replica: 1, Epoch: 2, Op: 101},
		{Kind: vsr.EventVoteSelf, Replica: 1, Epoch: 2, Op: 101},
		{Kind: vsr.EventStatus, Replica: 1, Epoch: 2, Text: "configuration epoch 2 (members 0 1 2): heard epoch 2 from replica 0"},
	} {
		reason := w.checkEvent(e)
		require.Contains(t, reason, "in the new configuration's epoch 2", "%+v", e)
		require.Contains(t, reason, "expected it never to join, vote or commit in it")
	}
	require.Empty(t, w.checkEvent(vsr.Event{Kind: vsr.EventStatus, Replica: 1, Epoch: 2, Text: "stopped: removed"}))
}

// A seed that brings an old active replica back passes (it stays out); held to a commit
// bound below what it recovered, the run fails naming it: the check sees the live replica.
func TestQuorumLostOldActiveBack(t *testing.T) {
	for _, seed := range []uint64{4, 11} {
		p := drawQuorumLost(seed)
		require.GreaterOrEqual(t, p.oldBack(), 0, "seed %d brings an old active replica back", seed)
		r := runQuorumLost(Options{Seed: seed}, quorumLostKnobs{})
		require.Equal(t, Pass, r.Outcome, "seed %d: %s", seed, r.Reason)
		require.Equal(t, uint64(1), r.Counters["failover.old_active_back"])
		require.Equal(t, uint64(1), r.Counters["resolution.failover"])

		low := runQuorumLost(Options{Seed: seed}, quorumLostKnobs{oldCommitBelow: 1 << 40})
		require.Equal(t, Correctness, low.Outcome, "seed %d: %s", seed, low.Reason)
		require.Contains(t, low.Reason, fmt.Sprintf("old active replica %d, back with its old disk", p.oldBack()))
		require.Contains(t, low.Reason, "expected commit_number at most 0")
	}
	a := runQuorumLost(Options{Seed: 4}, quorumLostKnobs{})
	b := runQuorumLost(Options{Seed: 4}, quorumLostKnobs{})
	require.Equal(t, a.TraceHash, b.TraceHash)
}

// A crash during the restore: a late crash leaves the complete restored state (seed 1), an
// early one an unformatted disk (seed 37); both pass after the restore is run again. A disk
// left formatted without its checkpoint fails the check, naming the command.
func TestQuorumLostRestoreCrash(t *testing.T) {
	for _, c := range []struct {
		seed    uint64
		outcome string
	}{{1, "complete"}, {37, "unformatted"}} {
		seed, outcome := c.seed, c.outcome
		require.GreaterOrEqual(t, drawQuorumLost(seed).restoreCrashReplica(), 1)
		r := runQuorumLost(Options{Seed: seed}, quorumLostKnobs{})
		require.Equal(t, Pass, r.Outcome, "seed %d: %s", seed, r.Reason)
		require.Equal(t, uint64(1), r.Counters["fault.crash_during_restore"], "seed %d", seed)
		require.Equal(t, uint64(1), r.Counters["restore_crash."+outcome], "seed %d", seed)
		require.Equal(t, uint64(1), r.Counters["resolution.restore_from_backup"])
		require.Positive(t, r.Counters["requests_acked_after_restore"])
	}
	v := drawQuorumLost(1).restoreCrashReplica()
	broken := runQuorumLost(Options{Seed: 1}, quorumLostKnobs{restoreCrashLosesCheckpoint: true})
	require.Equal(t, Correctness, broken.Outcome, broken.Reason)
	require.Contains(t, broken.Reason, fmt.Sprintf("storage verify --replica-id %d after replica %d crashed at its I/O completion", v, v))
	require.Contains(t, broken.Reason, "expected an unformatted disk (to restore again) or the complete restored state, got a formatted disk")
	a := runQuorumLost(Options{Seed: 37}, quorumLostKnobs{})
	b := runQuorumLost(Options{Seed: 37}, quorumLostKnobs{})
	require.Equal(t, a.TraceHash, b.TraceHash)
}

// unformatted and sameRestoredState on their own: what counts as unformatted, and what is
// not the restored state.
func TestQuorumLostRestoreCrashJudges(t *testing.T) {
	require.True(t, unformatted(fmt.Errorf("open: %w", storage.ErrNotFormatted)))
	require.True(t, unformatted(fmt.Errorf("%w: no intact superblock copy", storage.ErrCorrupt)))
	require.False(t, unformatted(fmt.Errorf("%w: checkpoint 64 checksum", storage.ErrCorrupt)))
	require.False(t, unformatted(storage.ErrOptions))

	want := storage.VerifyReport{OK: true, SuperblockCopiesIntact: 4, CheckpointOp: 64, Head: 70, Entries: 6, AuditOp: 70}
	require.Empty(t, sameRestoredState(want, want))
	torn := want
	torn.OK, torn.SuperblockCopiesIntact = false, 2
	torn.Problems = []storage.Problem{{File: "superblock", Reason: "copy 0: superblock checksum"}}
	require.Empty(t, sameRestoredState(torn, want), "torn superblock copies, one intact: the complete state")

	noCheckpoint := want
	noCheckpoint.OK = false
	noCheckpoint.Problems = []storage.Problem{{File: "checkpoint-0000000000000040", Reason: "storage: corrupt: checkpoint 64 checksum"}}
	require.Contains(t, sameRestoredState(noCheckpoint, want), "first problem: storage: corrupt: checkpoint 64 checksum")
	short := want
	short.Head, short.Entries = 64, 0
	require.Contains(t, sameRestoredState(short, want), "that is not the restored state")
	allTorn := torn
	allTorn.SuperblockCopiesIntact = 0
	require.NotEmpty(t, sameRestoredState(allTorn, want))
}
