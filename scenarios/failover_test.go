package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/client"
	"vopr/cluster/vsr"
)

// promote promotes the standby on node (sim.Cluster.PromoteStandby), running until it is
// done.
func (tc *testCluster) promote(node int) vsr.PromoteReport {
	tc.t.Helper()
	var rep *vsr.PromoteReport
	var err error
	tc.PromoteStandby(node, func(r vsr.PromoteReport, e error) { rep, err = &r, e })
	require.True(tc.t, tc.RunUntil(func() bool { return rep != nil }, ticks))
	require.NoError(tc.t, err)
	for op := range tc.commits {
		if op > rep.Op {
			delete(tc.commits, op) // the new configuration commits its own ops there
		}
	}
	return *rep
}

// ackedAbove returns the acknowledged write ops above op.
func (tc *testCluster) ackedAbove(op uint64) []uint64 {
	var lost []uint64
	for _, r := range tc.results {
		if r.Outcome == client.OK && r.Op > op {
			lost = append(lost, r.Op)
		}
	}
	return lost
}

// DR failover: every active replica is lost under load; the standby is promoted to the
// single active replica of a new configuration, keeping its committed prefix. The new
// cluster takes writes, holds every op up to the promotion point, and a replica of the old
// configuration that hears from the new one stops itself.
func TestFailoverPromotesTheStandby(t *testing.T) {
	tc := newTestCluster(t, testOptions{replicas: 3, standbys: 1, clients: 3, seed: 108})
	tc.commitN(40, ticks)
	tc.load = true
	tc.RunFor(50_000_000) // load in flight when the region goes
	tc.load = false
	for i := 0; i < 3; i++ {
		tc.CrashReplica(i)
	}
	before := tc.inspect(3)
	rep := tc.promote(3)
	require.Equal(t, uint32(1), rep.Epoch)
	require.GreaterOrEqual(t, rep.Op, before.CheckpointOp)
	require.LessOrEqual(t, rep.Op, before.CommitMax, "promoted past what the standby knew committed")
	lost := tc.ackedAbove(rep.Op)
	t.Logf("promotion point op %d; standby had executed %d; %d acknowledged ops above it lost: %v",
		rep.Op, before.CommitMin, len(lost), lost)

	tc.StartReplica(3)
	require.True(t, tc.RunUntil(func() bool { return tc.inspect(3).Status == vsr.StatusNormal }, ticks))
	in := tc.inspect(3)
	require.Equal(t, vsr.RolePrimary, in.Role, "the promoted standby leads the new configuration")
	require.GreaterOrEqual(t, in.CommitMin, rep.Op)
	tc.commitN(10, ticks) // the clients follow the new configuration
	require.Greater(t, tc.inspect(3).CommitMin, rep.Op)

	// A replica of the old configuration comes back and hears the new epoch: it stops.
	tc.StartReplica(0)
	require.True(t, tc.RunUntil(func() bool { return tc.inspect(0).Status != vsr.StatusRecovering }, ticks))
	ping := vsr.Encode(vsr.Header{Cluster: 7, Command: vsr.CommandPing, Epoch: rep.Epoch}, nil)
	tc.Network.Send(3, 0, ping)
	require.True(t, tc.RunUntil(func() bool { return tc.inspect(0).Status == vsr.StatusStopped }, ticks),
		"an old-epoch replica kept running: %+v", tc.inspect(0))
	require.Equal(t, uint64(1), tc.inspect(0).Metrics.EpochStops)
	tc.requireNoFailures()
}
