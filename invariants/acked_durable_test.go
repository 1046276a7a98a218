package invariants

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
)

// fakeDisks are the disks a test hands the Suite: images it edits between reads.
type fakeDisks struct{ images []DiskImage }

func (f *fakeDisks) read(replica int, _ uint64) DiskImage {
	img := f.images[replica]
	img.Entries = append([]DurableEntry(nil), img.Entries...)
	return img
}

// holding returns a valid image above checkpoint holding "p<op>" of view 1 at ops from..to.
func holding(checkpoint, from, to uint64) DiskImage {
	img := DiskImage{Valid: true, View: 1, LogView: 1, CheckpointOp: checkpoint}
	for op := from; op <= to; op++ {
		img.Entries = append(img.Entries, DurableEntry{Op: op, Prepare: sum(fmt.Sprintf("p%d", op)), View: 1, Intact: true})
	}
	return img
}

func prepareOK(replica int, op uint64) vsr.Header {
	return vsr.Header{Command: vsr.CommandPrepareOK, Replica: uint8(replica), View: 1, Op: op,
		Parent: sum(fmt.Sprintf("p%d", op))}
}

// ackedCluster: 3 replicas hold ops 1..6 of view 1; replicas 0 and 1 acknowledged them all,
// and replica 0 executed them.
func ackedCluster(t *testing.T) (*Suite, *fakeDisks) {
	disks := &fakeDisks{images: []DiskImage{holding(0, 1, 6), holding(0, 1, 6), holding(0, 1, 3)}}
	s := NewSuite(3)
	s.SetDisks(disks.read)
	for op := uint64(1); op <= 6; op++ {
		s.OnMessage(5*ms, prepareOK(1, op))
		s.OnEvent(5*ms, vsr.Event{Kind: vsr.EventVoteSelf, Replica: 0, View: 1, Op: op, Checksum: sum(fmt.Sprintf("p%d", op))})
	}
	commitRange(s, 10*ms, 0, 1, 1, 6)
	return s, disks
}

func TestAckedDurablePassesLegitimateDrops(t *testing.T) {
	s, disks := ackedCluster(t)
	// Replica 1 checkpoints at 4 and compacts ops 1..4 away.
	disks.images[1] = holding(4, 5, 6)
	s.OnEvent(20*ms, vsr.Event{Kind: vsr.EventCheckpoint, Replica: 1, View: 1, Op: 4})
	// Replica 0 acknowledges op 7 (never executed) and a view change truncates it.
	s.OnMessage(30*ms, prepareOK(0, 7))
	s.OnEvent(40*ms, vsr.Event{Kind: vsr.EventTruncate, Replica: 0, View: 2, Op: 6})
	// Replica 0's op 5 is damaged by the simulator: still there, not intact.
	disks.images[0].Entries[4].Intact = false
	s.OnEvent(50*ms, vsr.Event{Kind: vsr.EventTruncate, Replica: 0, View: 2, Op: 6})
	// Then it repairs op 5: the append-only log is rewritten from there.
	disks.images[0] = holding(0, 1, 4)
	s.OnEvent(60*ms, vsr.Event{Kind: vsr.EventTruncate, Replica: 0, View: 2, Op: 6})
	require.Nil(t, s.Finish())
	require.NotZero(t, s.Counters()["invariants.disk_checks"])
}

// TestAckedDurableFiresOnADroppedCommittedCopy: replica 1 acknowledged op 5, op 5 was
// executed while the copy was there, and then the copy is gone with no checkpoint covering
// it (a compaction that removed the wrong segment).
func TestAckedDurableFiresOnADroppedCommittedCopy(t *testing.T) {
	s, disks := ackedCluster(t)
	s.OnEvent(20*ms, vsr.Event{Kind: vsr.EventDiskFull, Replica: 1, View: 1, Op: 6})
	disks.images[1] = holding(0, 1, 4)
	s.OnEvent(30*ms, vsr.Event{Kind: vsr.EventDiskFull, Replica: 1, View: 1, Op: 6})
	v := s.Violation()
	requireViolation(t, v, NameAckedDurable, 1, 5, 1, 30*ms)
	require.Contains(t, v.Message, "a committed copy was dropped")
}

// TestAckedDurableFiresOnTheLastCopyLost: ops 5 and 6 keep a copy only on replica 0 (1 holds
// up to 4, 2 up to 3); then replica 0's copy of op 6 goes too.
func TestAckedDurableFiresOnTheLastCopyLost(t *testing.T) {
	s, disks := ackedCluster(t)
	disks.images[1] = holding(0, 1, 4)
	disks.images[0] = holding(0, 1, 5)
	s.OnEvent(20*ms, vsr.Event{Kind: vsr.EventTruncate, Replica: 2, View: 1, Op: 3})
	v := s.Violation()
	require.NotNil(t, v)
	// Replica 1's dropped copy of op 5 is reported first (replica order); with it excused
	// by a checkpoint of another replica's, the cluster-wide loss of op 6 remains.
	s, disks = ackedCluster(t)
	disks.images[1] = holding(0, 1, 4)
	disks.images[0] = holding(0, 1, 5)
	disks.images[0].FaultsInjected, disks.images[1].FaultsInjected = 1, 1 // excuses the per-replica drops
	s.OnEvent(20*ms, vsr.Event{Kind: vsr.EventTruncate, Replica: 2, View: 1, Op: 3})
	v = s.Violation()
	requireViolation(t, v, NameAckedDurable, -1, 6, 1, 20*ms)
	require.Contains(t, v.Message, "has no intact durable copy")
}

// TestAckedDurablePassesALossBeyondTheAtlas: op 6's copies are all damaged by the
// simulator on 2 replicas, more than f = 1: the loss is beyond the fault model.
func TestAckedDurablePassesALossBeyondTheAtlas(t *testing.T) {
	s, disks := ackedCluster(t)
	for i := 0; i < 2; i++ {
		disks.images[i].Entries[5].Intact = false
	}
	s.OnEvent(20*ms, vsr.Event{Kind: vsr.EventTruncate, Replica: 2, View: 1, Op: 3})
	require.Nil(t, s.Violation())
	// With only one of them damaged, the other's intact copy must be there.
	s, disks = ackedCluster(t)
	disks.images[0].Entries[5].Intact = false
	disks.images[1] = holding(0, 1, 5)
	disks.images[1].FaultsInjected = 1
	s.OnEvent(20*ms, vsr.Event{Kind: vsr.EventTruncate, Replica: 2, View: 1, Op: 3})
	requireViolation(t, s.Violation(), NameAckedDurable, -1, 6, 1, 20*ms)
}
