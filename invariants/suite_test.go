package invariants

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/client"
	"vopr/cluster/vsr"
)

func TestDescribeNamesEveryChecker(t *testing.T) {
	names := Names()
	require.Equal(t, []string{NameCommitLeOp, NameCanonicalCommit, NameCommitTimestamp, NameClockSync, NameCheckpointMonotonic,
		NameViewMonotonic, NameSinglePrimary, NameCommitQuorum, NameDigestAgreement, NameCheckpointAgreement, NameCheckpointContent, NameAckedSurvive, NameAckedDurable,
		NameLogViewDurable, NameViewChangeAcks, NameCommittedPrefix, NameStandbyReads, NameClientSessions, NameSessionExecution, NameCommittedReplies, NameAuditChain,
		NameLinearizable}, names)
	for _, d := range Describe() {
		require.NotEmpty(t, d[1])
		require.NotContains(t, d[1], "\n")
	}
}

func TestViolationError(t *testing.T) {
	v := &Violation{Checker: "x", Replica: -1, Op: 3, View: 2, AtNs: 1_250_000_000, Message: "m"}
	require.Equal(t, "invariant x violated: no replica, op 3, view 2, at 1.250s (tick 125): m", v.Error())
	v.Replica, v.AtNs = 4, 2_500_000
	require.Equal(t, "invariant x violated: replica 4, op 3, view 2, at 2.500ms (tick 0): m", v.Error())
	require.Equal(t, "42ns", formatNs(42))
}

func TestSuiteKeepsTheFirstViolationAndStops(t *testing.T) {
	s := NewSuite(3)
	commitRange(s, 10*ms, 0, 1, 1, 2)
	s.OnEvent(20*ms, commitEvent(1, 1, 1, "other"))
	first := s.Violation()
	requireViolation(t, first, NameCanonicalCommit, 1, 1, 1, 20*ms)
	bad := normal(2, vsr.RolePrimary, 1, 1, 1)
	bad.CommitMax = 9
	s.OnInspect(30*ms, 2, bad)
	s.OnCrash(31*ms, 2)
	s.OnMessage(32*ms, vsr.Header{Command: vsr.CommandPrepareOK})
	require.Same(t, first, s.Violation())
	require.Same(t, first, s.Finish())
}

// TestSuiteCleanRun drives every hook with a consistent three-replica run: a view change,
// a crash and recovery, a state sync and a client history.
func TestSuiteCleanRun(t *testing.T) {
	s := NewSuite(3)
	h := s.History()
	for r := 0; r < 3; r++ {
		s.OnEvent(0, recovered(r, 0, 0))
		s.OnInspect(0, r, vsr.Inspection{Replica: r, Status: vsr.StatusRecovering})
	}
	id := h.Invoke(1, put("x", "1"), 1*ms)
	commitRange(s, 5*ms, 0, 0, 1, 3)
	s.OnInspect(5*ms, 0, primaryWithHead(0, 0, 3, "p3"))
	h.Complete(id, replyOK(ok, 3), 6*ms)
	commitRange(s, 7*ms, 1, 0, 1, 3)
	s.OnMessage(7*ms, vsr.Header{Command: vsr.CommandPrepareOK, Replica: 1, View: 0, Op: 3})
	s.OnCrash(8*ms, 0)
	// View change to view 1 (primary replica 1); replica 2 state-syncs and catches up.
	s.OnInspect(9*ms, 1, viewChange(1, 1, 3))
	s.OnMessage(9*ms, vsr.Header{Command: vsr.CommandDoViewChange, Replica: 1, View: 1, LogView: 0, Op: 3})
	s.OnInspect(10*ms, 1, primaryWithHead(1, 1, 3, "p3"))
	id = h.Invoke(2, get("x"), 11*ms)
	// Op 4 is acknowledged by a quorum of view 1: its primary's own vote and replica 2's.
	s.OnEvent(11*ms, vsr.Event{Kind: vsr.EventVoteSelf, Replica: 1, View: 1, Op: 4, Checksum: sum("p4")})
	s.OnMessage(11*ms, vsr.Header{Command: vsr.CommandPrepareOK, Replica: 2, View: 1, Op: 4, Parent: sum("p4")})
	commitRange(s, 12*ms, 1, 1, 4, 4)
	h.Complete(id, replyOK(okValue("1"), 4), 13*ms)
	s.OnEvent(14*ms, vsr.Event{Kind: vsr.EventStateSync, Replica: 2, View: 1, Op: 4, Checksum: sum("p4")})
	s.OnInspect(14*ms, 2, normal(2, vsr.RoleBackup, 1, 4, 4))
	s.OnEvent(15*ms, recovered(0, 0, 3))
	s.OnInspect(15*ms, 0, inspectAt(0, 1, 2))
	commitRange(s, 16*ms, 0, 1, 3, 4)
	h.Indeterminate(h.Invoke(3, appendOp("x", "2"), 17*ms))
	for r := 0; r < 3; r++ {
		in := normal(r, vsr.RoleBackup, 1, 4, 4)
		in.Digest = sum("state@4")
		if r == 1 {
			in = primaryWithHead(1, 1, 4, "p4")
		}
		s.OnInspect(20*ms, r, in)
	}
	require.Nil(t, s.Violation())
	require.Nil(t, s.Finish())
	require.Nil(t, s.Finish(), "Finish is idempotent")
}

func TestSuiteFinishChecksLinearizability(t *testing.T) {
	s := NewSuite(1)
	commitRange(s, 1*ms, 0, 0, 1, 3)
	h := s.History()
	h.Complete(h.Invoke(1, put("x", "1"), 0), replyOK(ok, 1), 2*ms)
	h.Complete(h.Invoke(1, put("x", "2"), 3*ms), replyOK(ok, 2), 4*ms)
	h.Complete(h.Invoke(2, get("x"), 5*ms), client.Result{Outcome: client.OK, Reply: replyOK(okValue("1"), 3).Reply, Op: 3}, 6*ms)
	require.Nil(t, s.Violation(), "linearizability is checked at the end only")
	v := s.Finish()
	requireViolation(t, v, NameLinearizable, -1, 3, 0, 6*ms)
	require.True(t, strings.HasPrefix(v.Message, `key "x": client 2's get("x") -> ok "1"`), v.Message)
}
