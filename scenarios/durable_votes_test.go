package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
	"vopr/sim"
)

// The decision on its own: a vote needs its view durable, and a prepare_ok its log view too.
func TestVoteDurabilityNeedsTheViewAndLogViewOnDisk(t *testing.T) {
	sb := durableSuperblock{ok: true, view: 4, logView: 3}
	for _, tc := range []struct {
		vote voteDurability
		lack string
	}{
		{voteDurability{what: "sent prepare_ok", view: 4, logView: 3}, ""},
		{voteDurability{what: "sent prepare_ok", view: 3, logView: 3}, ""},
		{voteDurability{what: "sent do_view_change", view: 4, logView: 0}, ""},
		{voteDurability{what: "sent prepare_ok", view: 4, logView: 4}, "its superblock durably holds log view 3 (view 4)"},
		{voteDurability{what: "sent prepare_ok", view: 5, logView: 3}, "its superblock durably holds view 4 (log view 3)"},
		{voteDurability{what: "sent do_view_change", view: 5, logView: 0}, "its superblock durably holds view 4 (log view 3)"},
		{voteDurability{what: "sent start_view", view: 5, logView: 0}, "its superblock durably holds view 4 (log view 3)"},
	} {
		require.Equal(t, tc.lack, tc.vote.missing(sb), "%+v", tc.vote)
	}
	require.Equal(t, "no intact superblock copy", voteDurability{what: "sent prepare_ok", view: 0, logView: 0}.missing(durableSuperblock{}))
}

// The configuration an acknowledgement is cast in must be durable too: one of a newer epoch
// than the superblock holds, or of another membership at its epoch, is reported; one of the
// superblock's configuration, or of an older epoch, passes. A do_view_change or start_view
// is held to its view alone, as the DB holds it.
func TestVoteDurabilityNeedsTheEpochAndMembershipOnDisk(t *testing.T) {
	sb := durableSuperblock{ok: true, view: 9, logView: 9, epoch: 2, outside: 1 << 3}
	ack := func(what string, view, epoch uint32, outside uint16, members bool) voteDurability {
		return voteDurability{what: what, view: view, logView: view, epoch: epoch, outside: outside, members: members,
			configuration: true}
	}
	for _, tc := range []struct {
		vote voteDurability
		lack string
	}{
		{ack("sent prepare_ok", 9, 2, 1<<3, true), ""},
		{ack("counted its own vote", 9, 2, 0, false), ""},
		{ack("sent prepare_ok", 8, 1, 0, true), ""},
		// Entered epoch 3 and acknowledged before its superblock write of epoch 3 (at the
		// view number it already held durably: it heard the epoch in a view change).
		{ack("sent prepare_ok", 9, 3, 1<<3, true), "its superblock durably holds epoch 2 (view 9)"},
		{ack("counted its own vote", 9, 3, 0, false), "its superblock durably holds epoch 2 (view 9)"},
		{ack("sent prepare_ok", 9, 2, 0, true),
			"its superblock durably holds epoch 2 with membership outside=0x8, not the vote's 0x0"},
		// View-change votes: the view alone.
		{voteDurability{what: "sent do_view_change", view: 9, epoch: 3, members: true}, ""},
		{voteDurability{what: "sent start_view", view: 10, epoch: 3, members: true}, "its superblock durably holds view 9 (log view 9)"},
	} {
		require.Equal(t, tc.lack, tc.vote.missing(sb), "%+v", tc.vote)
	}
}

// On a real disk: after a view change, a backup's votes in its view pass, and a vote in the
// next view, which its superblock does not hold yet, is reported; a damaged superblock
// sector silences the check.
func TestVoteDurabilityReadsTheSendersDisk(t *testing.T) {
	tc := newTestCluster(t, testOptions{replicas: 3, clients: 1, seed: 5})
	tc.commitN(10, 20_000)
	tc.CrashReplica(tc.primary())
	require.True(t, tc.RunUntil(func() bool {
		for i := 0; i < 3; i++ {
			if r := tc.Replica(i); r != nil && r.Inspect().View > 0 && r.Inspect().Status == vsr.StatusNormal {
				return true
			}
		}
		return false
	}, 20_000), "a view change after the primary's crash")
	tc.RunFor(sim.Second) // the superblock writes land
	disks := newDurableDisks(tc.Cluster)
	backup := -1
	for i := 0; i < 3; i++ {
		if r := tc.Replica(i); r != nil && i != tc.primary() {
			backup = i
		}
	}
	require.GreaterOrEqual(t, backup, 0)
	in := tc.inspect(backup)
	require.Positive(t, in.View)
	vote := vsr.Header{Command: vsr.CommandPrepareOK, View: in.View}
	require.Empty(t, disks.checkVoteSent(backup, vote))
	vote.View++
	require.Contains(t, disks.checkVoteSent(backup, vote),
		"sent prepare_ok in view", "a vote in a view the disk does not hold")
	require.Contains(t, disks.checkVoteSent(backup, vote), "but its superblock durably holds view")
	tc.Nodes[backup].Disk.CorruptSector("superblock", 0) // damage the replica cannot know of excuses the disk
	require.Empty(t, disks.checkVoteSent(backup, vote))
}

// A new primary's own vote for the uncommitted ops it holds counts only once its superblock
// holds its view and log view: the primary is crashed under load, again and again, so that
// each new primary starts with prepared ops in its pipeline, and every self-vote is checked
// against the voter's durable superblock when it is counted. Counting them on entering the
// view, before the superblock write, let campaign seed 20263743 commit with one backup and
// then lose the ops when the primary restarted with its older log view.
func TestNewPrimaryCountsItsOwnVoteOnlyOnceItsLogViewIsDurable(t *testing.T) {
	var disks *durableDisks
	var violations []string
	selfVotes := 0
	tc := newTestCluster(t, testOptions{replicas: 3, clients: 3, seed: 11, mutate: func(o *sim.ClusterOptions) {
		inner := o.OnEvent
		o.OnEvent = func(e vsr.Event) {
			inner(e)
			if e.Kind == vsr.EventVoteSelf && disks != nil {
				selfVotes++
				if lack := disks.checkVoteDurable(e.Replica, "counted its own vote", e.View, true); lack != "" {
					violations = append(violations, lack)
				}
			}
		}
	}})
	disks = newDurableDisks(tc.Cluster)
	tc.commitN(5, 20_000)
	for round := 0; round < 4; round++ {
		tc.load = true
		tc.RunFor(30 * sim.Millisecond) // ops in flight, prepared on the backups
		old := tc.primary()
		require.GreaterOrEqual(t, old, 0, "round %d: no primary: %s", round, tc.describe())
		tc.CrashReplica(old)
		require.True(t, tc.RunUntil(func() bool { p := tc.primary(); return p >= 0 && p != old }, 20_000),
			"round %d: no new primary: %s", round, tc.describe())
		tc.RunFor(200 * sim.Millisecond)
		tc.StartReplica(old)
		tc.commitN(5, 20_000)
	}
	require.Positive(t, selfVotes, "no primary counted its own vote")
	require.Empty(t, violations)
	tc.requireNoFailures()
}
