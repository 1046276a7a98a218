package vsr

// The class of TestHeadOfLostIdentityRepairsByTheCommitChecksum (head_repair_commit_checksum_test.go)
// with the primary's commit above the backup's head (helpers in stale_view_messages_test.go and
// failover_epoch_of_a_kept_change_test.go).

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCommitAboveLostHeadRepairsByChecksum: backup 2 of view 1 (primary 1) comes back from a
// restart with its head op 8 damaged past its redundant record (of unknown checksum) while
// the primary committed past it, to op 8+above; the backup is cut one way from the primary
// (it hears its heartbeats, the primary does not hear it). Ops above the head were asked of
// the primary alone, by op, and nothing the backup held named op 8: it stalled for good
// though replica 0 held every op (swarm seed 2027006076, the lost_head round with its timing
// shifted: R0 at head 239 under commit 240). The heartbeat names the committed op's
// checksum: the backup fetches it by checksum from replica 0, then each op below by the
// parent link of the op above, down to its head, and executes up to the commit.
func TestCommitAboveLostHeadRepairsByChecksum(t *testing.T) {
	for _, above := range []uint64{1, 3} {
		t.Run(fmt.Sprintf("above=%d", above), func(t *testing.T) {
			const head = 8
			top := head + above
			chain := failoverChain(t, top, 0, 0) // view 1, led by replica 1
			r, bus, _ := reviewReplica(t, 2, 1, 1, chain, head)
			r.log.markFaulty(head)
			r.commitMin, r.commitMax = head-1, head-1

			c := Header{Command: CommandCommit, Cluster: reviewCluster, View: 1, Replica: 1, Commit: top,
				Parent: chain[top].Header.Checksum, Release: chain[top].Header.Release}
			heartbeat, err := Decode(Encode(c, nil), reviewCluster)
			require.NoError(t, err)
			require.Empty(t, deliver(r, heartbeat))

			// A prepare at the committed op that the heartbeat did not name (of an older view,
			// other bytes) is not taken.
			h := chain[top].Header
			h.View, h.Timestamp = 0, 99
			stale, err := Decode(Encode(h, chain[top].Body), reviewCluster)
			require.NoError(t, err)
			require.Empty(t, deliver(r, stale))
			require.Equal(t, uint64(head), r.op, "a prepare above the head that the heartbeat did not name was taken")

			// Repair rounds: the primary hears nothing; replica 0 serves what is asked of it by
			// checksum, as onRequestPrepare does.
			for round := 0; round < 30 && r.commitMin < top; round++ {
				bus.sent = nil
				r.onRepairTimeout()
				var replies []Message
				for _, s := range bus.sent {
					if s.to == 1 || s.m.Header.Command != CommandRequestPrepare || s.m.Header.Parent.IsZero() {
						continue
					}
					op := s.m.Header.Op
					require.LessOrEqual(t, op, top)
					require.Equal(t, chain[op].Header.Checksum, s.m.Header.Parent, "op %d asked for by another checksum", op)
					replies = append(replies, chain[op])
				}
				for _, m := range replies {
					require.Empty(t, deliver(r, m))
				}
				if round%3 == 2 {
					require.Empty(t, deliver(r, heartbeat)) // the primary keeps heartbeating
				}
			}
			require.Equal(t, top, r.op)
			require.Equal(t, top, r.commitMin, "the backup did not repair up to the commit from a peer other than the primary")
		})
	}
}
