package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/sim"
)

// The bound has teeth: a replica whose requests reach no peer once it has read its damaged
// disk back (the knob cuts every link from it, as if it asked only the primary it cannot
// reach) never repairs its op, and the run fails as a liveness failure naming the round.
func TestSwarmRepairPeerRoundFailsOnAnOpNeverRepaired(t *testing.T) {
	seed := seedReaching(t, "coverage.mark.repair_peer.round", 30)
	r := runSwarmWith(Options{Seed: seed}, swarmKnobs{afterRepairPeerOpen: cutEveryLinkFrom})
	require.Equal(t, Liveness, r.Outcome, r.Reason)
	require.Contains(t, r.Reason, "its log entry for committed op")
	require.Contains(t, r.Reason, "held op")
	require.Contains(t, r.Reason, "prepare intact and could hear it")
}

// The number of rounds is the fewest whose misses, one peer drawn at random per round, have
// odds below repairPeerMissOdds: 20 with one holder of two peers, one where every peer holds it.
func TestSwarmRepairPeerRounds(t *testing.T) {
	run := &swarmRun{}
	require.Equal(t, 20, run.repairPeerRounds(1, 2))
	require.Equal(t, 1, run.repairPeerRounds(3, 3))
	require.Equal(t, 35, run.repairPeerRounds(1, 3))
}

// cutEveryLinkFrom cuts every link from replica x one way: its requests reach no peer, as if
// it asked only a primary it cannot reach (the knob of the repair_peer and lost_head tests).
func cutEveryLinkFrom(c *sim.Cluster, x int) {
	for i := 0; i < c.MemberCount(); i++ {
		if i != x {
			c.Network.Cut(x, i)
		}
	}
}
