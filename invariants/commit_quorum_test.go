package invariants

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/checksum"
	"vopr/cluster/vsr"
)

func voteOK(replica int, epoch uint32, outside uint16, view uint32, op uint64, sum checksum.Sum) vsr.Header {
	return vsr.Header{Command: vsr.CommandPrepareOK, Replica: uint8(replica), Epoch: epoch, Outside: outside,
		View: view, Op: op, Parent: sum}
}

func TestCommitQuorum(t *testing.T) {
	sum := checksum.Of([]byte("op 1"))
	commit := vsr.Event{Kind: vsr.EventCommit, Replica: 0, Op: 1, Checksum: sum}
	self := func(epoch uint32, view uint32) vsr.Event {
		return vsr.Event{Kind: vsr.EventVoteSelf, Replica: 0, Epoch: epoch, View: view, Op: 1, Checksum: sum}
	}

	t.Run("a majority of the configuration passes", func(t *testing.T) {
		q := commitQuorum{slots: 4}
		require.Nil(t, q.message(0, voteOK(1, 1, 0, 3, 1, sum))) // 4 members: 3 needed
		require.Nil(t, q.message(0, voteOK(2, 1, 0, 3, 1, sum)))
		require.Nil(t, q.event(0, self(1, 3)))
		require.Nil(t, q.event(0, commit))
	})
	t.Run("the old configuration's quorum fires", func(t *testing.T) {
		// Epoch 1 has four members: two votes, a quorum of the three-member epoch 0, are not one.
		q := commitQuorum{slots: 4}
		require.Nil(t, q.message(0, voteOK(1, 1, 0, 3, 1, sum)))
		require.Nil(t, q.event(0, self(1, 3)))
		v := q.event(7, commit)
		require.NotNil(t, v)
		require.Equal(t, NameCommitQuorum, v.Checker)
	})
	t.Run("votes of another view or prepare do not add up", func(t *testing.T) {
		q := commitQuorum{slots: 3}
		require.Nil(t, q.message(0, voteOK(1, 0, 0, 3, 1, sum)))
		require.Nil(t, q.message(0, voteOK(2, 0, 0, 4, 1, sum)))
		require.Nil(t, q.message(0, voteOK(2, 0, 0, 3, 1, checksum.Of([]byte("other")))))
		require.NotNil(t, q.event(0, commit))
	})
	t.Run("votes from outside the configuration do not count", func(t *testing.T) {
		q := commitQuorum{slots: 3}
		outside := uint16(1 << 2) // replica 2 removed: members 0 and 1, both needed
		require.Nil(t, q.message(0, voteOK(2, 2, outside, 5, 1, sum)))
		require.Nil(t, q.message(0, voteOK(1, 2, outside, 5, 1, sum)))
		require.NotNil(t, q.event(0, commit), "replica 1's vote and removed replica 2's are not replicas 0 and 1")
		q = commitQuorum{slots: 3}
		require.Nil(t, q.message(0, voteOK(3, 0, 0, 5, 1, sum))) // a standby (index 3)
		require.Nil(t, q.event(0, vsr.Event{Kind: vsr.EventVoteSelf, Op: 1, View: 5, Checksum: sum}))
		require.NotNil(t, q.event(0, commit), "a standby's vote is no member's")
	})
	t.Run("one epoch with two memberships fires", func(t *testing.T) {
		q := commitQuorum{slots: 4}
		require.Nil(t, q.message(0, voteOK(1, 1, 1<<3, 3, 1, sum)))
		require.NotNil(t, q.message(0, voteOK(2, 1, 0, 3, 1, sum)))
	})
	t.Run("unarmed without messages", func(t *testing.T) {
		q := commitQuorum{slots: 3}
		require.Nil(t, q.event(0, commit))
	})
}

// TestCommitQuorumStartView: a primary of 5 replicas that sends start_view for view 7 with
// do_view_changes of view 7 from two others (three with its own) passes; with one other, or
// with the others' do_view_changes of view 6 (an earlier round), it fires. View 0 needs none.
func TestCommitQuorumStartView(t *testing.T) {
	header := func(command vsr.Command, replica int, view uint32) vsr.Header {
		return vsr.Header{Command: command, Replica: uint8(replica), Epoch: 0, View: view}
	}
	q := commitQuorum{slots: 5}
	require.Nil(t, q.message(0, header(vsr.CommandStartView, 0, 0)), "view 0 begins without a view change")
	require.Nil(t, q.message(0, header(vsr.CommandDoViewChange, 3, 6)))
	require.Nil(t, q.message(0, header(vsr.CommandDoViewChange, 4, 6)))
	require.Nil(t, q.message(0, header(vsr.CommandDoViewChange, 3, 7)))
	v := q.message(5, header(vsr.CommandStartView, 2, 7))
	require.NotNil(t, v, "two of view 7 (its own counted) and two of view 6 are no quorum of view 7")
	require.Equal(t, NameCommitQuorum, v.Checker)
	require.Contains(t, v.Message, "from 2 of the 3 members needed")
	require.Nil(t, q.message(6, header(vsr.CommandDoViewChange, 1, 7)))
	require.Nil(t, q.message(7, header(vsr.CommandStartView, 2, 7)))
}

// TestCommitQuorumStartViewDelivered: where the harness passes deliveries, the
// do_view_changes must have reached the primary. Three others sent theirs for view 4 of a
// 3-replica cluster, but only one reached replica 1 (one went to another replica, one is
// still in flight), so its start_view with its own and that one passes; a start_view by
// replica 0, which heard none, fires though a quorum was sent.
func TestCommitQuorumStartViewDelivered(t *testing.T) {
	header := func(command vsr.Command, replica int, view uint32) vsr.Header {
		return vsr.Header{Command: command, Replica: uint8(replica), View: view}
	}
	q := commitQuorum{slots: 3, receiving: true}
	require.Nil(t, q.message(0, header(vsr.CommandDoViewChange, 0, 4)))
	require.Nil(t, q.message(0, header(vsr.CommandDoViewChange, 2, 4)))
	q.receive(1, header(vsr.CommandDoViewChange, 2, 4))
	q.receive(2, header(vsr.CommandDoViewChange, 0, 4))
	q.receive(0, header(vsr.CommandDoViewChange, 2, 3))
	require.Nil(t, q.message(1, header(vsr.CommandStartView, 1, 4)))
	v := q.message(2, header(vsr.CommandStartView, 0, 4))
	require.NotNil(t, v, "replica 0 heard only a do_view_change of view 3")
	require.Contains(t, v.Message, "delivered to it from 1 of the 2 members needed")
}

// TestCommitQuorumNackTruncation: a truncation on nacks needs n - quorum + 1 denials of the
// op delivered to the primary in its own view (its own counted). In a 5-replica cluster (3
// needed), replica 1 heard denials of op 8 from replicas 2 and 3 in view 6 and truncates:
// it passes. Replica 0 heard one in view 6 and one of view 5 (stale): its truncation fires.
// One that heard an offer of the op is left alone (a proven offer truncates without nacks).
func TestCommitQuorumNackTruncation(t *testing.T) {
	nack := func(replica int, view uint32, op uint64, size uint32) vsr.Header {
		return vsr.Header{Command: vsr.CommandNackPrepare, Replica: uint8(replica), View: view, Op: op, Size: size}
	}
	truncate := func(replica int, view uint32, kept uint64) vsr.Event {
		return vsr.Event{Kind: vsr.EventTruncate, Replica: replica, View: view, Op: kept, Text: "nack"}
	}
	q := commitQuorum{slots: 5, receiving: true}
	require.Nil(t, q.message(0, vsr.Header{Command: vsr.CommandPing, Replica: 4}), "learns epoch 0's membership")
	q.receive(1, nack(2, 6, 8, vsr.HeaderSize))
	q.receive(1, nack(3, 6, 8, vsr.HeaderSize))
	require.Nil(t, q.event(1, truncate(1, 6, 7)))
	q.receive(0, nack(2, 6, 8, vsr.HeaderSize))
	q.receive(0, nack(3, 5, 8, vsr.HeaderSize))
	v := q.event(2, truncate(0, 6, 7))
	require.NotNil(t, v, "one of the two nacks was of an earlier view")
	require.Contains(t, v.Message, "from 2 of the 3 members needed")
	q.receive(4, nack(2, 6, 8, vsr.HeaderSize+vsr.HeaderSize))
	require.Nil(t, q.event(3, truncate(4, 6, 7)), "an offer was delivered: no nack count to hold it to")
	require.Nil(t, q.event(4, vsr.Event{Kind: vsr.EventTruncate, Replica: 3, View: 6, Op: 7}), "a truncation not on nacks")
}
