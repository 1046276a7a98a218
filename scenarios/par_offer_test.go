package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
	"vopr/sim"
)

// dropWhere makes the network drop every delivered message that drop matches (drop may be
// changed or set to nil later).
func (tc *testCluster) dropWhere(drop *func(from, to int, h vsr.Header) bool) {
	tc.Network.SetDeliver(func(from, to int, msg []byte) {
		if *drop != nil && len(msg) >= vsr.HeaderSize {
			if h, err := vsr.DecodeHeader(msg[:vsr.HeaderSize], 7); err == nil && (*drop)(from, to, h) {
				return
			}
		}
		tc.Nodes[to].Deliver(from, msg)
	})
}

// TestPAROfferResolvesOpNoLogViewCanName (swarm seed 20262737). Three replicas hold an
// uncommitted head op H (its prepare_oks lost) in log view 0. R1 starts view 1 with R2's vote,
// but R2 never hears its start_view: R1 alone has log view 1. Then R1's entry of H loses its
// identity (entry and record damaged). R1's log wins every view change and has no header for
// H; R0 and R2 hold H intact from log view 0 and cannot tell whether it is log view 1's, so
// before the fix nobody served H and nobody denied it, and every view change timed out once a
// view change had made R2 adopt R1's log. Now R0 and R2 offer H's header: no other prepare of
// H can have committed (a commit quorum would include one of them), so the new primary adopts
// it and the cluster converges. With R0 down, R2's offer alone proves nothing, and the view
// change must wait.
func TestPAROfferResolvesOpNoLogViewCanName(t *testing.T) {
	tc := newStorageTestCluster(t, 61, nil)
	var drop func(from, to int, h vsr.Header) bool
	tc.dropWhere(&drop)
	tc.commitN(5, ticks)
	tc.settle()
	head := tc.inspect(0).Op + 1

	drop = func(_, _ int, h vsr.Header) bool { return h.Command == vsr.CommandPrepareOK }
	tc.load = true // one more request: prepared everywhere, never committed
	for i := 0; i < 3; i++ {
		tc.runUntilOp(i, head)
	}
	tc.load = false
	tc.RunFor(100 * sim.Millisecond) // durable everywhere

	drop = func(_, to int, h vsr.Header) bool {
		return h.Command == vsr.CommandPrepareOK || (h.Command == vsr.CommandStartView && to == 2)
	}
	tc.Network.Isolate(0)
	started := tc.RunUntil(func() bool {
		in := tc.inspect(1)
		return in.Status == vsr.StatusNormal && in.View == 1
	}, ticks)
	require.True(t, started, "R1 did not start view 1: %s", tc.describe())
	tc.Network.Isolate(2)
	tc.RunFor(500 * sim.Millisecond) // R1's log view becomes durable
	for i := 0; i < 3; i++ {
		tc.CrashReplica(i)
	}
	require.Equal(t, uint32(1), tc.recoverDisk(1).State.LogView, "R1's log view")
	require.Equal(t, uint32(0), tc.recoverDisk(2).State.LogView, "R2's log view")
	require.Contains(t, entryOpsOf(tc.recoverDisk(0)), head, "R0 holds the head")
	require.Contains(t, entryOpsOf(tc.recoverDisk(2)), head, "R2 holds the head")
	tc.loseIdentity(1, head)
	rec := tc.recoverDisk(1)
	require.Contains(t, rec.Faulty, head)
	require.NotContains(t, rec.FaultyPrefix, head, "the record survived")

	drop = nil
	tc.Network.Heal()
	tc.StartReplica(1)
	tc.StartReplica(2)
	tc.RunFor(3 * sim.Second) // R2 adopts R1's log, which cannot name the head
	// One offer is not a proof: with R0 down, R1's log view 1 may have committed another
	// prepare of the head with R0 for all R1 and R2 can tell.
	for _, i := range []int{1, 2} {
		require.Equal(t, vsr.StatusViewChange, tc.inspect(i).Status, "R%d left the view change on one offer: %s", i, tc.describe())
	}
	tc.StartReplica(0)
	tc.converge(ticks)
	tc.commitN(2, ticks)
	tc.converge(ticks)
	tc.requireNoFailures()
}

// TestPAROfferNamesCommittedHeadNoLogViewCanName (swarm seed 1432). Three replicas hold a head
// op H that replicas 0 and 1 committed in view 0; replica 2 holds it too, but never learns
// that it committed. Replicas 0 and 1 move to log view 1 without 2; then replica 1's entry of
// H loses its identity (entry and record damaged) and all three restart, replica 0 down. The
// do_view_changes of 1 and 2 make 1's log the new one, with commit number H and no header for
// H; 2's header of H comes from an older log view and a sender that does not know H committed,
// so the merge cannot take it. Before the fix the new primary started the view at once (H is
// not above the commit number, so no offers were asked for) and nobody could ever execute H:
// no replica could name it, so none could ask for it by checksum. Now the primary asks for
// offers for a committed op it cannot name, as for an uncommitted one: 2's offer alone proves
// nothing (the view waits), and with 0's offer too the primary adopts H and the cluster
// converges.
func TestPAROfferNamesCommittedHeadNoLogViewCanName(t *testing.T) {
	tc := newStorageTestCluster(t, 67, nil)
	var drop func(from, to int, h vsr.Header) bool
	tc.dropWhere(&drop)
	tc.commitN(5, ticks)
	tc.settle()
	head := tc.inspect(0).Op + 1

	// Replica 2 gets H's prepare and nothing that tells it H committed.
	drop = func(_, to int, h vsr.Header) bool { return to == 2 && h.Command != vsr.CommandPrepare }
	tc.load = true
	tc.runUntilOp(0, head)
	tc.load = false
	tc.RunFor(100 * sim.Millisecond)
	head = tc.inspect(0).Op // the requests in flight went on
	for i := 0; i < 3; i++ {
		tc.runUntilOp(i, head)
	}
	committed := tc.RunUntil(func() bool { return tc.inspect(0).CommitMin >= head && tc.inspect(1).CommitMax >= head }, ticks)
	require.True(t, committed, "H did not commit on 0 and 1: %s", tc.describe())
	tc.RunFor(100 * sim.Millisecond) // durable everywhere
	require.Less(t, tc.inspect(2).CommitMax, head, "replica 2 learned that H committed")
	want := tc.committedHeaders(0, 1, head)

	drop = nil
	tc.viewWithout2(ticks)
	for i := 0; i < 3; i++ {
		tc.CrashReplica(i)
	}
	tc.loseIdentity(1, head)
	rec := tc.recoverDisk(1)
	require.Contains(t, rec.Faulty, head)
	require.GreaterOrEqual(t, rec.State.Commit, head, "replica 1's commit number")
	require.Positive(t, rec.State.LogView, "replica 1's log view")
	rec2 := tc.recoverDisk(2)
	require.Equal(t, uint32(0), rec2.State.LogView, "replica 2's log view")
	require.Less(t, rec2.State.Commit, head, "replica 2's commit number")
	require.Contains(t, entryOpsOf(rec2), head, "replica 2 holds H")

	tc.Network.Heal()
	tc.isolateAll(0)
	tc.StartReplica(1)
	tc.StartReplica(2)
	tc.RunFor(3 * sim.Second)
	// One offer is not a proof: with 0 down, 1 and 2 cannot tell which prepare of H log view
	// 1 committed. The view waits rather than start with an op nobody can name.
	for _, i := range []int{1, 2} {
		require.Equal(t, vsr.StatusViewChange, tc.inspect(i).Status, "R%d started a view with committed op %d unnamed: %s", i, head, tc.describe())
	}
	tc.Network.Heal()
	tc.StartReplica(0)
	tc.converge(ticks)
	tc.commitN(2, ticks)
	tc.converge(ticks)
	tc.requireNeverReplaced(want, head)
	tc.requireNoFailures()
}
