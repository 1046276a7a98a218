package invariants

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
)

// checkpointSnapshot lays out a snapshot as vsr's checkpoints are: a prepare header, the
// state machine's bytes after their u32 size, then the client table's.
func checkpointSnapshot(header byte, machine, clients string) []byte {
	b := make([]byte, vsr.HeaderSize)
	b[0] = header
	b = binary.LittleEndian.AppendUint32(b, uint32(len(machine)))
	return append(append(b, machine...), clients...)
}

func TestCheckpointAgreementPasses(t *testing.T) {
	var c checkpointAgreement
	snap := checkpointSnapshot(1, "kv state", "sessions")
	require.Nil(t, c.held(10*ms, 0, 64, snap))
	require.Nil(t, c.held(20*ms, 1, 64, checkpointSnapshot(1, "kv state", "sessions")))
	require.Nil(t, c.held(30*ms, 2, 128, checkpointSnapshot(2, "newer", "sessions")))
	require.Nil(t, c.held(40*ms, 0, 128, checkpointSnapshot(2, "newer", "sessions")))
	require.EqualValues(t, 2, c.checked)
	// A restore or failover rewinds: a new history may checkpoint other bytes above its point.
	c.first.truncate(64)
	require.Nil(t, c.held(50*ms, 0, 128, checkpointSnapshot(3, "rebuilt", "sessions")))
}

// The broken case: two replicas' checkpoints of one op that differ only in a session's reply
// (what a reply stamped with the executing replica's view and index makes), then only in the
// state machine, and a snapshot too short to split.
func TestCheckpointAgreementFires(t *testing.T) {
	var c checkpointAgreement
	require.Nil(t, c.held(10*ms, 0, 64, checkpointSnapshot(1, "kv state", "reply from r0 view 1")))
	v := c.held(2000*ms, 2, 64, checkpointSnapshot(1, "kv state", "reply from r2 view 2"))
	requireViolation(t, v, NameCheckpointAgreement, 2, 64, 0, 2000*ms)
	require.Contains(t, v.Message, "differs in its client table from replica 0's checkpoint")

	require.Nil(t, c.held(10*ms, 0, 128, checkpointSnapshot(1, "kv state", "sessions")))
	v = c.held(20*ms, 1, 128, checkpointSnapshot(1, "kv other", "sessions"))
	require.NotNil(t, v)
	require.Contains(t, v.Message, "differs in its state machine from")

	require.Nil(t, c.held(10*ms, 0, 192, []byte("short")))
	require.NotNil(t, c.held(20*ms, 1, 192, []byte("shorT")))
}

// Through the Suite: the first violation is kept and names the checker.
func TestCheckpointAgreementInSuite(t *testing.T) {
	s := NewSuite(3)
	s.OnCheckpointHeld(10*ms, 0, 64, checkpointSnapshot(1, "kv", "a"))
	s.OnCheckpointHeld(20*ms, 1, 64, checkpointSnapshot(1, "kv", "a"))
	require.Nil(t, s.Violation())
	s.OnCheckpointHeld(30*ms, 2, 64, checkpointSnapshot(1, "kv", "b"))
	require.NotNil(t, s.Violation())
	require.Equal(t, NameCheckpointAgreement, s.Violation().Checker)
}
