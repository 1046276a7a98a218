package scenarios

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
	"vopr/sim"
)

// The round's check has teeth: a cluster whose replicas stay cut off from each other once the
// round heals the network cannot raise its release everywhere (the replica cut last never
// hears the upgrade op), and the run fails as a liveness failure naming the round.
func TestSwarmUpgradeCutRoundFailsWhenTheReleaseStaysDown(t *testing.T) {
	seed := seedReaching(t, "coverage.mark.upgrade_cut.returned", 20)
	apart := func(c *sim.Cluster) {
		active, _ := c.Members()
		for _, i := range active {
			c.Network.Isolate(i)
		}
	}
	r := runSwarmWith(Options{Seed: seed}, swarmKnobs{afterUpgradeCut: apart})
	require.Equal(t, Liveness, r.Outcome, r.Reason)
	require.Contains(t, r.Reason, "release_stuck: every active replica runs a binary of release 2")
	require.Contains(t, r.Reason, "primaries cut off as they prepared the upgrade")
}

// isUpgradeBatch tells an upgrade op's batch from a client's.
func TestIsUpgradeBatch(t *testing.T) {
	batch := func(op vsr.Operation, payload []byte) []byte {
		b := binary.LittleEndian.AppendUint16(nil, 1)
		b = append(b, make([]byte, 8+8+4)...) // client, session, request
		b = append(b, byte(op))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(payload)))
		return append(b, payload...)
	}
	require.True(t, isUpgradeBatch(batch(vsr.OperationUpgrade, []byte{2, 0, 0, 0})))
	require.False(t, isUpgradeBatch(batch(vsr.OperationKV, []byte{2, 0, 0, 0})))
	require.False(t, isUpgradeBatch(batch(vsr.OperationUpgrade, []byte{2, 0, 0, 0})[:20]))
}
