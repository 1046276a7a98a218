package invariants

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/client"
	"vopr/cluster/kv"
	"vopr/cluster/vsr"
)

// restoredSuite: ops 1..6 committed and acknowledged (2 and 5) by a 3-replica cluster, a
// checkpoint at 4 carrying the digest at 4, then the cluster restored from a backup at 4.
func restoredSuite(t *testing.T) (*Suite, []uint64) {
	s := NewSuite(3)
	commitRange(s, 10*ms, 0, 1, 1, 6)
	s.OnEvent(11*ms, vsr.Event{Kind: vsr.EventCheckpoint, Replica: 0, View: 1, Op: 4, Checksum: sum("state@4")})
	ackOp(s, 1, 2, 1, 5*ms, 12*ms)
	ackOp(s, 2, 5, 1, 6*ms, 13*ms)
	for i := 0; i < 3; i++ {
		s.OnCrash(20*ms, i)
	}
	lost, v := s.OnRestoreFromBackup(30*ms, 4)
	require.Nil(t, v)
	return s, lost
}

// TestRestorePasses: the acknowledgement above the restore point is reported lost; the
// rebuilt cluster resumes at the restore point in a lower view with the old digest there,
// commits new prepares above it, and the run passes.
func TestRestorePasses(t *testing.T) {
	s, lost := restoredSuite(t)
	require.Equal(t, []uint64{5}, lost)
	for i := 0; i < 3; i++ {
		s.OnInspect(40*ms, i, normal(i, vsr.RoleBackup, 0, 4, 4))
	}
	commitRange(s, 50*ms, 0, 0, 5, 5) // "p5" again: the prepare may even be the same
	s.OnEvent(50*ms, commitEvent(0, 0, 6, "p6-after-restore"))
	ackOp(s, 3, 6, 0, 45*ms, 51*ms)
	s.OnInspect(52*ms, 0, primaryWithHead(0, 0, 6, "p6-after-restore"))
	require.Nil(t, s.Violation())
	require.Nil(t, s.Finish())
}

// TestRestoreFiresOnAnotherStateAtTheRestorePoint: a restore that brings back a state the
// old cluster never had at that op (say, a backup of another cluster) is divergence.
func TestRestoreFiresOnAnotherStateAtTheRestorePoint(t *testing.T) {
	s, _ := restoredSuite(t)
	in := normal(1, vsr.RoleBackup, 0, 4, 4)
	in.Digest = sum("some other state")
	s.OnInspect(40*ms, 1, in)
	requireViolation(t, s.Violation(), NameDigestAgreement, 1, 4, 0, 40*ms)
}

// TestRestoreFiresOnALostAcknowledgementBelowThePoint: a write acknowledged at or below
// the restore point is not allowed to be lost.
func TestRestoreFiresOnALostAcknowledgementBelowThePoint(t *testing.T) {
	s, _ := restoredSuite(t)
	s.OnEvent(40*ms, commitEvent(2, 0, 2, "p2-rewritten"))
	requireViolation(t, s.Violation(), NameAckedSurvive, 2, 2, 0, 40*ms)
}

// TestRestoreWithoutADigestFires: a restore point no replica reported a digest for
// cannot be checked, and says so.
func TestRestoreWithoutADigestFires(t *testing.T) {
	s := NewSuite(3)
	commitRange(s, 10*ms, 0, 1, 1, 6)
	_, v := s.OnRestoreFromBackup(30*ms, 4)
	requireViolation(t, v, NameDigestAgreement, -1, 4, 0, 30*ms)
}

// TestRestoreAbandonsPendingOperations: an operation in flight at the restore may be
// answered by either cluster; its completion is ignored, while later operations are
// checked (here: a read of a value nobody wrote).
func TestRestoreAbandonsPendingOperations(t *testing.T) {
	s := NewSuite(3)
	commitRange(s, 10*ms, 0, 1, 1, 6)
	s.OnEvent(11*ms, vsr.Event{Kind: vsr.EventCheckpoint, Replica: 0, View: 1, Op: 4, Checksum: sum("state@4")})
	h := s.History()
	pending := h.Invoke(1, kv.Op{Kind: kv.KindGet, Key: "old"}, 12*ms)
	_, v := s.OnRestoreFromBackup(30*ms, 4)
	require.Nil(t, v)
	h.Complete(pending, client.Result{Outcome: client.OK, Op: 99, View: 0,
		Reply: kv.EncodeResult(kv.Result{Status: kv.StatusOK, Value: "anything"})}, 40*ms)
	require.Nil(t, s.Finish())

	s, _ = restoredSuite(t)
	h = s.History()
	read := h.Invoke(1, kv.Op{Kind: kv.KindGet, Key: "new"}, 41*ms)
	commitRange(s, 42*ms, 0, 0, 5, 5)
	h.Complete(read, client.Result{Outcome: client.OK, Op: 5, View: 0,
		Reply: kv.EncodeResult(kv.Result{Status: kv.StatusOK, Value: "never written"})}, 43*ms)
	require.NotNil(t, s.Finish())
	require.Equal(t, NameLinearizable, s.Finish().Checker)
}
