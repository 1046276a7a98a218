package invariants

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
)

// namedLog is a log of ops from..to with prepares named by the given prefix ("p" is the
// canonical one commitRange executes).
func namedLog(prefix string, from, to uint64) []PrepareRef {
	var log []PrepareRef
	for op := from; op <= to; op++ {
		log = append(log, PrepareRef{Op: op, View: 1, Checksum: sum(fmt.Sprintf("%s%d", prefix, op))})
	}
	return log
}

// Ops 1..4 are canonical ("p<op>"). A log matching them passes, whatever it holds above its
// commit number or at ops nobody executed yet.
func TestCommittedPrefixPassesMatchingAndUncommittedHeaders(t *testing.T) {
	s := NewSuite(3)
	commitRange(s, 5*ms, 0, 1, 1, 4)
	s.OnViewLog(10*ms, 1, vsr.CommandDoViewChange, 2, 4, namedLog("p", 1, 4))
	s.OnViewLog(11*ms, 1, vsr.CommandDoViewChange, 2, 2, append(namedLog("p", 1, 2), namedLog("stale", 3, 6)...))
	s.OnViewLog(12*ms, 2, vsr.CommandStartView, 2, 6, append(namedLog("p", 1, 4), namedLog("new", 5, 6)...))
	require.Nil(t, s.Violation())
}

// A do_view_change whose commit number covers op 3 but whose header at op 3 is another
// prepare is reported, as is a start_view's.
func TestCommittedPrefixFiresOnAStaleCommittedHeader(t *testing.T) {
	s := NewSuite(3)
	commitRange(s, 5*ms, 0, 1, 1, 4)
	s.OnViewLog(10*ms, 1, vsr.CommandDoViewChange, 2, 3, append(namedLog("p", 1, 2), namedLog("stale", 3, 4)...))
	v := s.Violation()
	requireViolation(t, v, NameCommittedPrefix, 1, 3, 2, 10*ms)
	require.Contains(t, v.Message, "at or below its commit number 3")

	s = NewSuite(3)
	commitRange(s, 5*ms, 0, 1, 1, 4)
	s.OnViewLog(10*ms, 2, vsr.CommandStartView, 5, 4, append(namedLog("p", 1, 3), namedLog("stale", 4, 4)...))
	requireViolation(t, s.Violation(), NameCommittedPrefix, 2, 4, 5, 10*ms)
}

// A replica's own log is held to the same rule: after a state sync to op 4, a log that still
// holds a stale op 3 is reported; one that holds it above its commit number is not.
func TestCommittedPrefixFiresOnAStaleHeldHeader(t *testing.T) {
	s := NewSuite(3)
	commitRange(s, 5*ms, 0, 1, 1, 4)
	log := append(namedLog("p", 1, 2), namedLog("stale", 3, 3)...)
	s.OnLogHeld(10*ms, 2, 3, 2, log)
	require.Nil(t, s.Violation())
	s.OnLogHeld(11*ms, 2, 3, 4, log)
	v := s.Violation()
	requireViolation(t, v, NameCommittedPrefix, 2, 3, 3, 11*ms)
	require.Contains(t, v.Message, "its log holds prepare")
}

// diskOf is a disk image holding the named prepares at ops from..to (all intact), with the
// durable checkpoint and commit number given.
func diskOf(checkpoint, commit uint64, logs ...[]PrepareRef) DiskImage {
	img := DiskImage{Valid: true, View: 2, CheckpointOp: checkpoint, Commit: commit}
	for _, log := range logs {
		for _, p := range log {
			img.Entries = append(img.Entries, DurableEntry{Op: p.Op, Prepare: p.Checksum, View: p.View, Intact: true})
		}
	}
	return img
}

// The disk is held to the rule too: an intact stale entry at op 3 under a durable commit
// number of 3 is reported; under 2, or damaged, or disowned, or below the checkpoint, it is
// not (a restart does not replay it as committed).
func TestCommittedPrefixFiresOnAStaleEntryUnderTheDurableCommit(t *testing.T) {
	s := NewSuite(3)
	commitRange(s, 5*ms, 0, 1, 1, 4)
	stale := func(checkpoint, commit uint64) DiskImage {
		return diskOf(checkpoint, commit, namedLog("p", 1, 2), namedLog("stale", 3, 3), namedLog("p", 4, 4))
	}
	for _, img := range []DiskImage{stale(0, 2), stale(3, 4)} {
		require.Nil(t, s.canonical.diskPrefix(10*ms, 1, &img))
	}
	img := stale(0, 3)
	img.Entries[2].Intact = false
	require.Nil(t, s.canonical.diskPrefix(10*ms, 1, &img))
	img.Entries[2].Disowned = true
	require.Nil(t, s.canonical.diskPrefix(10*ms, 1, &img))
	img = stale(0, 3)
	v := s.canonical.diskPrefix(11*ms, 1, &img)
	requireViolation(t, v, NameCommittedPrefix, 1, 3, 2, 11*ms)
	require.Contains(t, v.Message, "its disk holds prepare")
	require.Contains(t, v.Message, "at or below its durable commit number 3 (checkpoint 0)")
}
