package invariants

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/checksum"
	"vopr/cluster/vsr"
)

// syncMessage is a sync chunk for the checkpoint of op, as a sender encodes it, carrying
// context (zero: the sender's log no longer held the checkpoint op's header).
func syncMessage(op uint64, context checksum.Sum) (vsr.Header, []byte) {
	h := vsr.Header{Command: vsr.CommandSync, Cluster: 9, Replica: 0, View: 2, Op: op, Context: context}
	msg := vsr.Encode(h, []byte("chunk"))
	m, err := vsr.Decode(msg, 9)
	if err != nil {
		panic(err)
	}
	return m.Header, msg
}

// TestCanonicalCommitSyncContextOnTheWire: with the syncs delivered passed to it, the
// checker holds a state sync's reported context to the contexts the syncs of its op carried
// on the wire (read by the checker off the header bytes). A replica that reports none where
// the sender sent the checkpoint's prepare checksum (a decoder that drops the field) is
// caught; one that reports none where its sender had none (its log lost the header), or the
// checksum it was sent, is not.
func TestCanonicalCommitSyncContextOnTheWire(t *testing.T) {
	s := NewSuite(3)
	s.WatchDeliveries()
	h, msg := syncMessage(64, sum("p64"))
	dropped := h
	dropped.Context = checksum.Sum{} // as a decoder that skips the field gives it to the replica
	s.OnSyncReceive(10*ms, 1, dropped, msg)
	s.OnEvent(11*ms, vsr.Event{Kind: vsr.EventStateSync, Replica: 1, View: 2, Op: 64})
	v := s.Violation()
	requireViolation(t, v, NameCanonicalCommit, 1, 64, 2, 11*ms)
	require.Contains(t, v.Message, "naming prepare 0000000000000000 as the sync's context")
	require.Contains(t, v.Message, "carried ["+short(sum("p64"))+"] on the wire")

	// The context it was sent, and none where none was sent.
	s = NewSuite(3)
	s.WatchDeliveries()
	s.OnSyncReceive(10*ms, 1, h, msg)
	s.OnEvent(11*ms, vsr.Event{Kind: vsr.EventStateSync, Replica: 1, View: 2, Op: 64, Checksum: sum("p64")})
	h0, msg0 := syncMessage(128, checksum.Sum{})
	s.OnSyncReceive(20*ms, 2, h0, msg0)
	s.OnEvent(21*ms, vsr.Event{Kind: vsr.EventStateSync, Replica: 2, View: 2, Op: 128})
	require.Nil(t, s.Violation())
	require.Equal(t, uint64(2), s.Counters()["invariants.sync_contexts_checked"])
	require.Equal(t, uint64(1), s.Counters()["invariants.sync_contexts_none"])

	// The sync of op 64 heard before replica 1 synced there is forgotten: it does not vouch
	// for another state sync to op 64 (after a restart), which needs a sync of its own.
	s.OnCrash(25*ms, 1)
	s.OnEvent(30*ms, vsr.Event{Kind: vsr.EventStateSync, Replica: 1, View: 2, Op: 64, Checksum: sum("p64")})
	v = s.Violation()
	requireViolation(t, v, NameCanonicalCommit, 1, 64, 2, 30*ms)
	require.Contains(t, v.Message, "carried [] on the wire")

	// Without deliveries passed (a harness that does not watch them), nothing is required.
	s = NewSuite(3)
	s.OnEvent(11*ms, vsr.Event{Kind: vsr.EventStateSync, Replica: 1, View: 2, Op: 64})
	require.Nil(t, s.Violation())
}

// TestCanonicalCommitSyncHeardBounded: the contexts kept per replica are bounded, the lowest
// op going first, and a context heard twice is kept once.
func TestCanonicalCommitSyncHeardBounded(t *testing.T) {
	var c canonicalCommit
	for op := uint64(1); op <= syncHeardMax+5; op++ {
		_, msg := syncMessage(op*64, sum("p"))
		c.heardSync(0, op*64, msg)
		c.heardSync(0, op*64, msg)
	}
	require.Len(t, c.heard[0], syncHeardMax)
	for _, h := range c.heard[0] {
		require.Greater(t, h.op, uint64(5*64))
	}
}
