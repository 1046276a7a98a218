package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
)

// The zombie move's draw: off in about half the failover seeds; the whole region (every old
// active replica) or fewer than a majority of them, slot 0 among them in some runs and not in
// others.
func TestDrawZombies(t *testing.T) {
	on, slot0 := 0, 0
	for seed := uint64(0); seed < 400; seed++ {
		if p := drawZombies(seed, 1); !p.whole {
			require.Empty(t, p.nodes)
		}
		for count := 2; count <= 6; count++ {
			p := drawZombies(seed, count)
			if p.whole && len(p.nodes) > 0 {
				require.Len(t, p.nodes, count)
			} else {
				require.Less(t, len(p.nodes), count/2+1)
			}
			require.LessOrEqual(t, p.startAt, zombieStartTicksMax)
			seen := map[int]bool{}
			for _, i := range p.nodes {
				require.True(t, i >= 0 && i < count && !seen[i], "seed %d count %d: %v", seed, count, p.nodes)
				seen[i] = true
			}
			if count == 3 && len(p.nodes) > 0 && !p.whole {
				on++
				if p.keeps(0) {
					slot0++
				}
			}
		}
	}
	require.True(t, on > 50 && on < 150, "minority zombie runs: %d of 400", on)
	require.True(t, slot0 > 15 && slot0 < on-15, "slot 0 in %d of %d", slot0, on)
}

// The contract's check on a returning replica of the lost configuration: it may stay in its
// old configuration (even one of the same epoch number) or stop as removed on hearing the
// new one; joining the new configuration, voting or committing in it, or acting there as a
// member (as the promoted replica's twin at slot 0) fires.
func TestZombieWatch(t *testing.T) {
	const newOutside = 0xfffe // slot 0 alone
	states := map[int]*vsr.Inspection{}
	fresh := func() *zombieWatch {
		return newZombieWatch(3, 3, []int{0}, func(i int) *vsr.Inspection { return states[i] })
	}
	w := fresh()
	promoted := &vsr.Inspection{Replica: 0, Epoch: 3, Outside: newOutside, Status: vsr.StatusNormal}
	states[3] = promoted

	// Correct histories: in its old epoch, view changes and all; then stopped as removed.
	old := &vsr.Inspection{Replica: 0, Epoch: 2, Outside: 0, Status: vsr.StatusViewChange}
	states[0] = old
	require.Empty(t, w.checkState(0, old, promoted))
	require.Empty(t, w.checkEvent(vsr.Event{Kind: vsr.EventCommit, Replica: 0, Epoch: 2, Op: 9}))
	// Its own old change into epoch 3 (the promoted standby never heard of it): the same
	// epoch number, another configuration.
	same := &vsr.Inspection{Replica: 0, Epoch: 3, Outside: 0xffe0, Status: vsr.StatusViewChange}
	states[0] = same
	require.Empty(t, w.checkEvent(vsr.Event{Kind: vsr.EventStatus, Replica: 0, Epoch: 3, Text: "configuration epoch 3 (replicas 0 1 2; standbys 100 101): executed the change at op 9"}))
	require.Empty(t, w.checkEvent(vsr.Event{Kind: vsr.EventCommit, Replica: 0, Epoch: 3, Op: 9}))
	require.Empty(t, w.checkState(0, same, promoted))
	stopped := &vsr.Inspection{Replica: 0, Epoch: 3, Outside: newOutside, Status: vsr.StatusStopped, Removed: true}
	states[0] = stopped
	require.Empty(t, w.checkEvent(vsr.Event{Kind: vsr.EventStatus, Replica: 0, Epoch: 3,
		Text: "stopped: removed from the cluster: configuration epoch 3 (replicas 0) does not include this replica (heard epoch 3 from replica 0)"}))
	require.True(t, w.stopped[0])
	require.Empty(t, w.checkState(0, stopped, promoted))
	outside := &vsr.Inspection{Replica: 1, Epoch: 3, Outside: newOutside, Status: vsr.StatusViewChange}
	require.Empty(t, w.checkState(0, outside, promoted), "a slot outside the new configuration takes no part")
	// The promoted replica's own events are not the zombie's.
	require.Empty(t, w.checkEvent(vsr.Event{Kind: vsr.EventCommit, Replica: 3, Epoch: 3, Op: 10}))

	// Broken histories: the zombie of slot 0 joins the new configuration (the mutant
	// vsr.other_epoch_own_index_counts_as_member), and then votes and commits in it.
	w = fresh()
	states[0] = old
	require.Empty(t, w.checkState(0, old, promoted))
	twin := &vsr.Inspection{Replica: 0, Epoch: 3, Outside: newOutside, Status: vsr.StatusViewChange}
	states[0] = twin
	joined := w.checkEvent(vsr.Event{Kind: vsr.EventStatus, Replica: 0, Epoch: 3,
		Text: "configuration epoch 3 (replicas 0): heard epoch 3 from replica 0"})
	require.Contains(t, joined, "joined it")
	require.Contains(t, w.checkEvent(vsr.Event{Kind: vsr.EventVoteSelf, Replica: 0, Epoch: 3, Op: 11}), "vote for op 11")
	require.Contains(t, w.checkEvent(vsr.Event{Kind: vsr.EventCommit, Replica: 0, Epoch: 3, Op: 12}), "committed op 12")
	v := w.checkState(0, twin, promoted)
	require.Contains(t, v, "takes part in the new configuration")
	require.Contains(t, v, "two processes act as one replica")
	require.NotContains(t, w.checkState(0, twin, nil), "two processes")
	// A later epoch it did not restart in: it heard of one and joined.
	later := &vsr.Inspection{Replica: 0, Epoch: 4, Outside: 0, Status: vsr.StatusViewChange}
	require.Contains(t, w.checkState(0, later, promoted), "takes part in the new configuration")
}
