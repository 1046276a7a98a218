package invariants

import (
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"vopr/cluster/client"
	"vopr/cluster/kv"
	"vopr/cluster/vsr"
)

// ackOp invokes a put and completes it OK with the reply's op and view.
func ackOp(s *Suite, clientID int, op uint64, view uint32, callNs, atNs int64) {
	h := s.History()
	id := h.Invoke(clientID, kv.Op{Kind: kv.KindPut, Key: "k", Value: "v"}, callNs)
	h.Complete(id, client.Result{Outcome: client.OK, Reply: kv.EncodeResult(kv.Result{Status: kv.StatusOK}), Op: op, View: view}, atNs)
}

func primaryWithHead(replica int, view uint32, op uint64, head string) vsr.Inspection {
	in := normal(replica, vsr.RolePrimary, view, op, op)
	in.LogHead = sum(head)
	return in
}

func TestAckedSurvivePasses(t *testing.T) {
	s := NewSuite(3)
	commitRange(s, 10*ms, 0, 1, 1, 3)
	ackOp(s, 1, 2, 1, 5*ms, 12*ms)
	ackOp(s, 2, 2, 1, 6*ms, 13*ms) // a batch: two requests at one op
	commitRange(s, 20*ms, 1, 1, 1, 3)
	// An older view's primary may lag (it was replaced); later primaries hold op 2.
	s.OnInspect(30*ms, 2, primaryWithHead(2, 0, 1, "p1"))
	s.OnInspect(31*ms, 0, primaryWithHead(0, 1, 3, "p3"))
	s.OnInspect(32*ms, 1, primaryWithHead(1, 2, 3, "p3"))
	ackOp(s, 2, 3, 2, 31*ms, 33*ms)
	s.OnInspect(34*ms, 1, primaryWithHead(1, 3, 3, "p3"))
	// A backup of a later view may lag behind: it repairs.
	s.OnInspect(33*ms, 2, normal(2, vsr.RoleBackup, 2, 1, 1))
	// Replica 1 restarts and re-executes the acknowledged op with the same prepare.
	s.OnCrash(40*ms, 1)
	s.OnInspect(41*ms, 1, inspectAt(1, 2, 1))
	commitRange(s, 42*ms, 1, 2, 2, 3)
	require.Nil(t, s.Violation())
	require.Nil(t, s.Finish())
}

func TestAckedSurviveFiresOnAnAckOfAnUnexecutedOp(t *testing.T) {
	s := NewSuite(3)
	commitRange(s, 10*ms, 0, 1, 1, 3)
	ackOp(s, 3, 5, 1, 5*ms, 700*ms)
	v := s.Violation()
	requireViolation(t, v, NameAckedSurvive, -1, 5, 1, 700*ms)
	require.Contains(t, v.Message, "client 3 was answered for op 5")
}

func TestAckedSurviveFiresOnALostWrite(t *testing.T) {
	s := NewSuite(3)
	commitRange(s, 10*ms, 0, 1, 1, 3)
	ackOp(s, 1, 3, 1, 5*ms, 12*ms)
	s.OnEvent(900*ms, commitEvent(1, 2, 1, "p1"))
	s.OnEvent(900*ms, commitEvent(1, 2, 2, "p2"))
	s.OnEvent(900*ms, commitEvent(1, 2, 3, "p3-new-view"))
	v := s.Violation()
	requireViolation(t, v, NameAckedSurvive, 1, 3, 2, 900*ms)
	require.Contains(t, v.Message, "acknowledged to client 1")
}

func TestAckedSurviveFiresOnAShortPrimaryLog(t *testing.T) {
	s := NewSuite(3)
	commitRange(s, 10*ms, 0, 1, 1, 4)
	ackOp(s, 1, 4, 1, 5*ms, 12*ms)
	s.OnInspect(1000*ms, 2, primaryWithHead(2, 2, 3, "p3"))
	v := s.Violation()
	requireViolation(t, v, NameAckedSurvive, 2, 4, 2, 1000*ms)
	require.Contains(t, v.Message, "op_number 3, but op 4 was acknowledged to client 1 in view 1")
}

func TestAckedSurviveFiresOnAnotherPrepareAtAPrimaryHead(t *testing.T) {
	s := NewSuite(3)
	commitRange(s, 10*ms, 0, 1, 1, 4)
	ackOp(s, 1, 4, 1, 5*ms, 12*ms)
	s.OnInspect(1000*ms, 2, primaryWithHead(2, 2, 4, "p4-other"))
	requireViolation(t, s.Violation(), NameAckedSurvive, 2, 4, 2, 1000*ms)
}

func TestAckedSurviveFinishFires(t *testing.T) {
	var c canonicalCommit
	a := ackedSurvive{canon: &c}
	require.Nil(t, c.event(10*ms, commitEvent(0, 1, 1, "p1")))
	require.Nil(t, a.ack(11*ms, 1, 1, 1))
	require.Nil(t, a.inspect(12*ms, 0, ref(inspectAt(0, 1, 1))))
	require.Nil(t, a.finish(20*ms))
	// A canonical history that lost the op (it cannot, through the checkers' own calls:
	// this is the end-of-run check's last line of defence).
	c.canon = opTable[commitRecord]{}
	v := a.finish(20 * ms)
	requireViolation(t, v, NameAckedSurvive, -1, 1, 1, 20*ms)
}

// TestAckedStaircase: demanded(view) is the highest op acknowledged in view or earlier,
// whatever the order of acknowledgements.
func TestAckedStaircase(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var a ackedSurvive
		type ack struct {
			view uint32
			op   uint64
		}
		var acks []ack
		for _, x := range rapid.SliceOf(rapid.Custom(func(t *rapid.T) ack {
			return ack{view: rapid.Uint32Range(0, 8).Draw(t, "view"), op: rapid.Uint64Range(1, 30).Draw(t, "op")}
		})).Draw(t, "acks") {
			a.addStair(x.view, x.op)
			acks = append(acks, x)
			for view := uint32(0); view <= 9; view++ {
				var want uint64
				for _, y := range acks {
					if y.view <= view {
						want = max(want, y.op)
					}
				}
				if got := a.demanded(view); got != want {
					t.Fatalf("demanded(%d) = %d, want %d (stairs %v)", view, got, want, a.stairs)
				}
			}
			for i := 1; i < len(a.stairs); i++ {
				if a.stairs[i].view <= a.stairs[i-1].view || a.stairs[i].op <= a.stairs[i-1].op {
					t.Fatalf("stairs not strictly rising: %v", a.stairs)
				}
			}
		}
	})
}
