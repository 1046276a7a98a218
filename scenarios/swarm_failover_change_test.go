package scenarios

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
)

// Swarm seed 120 fails over right after a last change (remove-replica 1): the standby's link
// is down as the new epoch's first view starts, it enters the epoch from a later message, and
// the region is lost while it waits for the view's log. The promotion of the standby between
// views goes ahead (on the code before 1c33fc2 it was refused for good); refused, the run
// fails.
func TestSwarmFailoverPromotesAStandbyBetweenViews(t *testing.T) {
	const seed = 120
	s := drawSwarm(seed)
	require.True(t, s.Failover && s.Reconfig, "seed %d: %s", seed, s)
	r := runSwarm(Options{Seed: seed})
	require.Equal(t, Pass, r.Outcome, "seed %d: %s", seed, r.Reason)
	require.Equal(t, uint64(1), r.Counters["coverage.mark.failover_change.entering"])
	require.Equal(t, uint64(1), r.Counters["coverage.mark.failover_change.between_views"])
	require.Equal(t, uint64(1), r.Counters["coverage.path.failover"])

	refused := runSwarmWith(Options{Seed: seed}, swarmKnobs{refuseBetweenViews: true})
	require.Equal(t, Correctness, refused.Outcome, "seed %d: %s", seed, refused.Reason)
	require.Contains(t, refused.Reason, "cluster failover --promote-standby 100")
}

// Swarm seed 17 removes replica 0 while client c1 is idle, then clogs c1's paths from the
// region; the region is lost as the new configuration executes c1's request, and the failover
// releases the reply: it reaches c1 after c1 was told the new configuration of one replica,
// and names an epoch in which slot 0 is outside. The run passes (on the code before 2a1b12f
// the client crashed on it), with the late reply seen by the client routing check.
func TestSwarmFailoverHoldsALateReplyOfTheLostConfiguration(t *testing.T) {
	const seed = 17
	r := runSwarm(Options{Seed: seed})
	require.Equal(t, Pass, r.Outcome, "seed %d: %s", seed, r.Reason)
	require.Equal(t, uint64(1), r.Counters["coverage.mark.failover_change.held_in_flight"])
	require.Equal(t, uint64(1), r.Counters["coverage.mark.client_routing.replaced_configuration"])
}

// The last change never removes the standby to promote, and removes slot 0 when asked to
// and a removal is allowed.
func TestLastChangeOf(t *testing.T) {
	c := newTestCluster(t, testOptions{replicas: 3, standbys: 2, clients: 1, seed: 1}).Cluster
	for pick := 0; pick < 10; pick++ {
		change, ok := lastChangeOf(c, 3, 1, false, pick)
		require.True(t, ok)
		require.False(t, change.Kind == vsr.ChangeRemoveStandby && change.Replica == 3, "the standby to promote")
	}
	change, ok := lastChangeOf(c, 3, 1, true, 7)
	require.True(t, ok)
	require.Equal(t, vsr.Change{Kind: vsr.ChangeRemoveReplica, Replica: 0}, change)
	change, ok = lastChangeOf(c, 3, 3, true, 7)
	require.True(t, ok, "no active replica may go: the other standby")
	require.Equal(t, vsr.Change{Kind: vsr.ChangeRemoveStandby, Replica: 4}, change)
}

// batchOf reads a prepare's batch by its documented layout; changeTo a change's header.
func TestBatchOfAndChangeTo(t *testing.T) {
	entry := func(client uint64, payload string) []byte {
		b := binary.LittleEndian.AppendUint64(nil, client)
		b = binary.LittleEndian.AppendUint64(b, 9)
		b = binary.LittleEndian.AppendUint32(b, 3)
		b = append(b, byte(vsr.OperationKV))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(payload)))
		return append(b, payload...)
	}
	body := binary.LittleEndian.AppendUint16(nil, 2)
	body = append(append(body, entry(4, "abc")...), entry(6, "")...)
	prepare := vsr.Encode(vsr.Header{Cluster: 7, Command: vsr.CommandPrepare, Op: 5, Epoch: 2}, body)
	require.True(t, batchOf(prepare, 4))
	require.True(t, batchOf(prepare, 6))
	require.False(t, batchOf(prepare, 5))
	require.False(t, batchOf(prepare[:len(prepare)-1], 6), "a truncated batch")
	require.False(t, changeTo(prepare, 7, 3), "not a change")

	change := vsr.Encode(vsr.Header{Cluster: 7, Command: vsr.CommandPrepare, Op: 5, Epoch: 2,
		Operation: vsr.OperationReconfigure}, nil)
	require.True(t, changeTo(change, 7, 3))
	require.False(t, changeTo(change, 7, 4), "a change to epoch 3, not 4")
}

// The isolated moment reaches the windows no other moment does (a kept change the standby
// has not entered; a failover epoch below the one the clients heard of). Swarm seed 244: the
// standby executes remove-replica in its old epoch from the old primary's last heartbeat and
// is isolated before its switch; the promotion keeps the change and takes an epoch above it
// (vsr.promoted_epoch_reuses_reconfig_epoch fail-stops the promoted replica on its replay of
// the change). Swarm seed 15: the standby is isolated as the old primary executes the
// removal of replica 0, the new configuration serves, and the failover's epoch is the one the
// clients last heard of (client.reconfigure_keeps_outside crashes the client on the promoted
// replica's first reply).
func TestSwarmFailoverIsolatedStandby(t *testing.T) {
	kept := runSwarm(Options{Seed: 244})
	require.Equal(t, Pass, kept.Outcome, "seed 244: %s", kept.Reason)
	require.Equal(t, uint64(1), kept.Counters["coverage.mark.failover_change.isolated"])
	require.Equal(t, uint64(1), kept.Counters["coverage.mark.failover_change.standby_isolated"])
	require.Equal(t, uint64(1), kept.Counters["failover.kept_change_ahead"])

	behind := runSwarm(Options{Seed: 15})
	require.Equal(t, Pass, behind.Outcome, "seed 15: %s", behind.Reason)
	require.Equal(t, uint64(1), behind.Counters["coverage.mark.failover_change.standby_isolated"])
	require.Equal(t, uint64(0), behind.Counters["failover.kept_change_ahead"])
	require.Equal(t, uint64(1), behind.Counters["coverage.path.failover"])
}
