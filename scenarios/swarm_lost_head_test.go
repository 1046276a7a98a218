package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The round reaches its class within a few seeds: a backup comes back from the damage with
// its head op of unknown identity and repairs it. And the bound has teeth: where the backup's
// requests reach no peer once it has read its disk back (repair_peer's knob cuts every link
// from it, as a backup that asks the primary alone for a head of unknown checksum), the run
// fails as a liveness failure that names the round, the replica, the op and what it waited
// for. The seed is one where the repair_peer round did not run, so that the knob strikes here.
func TestSwarmLostHeadRoundReachesAndFailsOnAHeadNeverRepaired(t *testing.T) {
	var seed uint64
	for s := uint64(1); s <= 40 && seed == 0; s++ {
		r := runSwarm(Options{Seed: s})
		require.Equal(t, Pass, r.Outcome, "seed %d: %s", s, r.Reason)
		if r.Counters["coverage.mark.lost_head.unknown_identity"] > 0 && r.Counters["coverage.mark.repair_peer.round"] == 0 {
			seed = s
		}
	}
	require.NotZero(t, seed, "no swarm seed of 1..40 reached a head of lost identity without the repair_peer round")
	r := runSwarmWith(Options{Seed: seed}, swarmKnobs{afterRepairPeerOpen: cutEveryLinkFrom})
	require.Equal(t, Liveness, r.Outcome, r.Reason)
	require.Contains(t, r.Reason, "lost_head: replica R")
	require.Contains(t, r.Reason, "log entry and redundant record damaged (of unknown checksum")
	require.Contains(t, r.Reason, "it waited for op")
}
