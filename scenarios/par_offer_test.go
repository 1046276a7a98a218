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
