package invariants

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
)

func ackInView(replica uint8, view uint32, op uint64, prepare string) vsr.Header {
	return vsr.Header{Command: vsr.CommandPrepareOK, Replica: replica, View: view, Op: op, Parent: sum(prepare)}
}

func doViewChange(replica uint8, view, logView uint32, op uint64) vsr.Header {
	return vsr.Header{Command: vsr.CommandDoViewChange, Replica: replica, View: view, LogView: logView, Op: op}
}

// newViewChangeAcks returns the checker with its own canonical table, committed holds the
// committed prepares by op.
func newViewChangeAcks() (*viewChangeAcks, *canonicalCommit) {
	c := &canonicalCommit{}
	return &viewChangeAcks{canon: c}, c
}

func committed(c *canonicalCommit, op uint64, prepare string) {
	c.canon.put(op, commitRecord{sum: sum(prepare)})
}

// A replica acknowledged op 12 in view 3, then offers log view 3 ending at op 11 (a recovery
// that dropped an op it had acknowledged); op 12 was committed already.
func TestViewChangeAcksFiresOnACommittedOp(t *testing.T) {
	a, c := newViewChangeAcks()
	require.Nil(t, a.message(10*ms, ackInView(1, 3, 12, "p12")))
	committed(c, 12, "p12")
	require.Nil(t, a.message(20*ms, doViewChange(1, 4, 3, 12))) // as much as it acknowledged: fine
	v := a.message(30*ms, doViewChange(1, 5, 3, 11))
	requireViolation(t, v, NameViewChangeAcks, 1, 12, 5, 30*ms)
	require.Contains(t, v.Message, "carried log view 3 with op 11")
}

// The same, with the op executed only after the do_view_change (by a backup still in the
// log view, whose primary committed it), and a primary's vote for its own prepare.
func TestViewChangeAcksFiresOnAnOpCommittedLater(t *testing.T) {
	a, _ := newViewChangeAcks()
	require.Nil(t, a.event(10*ms, vsr.Event{Kind: vsr.EventVoteSelf, Replica: 0, View: 6, Op: 40, Checksum: sum("p40")}))
	require.Nil(t, a.message(20*ms, doViewChange(0, 7, 6, 39)))
	require.Nil(t, a.message(21*ms, doViewChange(0, 7, 6, 39)), "sent again")
	v := a.event(30*ms, commitEvent(1, 6, 40, "p40"))
	requireViolation(t, v, NameViewChangeAcks, 0, 40, 7, 30*ms)
	require.Contains(t, v.Message, "(at 20.000ms)")
}

// Swarm seed 2026971068: replica 0 acknowledged op 4 in view 0, adopted view 3's log (which
// held another prepare there) and crashed before its superblock named log view 3; it offered
// log view 0 with op 3. Another replica had offered op 4 to view 2's change, and op 4 was
// first executed in view 5: no view change could have preferred the offer to the replicas
// that committed it, so nothing fires, neither when the commit comes after the
// do_view_change nor when it came before one.
func TestViewChangeAcksPassesAnOpFirstCommittedInALaterView(t *testing.T) {
	a, c := newViewChangeAcks()
	require.Nil(t, a.event(1*ms, vsr.Event{Kind: vsr.EventVoteSelf, Replica: 0, View: 0, Op: 4, Checksum: sum("x4")}))
	require.Nil(t, a.message(2*ms, doViewChange(0, 5, 0, 3)))
	require.Nil(t, a.event(3*ms, commitEvent(0, 5, 4, "x4")))

	require.Nil(t, a.message(4*ms, ackInView(1, 2, 9, "x9")))
	c.canon.put(9, commitRecord{sum: sum("x9"), view: 3})
	require.Nil(t, a.message(5*ms, doViewChange(1, 4, 2, 8)))
	c.canon.put(10, commitRecord{sum: sum("x10"), epoch: 1, view: 1})
	require.Nil(t, a.message(6*ms, ackInView(1, 2, 10, "x10")))
	require.Nil(t, a.message(7*ms, doViewChange(1, 4, 2, 9)), "view 1 of epoch 1 comes after view 2 of epoch 0")
	c.canon.put(11, commitRecord{sum: sum("x11"), view: 2})
	require.Nil(t, a.message(8*ms, ackInView(1, 2, 11, "x11")))
	require.NotNil(t, a.message(9*ms, doViewChange(1, 4, 2, 10)), "committed in the log view offered")
}

// What does not fire: another replica's acknowledgement, an older log view than the one
// acknowledged in, another epoch's view of the same number, a wiped disk, and an acknowledged
// prepare left out that never commits (another prepare commits at its op: a replica that
// adopted a newer view's log cut it before its superblock named that view, swarm seed 319).
func TestViewChangeAcksPasses(t *testing.T) {
	a, c := newViewChangeAcks()
	committed(c, 12, "p12")
	committed(c, 30, "p30")
	require.Nil(t, a.message(1*ms, ackInView(1, 3, 12, "p12")))
	require.Nil(t, a.message(2*ms, doViewChange(2, 4, 3, 5)))
	require.Nil(t, a.message(3*ms, doViewChange(1, 4, 2, 5)))
	other := ackInView(1, 3, 30, "p30")
	other.Epoch = 1
	require.Nil(t, a.message(4*ms, other))
	require.Nil(t, a.message(5*ms, doViewChange(1, 4, 3, 12)))

	require.Nil(t, a.message(6*ms, ackInView(3, 19, 243, "old243")))
	require.Nil(t, a.message(8*ms, doViewChange(3, 21, 19, 242)))
	require.Nil(t, a.event(9*ms, commitEvent(0, 20, 243, "new243")))
	committed(c, 244, "new244")
	require.Nil(t, a.message(10*ms, ackInView(3, 21, 244, "old244")))
	require.Nil(t, a.message(11*ms, doViewChange(3, 22, 21, 243)), "another prepare committed there")

	require.Nil(t, a.message(12*ms, ackInView(2, 8, 300, "p300")))
	require.Nil(t, a.message(13*ms, doViewChange(2, 9, 8, 0)))
	a.forget(2)
	require.Nil(t, a.event(14*ms, commitEvent(0, 21, 300, "p300")), "the denial went with the wiped disk")
}

// With deliveries watched, a cut is excused only in a replica that heard of a later log:
// replica 2 was delivered nothing newer than log view 4 when it offered log view 4 without op
// 50, acknowledged there, which then commits in view 6 (a recovery that dropped its own head
// op): it fires. Replica 1, delivered view 5's start_view before the same offer, may have
// adopted view 5's log and crashed: it passes, as does a do_view_change of log view 5
// delivered to replica 0 (the log view's epoch in Request).
func TestViewChangeAcksExcusesOnlyAnAdoption(t *testing.T) {
	a, _ := newViewChangeAcks()
	a.watching = true
	a.receive(2, vsr.Header{Command: vsr.CommandStartView, View: 4})
	a.receive(1, vsr.Header{Command: vsr.CommandStartView, View: 5})
	a.receive(0, vsr.Header{Command: vsr.CommandDoViewChange, View: 7, LogView: 5})
	a.receive(2, vsr.Header{Command: vsr.CommandPrepare, View: 9})
	for replica := uint8(0); replica < 3; replica++ {
		require.Nil(t, a.message(1*ms, ackInView(replica, 4, 50, "p50")))
		require.Nil(t, a.message(2*ms, doViewChange(replica, 6, 4, 49)))
	}
	v := a.event(3*ms, commitEvent(1, 6, 50, "p50"))
	requireViolation(t, v, NameViewChangeAcks, 2, 50, 6, 3*ms)
}

// A copy the simulator damaged after the acknowledgement excuses its loss (swarm seed
// 2027006076); damage seen before the acknowledgement does not, nor damage at another op.
func TestViewChangeAcksExcusesADamagedCopy(t *testing.T) {
	a, c := newViewChangeAcks()
	a.sawDisk(1*ms, 0, &DiskImage{Entries: []DurableEntry{{Op: 130, Intact: false}}})
	require.Nil(t, a.message(2*ms, ackInView(0, 9, 130, "p130")))
	require.Nil(t, a.message(2*ms, ackInView(1, 9, 130, "p130")))
	require.Nil(t, a.message(2*ms, ackInView(2, 9, 130, "p130")))
	c.canon.put(130, commitRecord{sum: sum("p130"), view: 9})
	a.sawDisk(3*ms, 1, &DiskImage{Entries: []DurableEntry{{Op: 130, Intact: false}, {Op: 131, Intact: true}}})
	a.sawDisk(3*ms, 2, &DiskImage{Entries: []DurableEntry{{Op: 129, Intact: false}, {Op: 130, Intact: true}}})
	require.Nil(t, a.message(4*ms, doViewChange(1, 11, 9, 129)), "its copy was damaged after it acknowledged")
	require.NotNil(t, a.message(4*ms, doViewChange(0, 11, 9, 129)), "damaged before it acknowledged")
	require.NotNil(t, a.message(4*ms, doViewChange(2, 11, 9, 129)), "damage at another op")
}

// A nack_prepare never denies an op its sender executed (a replica that state-synced past
// op 9 no longer holds its prepare, yet op 9 is committed): op 9 fires, op 11 above what it
// executed passes, and so does a replica whose execution position is not known (restarting).
func TestViewChangeAcksNackOfAnExecutedOpFires(t *testing.T) {
	a, c := newViewChangeAcks()
	*c.executor(1) = executor{known: true, last: 10, ceiling: 10}
	*c.executor(2) = executor{known: false, last: 10, ceiling: 10, crashed: true}
	nack := func(replica uint8, op uint64) vsr.Header {
		return vsr.Header{Command: vsr.CommandNackPrepare, Replica: replica, View: 6, Op: op, Parent: sum("x"),
			Size: vsr.HeaderSize}
	}
	v := a.message(5*ms, nack(1, 9))
	requireViolation(t, v, NameViewChangeAcks, 1, 9, 6, 5*ms)
	require.Contains(t, v.Message, "had executed up to op 10")
	require.Nil(t, a.message(6*ms, nack(1, 11)))
	require.Nil(t, a.message(7*ms, nack(2, 9)))
	offer := nack(1, 9)
	offer.Size += vsr.HeaderSize
	require.Nil(t, a.message(8*ms, offer), "an offer of the header it holds denies nothing")
}
