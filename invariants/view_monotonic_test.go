package invariants

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
)

func viewChange(replica int, view uint32, op uint64) vsr.Inspection {
	in := normal(replica, vsr.RoleBackup, view, op, op)
	in.Status, in.LogView = vsr.StatusViewChange, view-1
	return in
}

func recovered(replica int, view uint32, op uint64) vsr.Event {
	return vsr.Event{Kind: vsr.EventRecovered, Replica: replica, View: view, Op: op}
}

func TestViewMonotonicPassesAnUndurableViewLostInACrash(t *testing.T) {
	var m viewMonotonic
	require.Nil(t, m.event(0, recovered(1, 0, 0)))
	require.Nil(t, m.inspect(10*ms, 1, ref(normal(1, vsr.RoleBackup, 2, 5, 5))))
	require.Nil(t, m.message(11*ms, vsr.Header{Command: vsr.CommandPrepareOK, Replica: 1, View: 2}))
	// View 3 is adopted in memory; the crash comes before the superblock write: legitimate.
	require.Nil(t, m.inspect(20*ms, 1, ref(viewChange(1, 3, 5))))
	require.Nil(t, m.event(21*ms, vsr.Event{Kind: vsr.EventStatus, Replica: 1, View: 3, Op: 5}))
	m.crash(1)
	require.Nil(t, m.inspect(30*ms, 1, &vsr.Inspection{Status: vsr.StatusRecovering}))
	require.Nil(t, m.event(31*ms, recovered(1, 2, 5)))
	require.Nil(t, m.inspect(32*ms, 1, ref(viewChange(1, 3, 5))))
	// Other commands than votes, and other replicas, do not raise the floor.
	require.Nil(t, m.message(40*ms, vsr.Header{Command: vsr.CommandStartView, Replica: 1, View: 9}))
	require.Nil(t, m.message(41*ms, vsr.Header{Command: vsr.CommandDoViewChange, Replica: 2, View: 9}))
	m.crash(1)
	require.Nil(t, m.event(50*ms, recovered(1, 3, 5)))
	// A replica whose open failed reports a stop before it knows its view.
	m.crash(1)
	require.Nil(t, m.event(60*ms, vsr.Event{Kind: vsr.EventStatus, Replica: 1, Text: "stopped: open failed"}))
}

func TestViewMonotonicFiresWhileRunning(t *testing.T) {
	var m viewMonotonic
	require.Nil(t, m.inspect(10*ms, 0, ref(normal(0, vsr.RoleBackup, 4, 5, 5))))
	v := m.inspect(3200*ms, 0, ref(normal(0, vsr.RoleBackup, 3, 6, 5)))
	requireViolation(t, v, NameViewMonotonic, 0, 6, 3, 3200*ms)
	require.Contains(t, v.Message, "view 3 after view 4 without a restart")
}

func TestViewMonotonicFiresOnEventsWhileRunning(t *testing.T) {
	var m viewMonotonic
	require.Nil(t, m.event(10*ms, commitEvent(0, 5, 7, "p7")))
	v := m.event(20*ms, commitEvent(0, 4, 8, "p8"))
	requireViolation(t, v, NameViewMonotonic, 0, 8, 4, 20*ms)
}

func TestViewMonotonicFiresAfterRestartBelowAVote(t *testing.T) {
	for _, vote := range []vsr.Command{vsr.CommandPrepareOK, vsr.CommandDoViewChange} {
		t.Run(vote.String(), func(t *testing.T) {
			var m viewMonotonic
			require.Nil(t, m.inspect(10*ms, 2, ref(viewChange(2, 5, 9))))
			require.Nil(t, m.message(12*ms, vsr.Header{Command: vote, Replica: 2, View: 5}))
			m.crash(2)
			v := m.event(40*ms, recovered(2, 4, 9))
			requireViolation(t, v, NameViewMonotonic, 2, 9, 4, 40*ms)
			require.Contains(t, v.Message, "below view 5 that it sent "+vote.String()+" in at 12.000ms")
		})
	}
}

func TestViewMonotonicFiresAfterRestartBelowARecoveredView(t *testing.T) {
	var m viewMonotonic
	require.Nil(t, m.event(10*ms, recovered(1, 6, 3)))
	m.crash(1)
	require.Nil(t, m.event(20*ms, recovered(1, 6, 3)))
	m.crash(1)
	v := m.inspect(30*ms, 1, ref(viewChange(1, 5, 3)))
	requireViolation(t, v, NameViewMonotonic, 1, 3, 5, 30*ms)
	require.Contains(t, v.Message, "recovered in from disk")
}
