package invariants

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
)

// execute feeds commits of ops from..to ("p<op>" prepares) to c and requires no violation.
func execute(t *testing.T, c *canonicalCommit, atNs int64, replica int, view uint32, from, to uint64) {
	t.Helper()
	for op := from; op <= to; op++ {
		require.Nil(t, c.event(atNs, commitEvent(replica, view, op, fmt.Sprintf("p%d", op))))
	}
}

func inspectAt(replica int, view uint32, commitMin uint64) vsr.Inspection {
	in := normal(replica, vsr.RoleBackup, view, commitMin+2, commitMin)
	in.CommitMax = commitMin + 1
	return in
}

func TestCanonicalCommitPassesCrashRestartAndSync(t *testing.T) {
	var c canonicalCommit
	execute(t, &c, 10*ms, 0, 1, 1, 5)
	execute(t, &c, 20*ms, 1, 1, 1, 5)
	require.Nil(t, c.inspect(21*ms, 1, ref(inspectAt(1, 1, 5))))
	// Replica 1 crashes, recovers at its checkpoint (op 3) and re-executes the same prepares.
	c.crash(1)
	require.Nil(t, c.inspect(30*ms, 1, &vsr.Inspection{Status: vsr.StatusRecovering}))
	require.Nil(t, c.inspect(31*ms, 1, ref(inspectAt(1, 2, 3))))
	execute(t, &c, 40*ms, 1, 2, 4, 7)
	execute(t, &c, 41*ms, 0, 2, 6, 7)
	// Replica 2 executes two ops, then state-syncs to op 6 and goes on from there.
	execute(t, &c, 50*ms, 2, 2, 1, 2)
	sync := vsr.Event{Kind: vsr.EventStateSync, Replica: 2, View: 2, Op: 6, Checksum: sum("p6")}
	require.Nil(t, c.event(51*ms, sync))
	require.Nil(t, c.inspect(52*ms, 2, ref(inspectAt(2, 2, 6))))
	execute(t, &c, 53*ms, 2, 2, 7, 7)
	// A crash before any commit since the last restart, and an anonymous sync checksum.
	c.crash(2)
	require.Nil(t, c.event(60*ms, vsr.Event{Kind: vsr.EventStateSync, Replica: 2, View: 3, Op: 7}))
	execute(t, &c, 61*ms, 2, 3, 8, 8)
}

func TestCanonicalCommitFiresOnDifferentPrepares(t *testing.T) {
	var c canonicalCommit
	execute(t, &c, 10*ms, 0, 1, 1, 3)
	execute(t, &c, 20*ms, 1, 2, 1, 2)
	v := c.event(2500*ms, commitEvent(1, 2, 3, "p3-other"))
	requireViolation(t, v, NameCanonicalCommit, 1, 3, 2, 2500*ms)
	require.Contains(t, v.Message, "but replica 0 executed prepare")
	require.Contains(t, v.Message, "(view 1, at 10.000ms)")
}

func TestCanonicalCommitFiresOnDifferentReexecutionAfterRestart(t *testing.T) {
	var c canonicalCommit
	execute(t, &c, 10*ms, 0, 1, 1, 4)
	c.crash(0)
	require.Nil(t, c.inspect(20*ms, 0, ref(inspectAt(0, 1, 2))))
	v := c.event(30*ms, commitEvent(0, 2, 3, "p3-lost"))
	requireViolation(t, v, NameCanonicalCommit, 0, 3, 2, 30*ms)
}

func TestCanonicalCommitFiresOnGapsAndReordering(t *testing.T) {
	t.Run("skipped", func(t *testing.T) {
		var c canonicalCommit
		execute(t, &c, 10*ms, 2, 1, 1, 2)
		v := c.event(30*ms, commitEvent(2, 1, 5, "p5"))
		requireViolation(t, v, NameCanonicalCommit, 2, 5, 1, 30*ms)
		require.Contains(t, v.Message, "ops 3..4 were skipped")
	})
	t.Run("back_without_restart", func(t *testing.T) {
		var c canonicalCommit
		execute(t, &c, 10*ms, 2, 1, 1, 3)
		v := c.event(30*ms, commitEvent(2, 1, 2, "p2"))
		requireViolation(t, v, NameCanonicalCommit, 2, 2, 1, 30*ms)
		require.Contains(t, v.Message, "execution went back")
	})
	t.Run("restart_past_everything_executed", func(t *testing.T) {
		var c canonicalCommit
		execute(t, &c, 10*ms, 1, 1, 1, 3)
		c.crash(1)
		v := c.event(30*ms, commitEvent(1, 2, 6, "p6"))
		requireViolation(t, v, NameCanonicalCommit, 1, 6, 2, 30*ms)
	})
	t.Run("sync_backwards", func(t *testing.T) {
		var c canonicalCommit
		execute(t, &c, 10*ms, 1, 1, 1, 3)
		v := c.event(30*ms, vsr.Event{Kind: vsr.EventStateSync, Replica: 1, View: 1, Op: 2, Checksum: sum("p2")})
		requireViolation(t, v, NameCanonicalCommit, 1, 2, 1, 30*ms)
	})
	t.Run("sync_to_another_prepare", func(t *testing.T) {
		var c canonicalCommit
		execute(t, &c, 10*ms, 0, 1, 1, 6)
		v := c.event(30*ms, vsr.Event{Kind: vsr.EventStateSync, Replica: 1, View: 3, Op: 6, Checksum: sum("p6-other")})
		requireViolation(t, v, NameCanonicalCommit, 1, 6, 3, 30*ms)
	})
}

func TestCanonicalCommitFiresOnInspections(t *testing.T) {
	t.Run("commit_min_disagrees_with_execution", func(t *testing.T) {
		var c canonicalCommit
		execute(t, &c, 10*ms, 0, 1, 1, 4)
		v := c.inspect(20*ms, 0, ref(inspectAt(0, 1, 2)))
		requireViolation(t, v, NameCanonicalCommit, 0, 2, 1, 20*ms)
		require.Contains(t, v.Message, "commit_min is 2, but the last op it executed is 4")
	})
	t.Run("recovered_past_execution", func(t *testing.T) {
		var c canonicalCommit
		execute(t, &c, 10*ms, 0, 1, 1, 4)
		execute(t, &c, 10*ms, 1, 1, 1, 8)
		c.crash(0)
		v := c.inspect(20*ms, 0, ref(inspectAt(0, 2, 9)))
		requireViolation(t, v, NameCanonicalCommit, 0, 9, 2, 20*ms)
		require.Contains(t, v.Message, "resumed at commit_min 9, past op 4, the highest it ever executed, and no replica executed op 9")
	})
}

// A state sync that became durable as the replica crashed (before it could report it)
// resumes it at a peer's checkpoint: an op another replica executed. Execution goes on from
// there, and is checked from there.
func TestCanonicalCommitAcceptsAnUnreportedStateSync(t *testing.T) {
	var c canonicalCommit
	execute(t, &c, 10*ms, 1, 1, 1, 8)
	execute(t, &c, 10*ms, 0, 1, 1, 4)
	c.crash(0)
	require.Nil(t, c.inspect(20*ms, 0, ref(inspectAt(0, 2, 8))))
	require.Nil(t, c.event(30*ms, vsr.Event{Kind: vsr.EventCommit, Replica: 0, View: 2, Op: 9, Checksum: sum("p9")}))
	v := c.event(40*ms, vsr.Event{Kind: vsr.EventCommit, Replica: 0, View: 2, Op: 11, Checksum: sum("p11")})
	requireViolation(t, v, NameCanonicalCommit, 0, 11, 2, 40*ms)
	require.Contains(t, v.Message, "ops 10..10 were skipped")
}

// TestCanonicalCommitFiresOnBytesThatDifferUnderOneChecksum: two replicas execute prepares
// with the same header checksum but different bytes (a body the replica never checked).
func TestCanonicalCommitFiresOnBytesThatDifferUnderOneChecksum(t *testing.T) {
	s := NewSuite(3)
	commitRange(s, 10*ms, 0, 1, 1, 3)
	forged := commitEvent(1, 1, 2, "p2")
	commitRange(s, 20*ms, 1, 1, 1, 1)
	forged.Prepare = []byte("p2 with another body")
	s.OnEvent(21*ms, forged)
	v := s.Violation()
	requireViolation(t, v, NameCanonicalCommit, 1, 2, 1, 21*ms)
	require.Contains(t, v.Message, "the header's checksum claims bytes that differ")
}

// TestCanonicalCommitFiresOnBytesTheirPrimaryDidNotCreate: the first replica to execute op
// 2 runs bytes other than those its primary created under that checksum.
func TestCanonicalCommitFiresOnBytesTheirPrimaryDidNotCreate(t *testing.T) {
	s := NewSuite(3)
	for op, name := range []string{"", "p1", "p2"} {
		if op > 0 {
			s.OnPrepare(5*ms, Prepared{Replica: 0, View: 1, Op: uint64(op), Checksum: sum(name), Bytes: []byte(name),
				Timestamp: trueEpoch + int64(op), ClockNs: trueEpoch, TrueNs: trueEpoch})
		}
	}
	commitRange(s, 10*ms, 1, 1, 1, 1)
	executed := commitEvent(1, 1, 2, "p2")
	executed.Prepare = []byte("p2, a bit flipped")
	s.OnEvent(11*ms, executed)
	v := s.Violation()
	requireViolation(t, v, NameCanonicalCommit, 1, 2, 1, 11*ms)
	require.Contains(t, v.Message, "not those its primary 0 created in view 1")
}

// TestCanonicalCommitFiresOnBytesChangedInTheExecutorsBuffer: the digest memo keeps its own
// copy of the bytes it hashed. Replica 0 executes op 2 from a buffer that is then changed in
// place (as a replica reusing it would), and replica 1 executes the changed bytes under the
// same checksum: a memo that kept the buffer itself would find them equal and stay silent.
func TestCanonicalCommitFiresOnBytesChangedInTheExecutorsBuffer(t *testing.T) {
	s := NewSuite(3)
	commitRange(s, 10*ms, 0, 1, 1, 1)
	buf := []byte("p2")
	executed := commitEvent(0, 1, 2, "p2")
	executed.Prepare = buf
	s.OnEvent(11*ms, executed)
	require.Nil(t, s.Violation())
	buf[1] = '3' // the same length, the same checksum claim, other bytes
	commitRange(s, 20*ms, 1, 1, 1, 1)
	again := commitEvent(1, 1, 2, "p2")
	again.Prepare = buf
	s.OnEvent(21*ms, again)
	v := s.Violation()
	requireViolation(t, v, NameCanonicalCommit, 1, 2, 1, 21*ms)
	require.Contains(t, v.Message, "the header's checksum claims bytes that differ")
}

// TestDigestMemoIsDigestOf: the memo returns exactly digestOf, hits and misses alike (the
// same-size case in audit_chain_test.go), and a nil memo too.
func TestDigestMemoIsDigestOf(t *testing.T) {
	var m digestMemo
	for i, b := range [][]byte{[]byte("a"), []byte("a"), []byte("b"), nil} {
		require.Equal(t, digestOf(b), m.of(1, b), "case %d", i)
	}
	var none *digestMemo
	require.Equal(t, digestOf([]byte("x")), none.of(1, []byte("x")))
}
