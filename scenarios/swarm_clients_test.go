package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/client"
	"vopr/cluster/vsr"
	"vopr/sim"
)

// TestClientLivenessFires: a request sent after the heal that its client gives up on while
// a request sent later was answered is a starved client; one sent before the heal may end
// indeterminate (the faults were on), so may one while nobody is served (the healed cluster
// still recovering). An eviction is definite but is not service: a client evicted after the
// heal still waits for a reply, and one never served is named with its evictions.
func TestClientLivenessFires(t *testing.T) {
	l := newClientLiveness(3)
	l.sent(0, 5)
	l.heal(10)
	l.done(0, "put k0", client.Result{Outcome: client.Indeterminate}, 20)
	require.Empty(t, l.starved, "a request sent before the heal may go unanswered")
	require.False(t, l.allAnswered())

	l.sent(2, 25)
	l.done(2, "cas k2", client.Result{Outcome: client.Indeterminate}, 26)
	require.Empty(t, l.starved, "nobody served since it was sent: the cluster is recovering")

	l.sent(0, 30)
	l.done(0, "put k0", client.Result{Outcome: client.OK}, 31)
	l.sent(1, 30)
	l.done(1, "get k1", client.Result{Outcome: client.Evicted}, 31)
	require.False(t, l.allAnswered(), "client 2 was evicted, not served; client 3 not answered yet")
	require.Equal(t, "clients never served after the heal: c2 (1 evictions) c3 (0 evictions, 1 given up) (heal at 10ns; 1 requests answered since, the last at 31ns)", l.unserved())
	l.sent(2, 32)
	require.Contains(t, l.unserved(), "c3 (0 evictions, 1 given up, one in flight since 32ns)")
	l.sent(2, 29)
	l.done(2, "cas k2", client.Result{Outcome: client.Indeterminate}, 100)
	require.Contains(t, l.starved, "client c3 gave up")
	require.Contains(t, l.starved, "cas k2")
	require.Contains(t, l.starved, "a request sent at 30ns was answered")

	l.sent(1, 40)
	l.done(1, "get k1", client.Result{Outcome: client.OK}, 41)
	l.sent(2, 40)
	l.done(2, "cas k2", client.Result{Outcome: client.OK}, 41)
	require.True(t, l.allAnswered())
	require.Empty(t, l.unserved())

	stuck := newClientLiveness(1)
	stuck.heal(10)
	stuck.sent(0, 11)
	require.Equal(t, "clients never served after the heal: c1 (0 evictions, one in flight since 11ns) (heal at 10ns; no request answered since)",
		stuck.unserved(), "a stuck cluster reads as one")
}

// TestUpgradeBinariesFires: an upgrade to a release that some replica's node does not run
// is reported; one that every node runs is not.
func TestUpgradeBinariesFires(t *testing.T) {
	c := sim.NewCluster(sim.ClusterOptions{Replicas: 3, Clients: 1, ClusterID: 1,
		World: sim.WorldOptions{Seed: 1, Disk: sim.DiskOptions{Capacity: 1 << 30}}})
	up := vsr.Event{Kind: vsr.EventUpgrade, Replica: 0, Op: 7, Text: "cluster release 2"}
	c.SetRelease(0, 2)
	c.SetRelease(1, 2)
	require.Contains(t, checkUpgradeBinaries(c, up), "replica 2's node runs release 1")
	c.SetRelease(2, 2)
	require.Empty(t, checkUpgradeBinaries(c, up))
	require.Empty(t, checkUpgradeBinaries(c, vsr.Event{Kind: vsr.EventCommit, Replica: 0, Op: 7}))
}

// TestClientLivenessNewPrimaryRequeues: a new primary starts with an empty queue, so a
// request in flight across the view change (its copy lost with the crashed primary's queue)
// may be overtaken by one another client sent later, and still be waiting behind it when its
// client gives up (swarm seed 2038000422: c6's append, sent during the reply cut, reached
// view 7's primary after c1's, sat behind a backlog written to slow disks, and was answered
// 1.8 s after c6 gave up). Only a request sent once every retry had reached the new primary
// proves the given-up one dropped; a report of an older view changes nothing.
func TestClientLivenessNewPrimaryRequeues(t *testing.T) {
	const ms = sim.Time(sim.Millisecond)
	l := newClientLiveness(3)
	l.primary(0, 1, 1*ms, 3)
	l.heal(10 * ms)
	l.sent(0, 3300*ms) // c1's request, sent as the primary of view 6 crashes
	l.sent(1, 3400*ms)
	l.primary(0, 7, 3490*ms, 3) // view 7's primary: settled 4 retry periods later, at 4690ms
	l.primary(0, 6, 3500*ms, 3) // a stale report of view 6 moves nothing
	require.Equal(t, 4690*ms, l.settledAt)
	l.done(1, "get k1", client.Result{Outcome: client.OK}, 3880*ms)
	l.done(0, "append k0", client.Result{Outcome: client.Indeterminate}, 3900*ms)
	require.Empty(t, l.starved, "served: a request sent before view 7's primary settled")

	l.sent(0, 4000*ms)
	l.sent(2, 4700*ms) // sent once every retry had reached view 7's primary
	l.done(2, "put k2", client.Result{Outcome: client.OK}, 4710*ms)
	l.done(0, "append k0", client.Result{Outcome: client.Indeterminate}, 10000*ms)
	require.Contains(t, l.starved, "client c1 gave up at 10.000s on append k0, sent at 4.000s")
	require.Contains(t, l.starved, "a request sent at 4.700s was answered")
}
