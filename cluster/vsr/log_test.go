package vsr

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// testPrepare returns a prepare of op (decoded, with its bytes) for the log tests.
func testPrepare(t *testing.T, op uint64, parent Header) Message {
	t.Helper()
	h := Header{Command: CommandPrepare, Cluster: 7, Op: op, Parent: parent.Checksum, View: 3}
	m, err := Decode(Encode(h, []byte("body")), 7)
	require.NoError(t, err)
	return m
}

// TestForgetKeepsWhatOurDiskHolds (swarm seed 20263522): a log install that cannot name an op
// forgets our header of it, but must keep what identifies the entry our disk holds, or no
// replica can offer it and the op, named by no do_view_change, blocks every view change.
// A faulty entry whose redundant record named it keeps that header (offered, never denied);
// a prepare in memory not durable now (rewritten after a cut of the engine's log) is kept
// unverified like a durable one: served by checksum, offered, never denied.
func TestForgetKeepsWhatOurDiskHolds(t *testing.T) {
	var r Replica
	below := testPrepare(t, 10, Header{})
	faulty := testPrepare(t, 11, below.Header)
	r.log.markFaultyKnown(faulty.Header)
	r.log.forgetUnverified(11)
	_, named := r.log.header(11)
	require.False(t, named, "the forgotten op is still in our log")
	held, ok := r.heldIdentity(11)
	require.True(t, ok, "the faulty entry's identity was dropped")
	require.Equal(t, faulty.Header.Checksum, held.Checksum)
	require.True(t, r.log.seen(11, faulty.Header.Checksum), "a faulty entry must never be denied")
	require.False(t, r.denies(11, faulty.Header.Checksum, 11))

	pending := testPrepare(t, 12, faulty.Header)
	r.log.setPrepare(pending) // in memory, not durable
	r.log.forgetUnverified(12)
	_, named = r.log.header(12)
	require.False(t, named, "the forgotten op is still in our log")
	kept, p, ok := r.log.unverified(12)
	require.True(t, ok, "the prepare in memory was dropped")
	require.Equal(t, pending.Header.Checksum, kept.Checksum)
	require.Equal(t, pending.Bytes, p)
	held, ok = r.heldIdentity(12)
	require.True(t, ok, "no offer for the prepare kept")
	require.Equal(t, pending.Header.Checksum, held.Checksum)
	require.False(t, r.denies(12, pending.Header.Checksum, 12), "a prepare we may have acknowledged was denied")

	r.log.forgetUnverified(12) // a second install forgets it again: still kept
	_, _, ok = r.log.unverified(12)
	require.True(t, ok, "a prepare kept unverified was dropped by a second install")

	r.log.setHeader(pending.Header) // the new log names it: ours again
	got, ok := r.log.prepare(12)
	require.True(t, ok)
	require.Equal(t, pending.Bytes, got)

	// An entry of unknown identity offers nothing.
	r.log.markFaulty(13)
	r.log.forgetUnverified(13)
	_, ok = r.heldIdentity(13)
	require.False(t, ok, "an entry of unknown identity was offered")
	require.True(t, r.log.isFaulty(13))
}

// TestDeniesInstalledHole (swarm seed 2026952061): an op that no do_view_change could name
// (zero checksum) is denied by a replica whose log reaches it only as a hole (a log install
// took the chosen head without a header): it holds no prepare of op, so it acknowledged none.
// A prepare held, kept unverified, or a damaged entry for op is never denied.
func TestDeniesInstalledHole(t *testing.T) {
	var r Replica
	var zero Header
	require.True(t, r.denies(44, zero.Checksum, 43), "an op above our log was not denied")
	require.True(t, r.denies(44, zero.Checksum, 44), "a hole our log reached by an install was not denied")

	below := testPrepare(t, 20, Header{})
	r.log.setPrepare(below)
	require.False(t, r.denies(20, zero.Checksum, 20), "a prepare we hold was denied")
	require.True(t, r.denies(20, zero.Checksum, 19), "an op above the log our do_view_change described was not denied")
	r.log.forgetUnverified(20)
	require.False(t, r.denies(20, zero.Checksum, 20), "a prepare kept unverified was denied")

	r.log.markFaulty(21)
	require.False(t, r.denies(21, zero.Checksum, 20), "a damaged entry of unknown identity was denied")
	head := testPrepare(t, 22, below.Header)
	r.log.markFaultyKnown(head.Header)
	require.False(t, r.denies(22, zero.Checksum, 22), "a damaged entry named by its record was denied")
}

// TestDeniesNothingJoinedEmpty: a replica added by a reconfiguration with an empty disk
// (formatted to join; no checkpoint, nothing executed) denies no op, whatever its log
// reaches: it was not a member when the op could have committed (swarm seed 2027056525).
// Once it holds state (a state sync's checkpoint, or an executed op) it denies as any
// member does, and an original member denies as before even when empty.
func TestDeniesNothingJoinedEmpty(t *testing.T) {
	var r Replica
	var zero Header
	r.epoch = 2
	require.True(t, r.denies(503, zero.Checksum, 0), "an original member, empty, denies as ever")
	r.joinedEmpty = true
	require.False(t, r.denies(503, zero.Checksum, 0), "a new member denied an op of before it joined")
	require.False(t, r.denies(503, testPrepare(t, 503, Header{}).Header.Checksum, 0))
	r.checkpointOp, r.commitMin = 512, 512
	require.True(t, r.denies(600, zero.Checksum, 512), "with state, an op above its log is denied")
}
