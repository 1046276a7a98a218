package invariants

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
)

func ackInView(replica uint8, view uint32, op uint64) vsr.Header {
	return vsr.Header{Command: vsr.CommandPrepareOK, Replica: replica, View: view, Op: op}
}

func doViewChange(replica uint8, view, logView uint32, op uint64) vsr.Header {
	return vsr.Header{Command: vsr.CommandDoViewChange, Replica: replica, View: view, LogView: logView, Op: op}
}

// A replica acknowledged op 12 in view 3, then offers log view 3 ending at op 11 (a recovery
// that dropped an op it had acknowledged).
func TestViewChangeAcksFires(t *testing.T) {
	s := NewSuite(3)
	for op := uint64(10); op <= 12; op++ {
		s.OnMessage(int64(op)*ms, ackInView(1, 3, op))
	}
	s.OnMessage(20*ms, doViewChange(1, 4, 3, 12)) // as much as it acknowledged: fine
	require.Nil(t, s.Violation())
	s.OnMessage(30*ms, doViewChange(1, 5, 3, 11))
	v := s.Violation()
	requireViolation(t, v, NameViewChangeAcks, 1, 12, 5, 30*ms)
	require.Contains(t, v.Message, "log view 3 with op 11, but the replica acknowledged op 12 in view 3")
}

// A primary's vote for its own prepare binds it too.
func TestViewChangeAcksFiresOnAPrimarysOwnVote(t *testing.T) {
	s := NewSuite(3)
	s.OnEvent(10*ms, vsr.Event{Kind: vsr.EventVoteSelf, Replica: 0, View: 6, Op: 40})
	s.OnMessage(20*ms, doViewChange(0, 7, 6, 39))
	requireViolation(t, s.Violation(), NameViewChangeAcks, 0, 40, 7, 20*ms)
}

// What does not fire: another replica's acknowledgement, an older log view than the one
// acknowledged in, another epoch's view of the same number, a wiped disk, and a replica that
// ran normal in a newer view since (it cut the older view's uncommitted ops before its
// superblock named the newer log view: swarm seed 319).
func TestViewChangeAcksPasses(t *testing.T) {
	s := NewSuite(4)
	s.OnMessage(1*ms, ackInView(1, 3, 12))
	s.OnMessage(2*ms, doViewChange(2, 4, 3, 5))
	s.OnMessage(3*ms, doViewChange(1, 4, 2, 5))
	other := ackInView(1, 3, 30)
	other.Epoch = 1
	s.OnMessage(4*ms, other)
	s.OnMessage(5*ms, doViewChange(1, 4, 3, 12))
	require.Nil(t, s.Violation())

	s.OnMessage(6*ms, ackInView(3, 19, 243))
	in := normal(3, vsr.RoleBackup, 20, 257, 250)
	s.OnInspect(7*ms, 3, in)
	s.OnMessage(8*ms, doViewChange(3, 21, 19, 242))
	require.Nil(t, s.Violation())

	s.OnMessage(9*ms, ackInView(2, 8, 70))
	s.OnWipe(10*ms, 2)
	s.OnMessage(11*ms, doViewChange(2, 9, 8, 0))
	require.Nil(t, s.Violation())
}
