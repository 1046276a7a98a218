package vsr

// A regression test from make soak (the h97 helper; helpers in stale_view_messages_test.go
// and failover_epoch_of_a_kept_change_test.go): a backup whose head op lost its identity,
// cut one way from the primary.

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestHeadOfLostIdentityRepairsByTheCommitChecksum: backup 2 of view 1 (primary 1) comes
// back from a restart with its head op 8 damaged past its redundant record (faulty, of
// unknown checksum) and no op above naming it; it executed up to 7, and the primary's
// heartbeats announce commit 8. An op of unknown checksum is asked of the primary alone,
// and a backup cut one way from it (it hears the primary, the primary does not hear it)
// asked it forever on an idle cluster, though replica 0 held op 8 intact (swarm seed
// 3567225002287448461 under make soak, R2 at commit 225 of 226). The heartbeat names the
// committed op's checksum: the backup asks any peer for that prepare by it, takes it from
// whichever peer answers, and executes it. A prepare of another checksum is still refused.
func TestHeadOfLostIdentityRepairsByTheCommitChecksum(t *testing.T) {
	const head = 8
	chain := failoverChain(t, head, 0, 0) // view 1, led by replica 1
	r, bus, _ := reviewReplica(t, 2, 1, 1, chain, head)
	r.log.markFaulty(head) // the entry and its record lost: the op's identity is unknown
	r.commitMin, r.commitMax = head-1, head-1
	_, known := r.log.checksumOf(head)
	require.False(t, known)

	c := Header{Command: CommandCommit, Cluster: reviewCluster, View: 1, Replica: 1, Commit: head,
		Parent: chain[head].Header.Checksum, Release: chain[head].Header.Release}
	heartbeat, err := Decode(Encode(c, nil), reviewCluster)
	require.NoError(t, err)
	require.Empty(t, deliver(r, heartbeat))
	require.Equal(t, uint64(head), r.commitMax)
	require.Equal(t, uint64(head-1), r.commitMin, "op 8's prepare is missing")

	// Repair rounds: op 8 is asked for by its checksum, so that any peer may serve it.
	byChecksum := 0
	for range 20 {
		bus.sent = nil
		r.onRepairTimeout()
		for _, s := range bus.sent {
			if s.m.Header.Command == CommandRequestPrepare && s.m.Header.Op == head {
				if s.m.Header.Parent == chain[head].Header.Checksum {
					byChecksum++
				} else {
					require.True(t, s.m.Header.Parent.IsZero(), "op 8 asked for by another checksum")
				}
			}
		}
	}
	require.Positive(t, byChecksum, "op 8 was asked of the primary alone, by op, in 20 repair rounds")

	// Another prepare of op 8 (other bytes) is refused; the committed one, from a backup, is
	// taken and executed.
	h := chain[head].Header
	h.Timestamp = 99
	stale, err := Decode(Encode(h, chain[head].Body), reviewCluster)
	require.NoError(t, err)
	require.Empty(t, deliver(r, stale))
	require.Equal(t, uint64(head-1), r.commitMin, "a prepare of op 8 that the heartbeat did not name was taken")
	require.Empty(t, deliver(r, chain[head]))
	require.Equal(t, uint64(head), r.commitMin, "the committed prepare of op 8, served by a peer, was not executed")
}
