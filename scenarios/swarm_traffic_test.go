package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
	"vopr/sim"
)

// The traffic round has teeth: a backup that asks the primary for the view's log at every
// tick of the round's load (the knob hands the primary a request_start_view in the backup's
// name, as a backup that wrongly believes its log stale would send it) draws a start_view at
// every tick, and the run fails as a liveness failure naming the repair traffic.
func TestSwarmTrafficRoundFailsOnRepairTraffic(t *testing.T) {
	seed := seedReaching(t, "coverage.mark.traffic.round", 40)
	ask := func(c *sim.Cluster) {
		p := c.Primary()
		in := c.Replica(p).Inspect()
		backup := (p + 1) % c.ReplicaCount()
		h := vsr.Header{Cluster: c.ClusterID(), Command: vsr.CommandRequestStartView, View: in.View,
			Replica: uint8(backup), Epoch: in.Epoch, Release: in.Release}
		c.Replica(p).Receive(vsr.Encode(h, nil))
	}
	r := runSwarmWith(Options{Seed: seed}, swarmKnobs{duringTraffic: ask})
	require.Equal(t, Liveness, r.Outcome, r.Reason)
	require.Regexp(t, `^traffic: the converged cluster on a whole network sent \d+ repair messages \(\d+ start_view\)`,
		r.Reason)
}

// The forward check has teeth: a request that reaches a backup from no client (the knob
// hands it one, in a client's name, once: a forwarded request would reach it so) is
// forwarded to the primary, and the run fails as a liveness failure naming the forward.
// The operation is one the primary drops (only a primary prepares an upgrade), so that
// the request changes nothing else.
func TestSwarmForwardCheckFailsOnAForwardFromNoClient(t *testing.T) {
	seed := seedReaching(t, "coverage.mark.traffic.round", 40)
	sent := false
	forward := func(c *sim.Cluster) {
		if sent {
			return
		}
		sent = true
		backup := (c.Primary() + 1) % c.ReplicaCount()
		h := vsr.Header{Cluster: c.ClusterID(), Command: vsr.CommandRequest, Operation: vsr.OperationUpgrade,
			Client: 1, Request: 1 << 30}
		c.Replica(backup).Receive(vsr.Encode(h, nil))
	}
	r := runSwarmWith(Options{Seed: seed}, swarmKnobs{duringTraffic: forward})
	require.Equal(t, Liveness, r.Outcome, r.Reason)
	require.Regexp(t, `^traffic: replica R\d forwarded request 1073741824 of client c1 at .* more times than it reached`,
		r.Reason)
}
