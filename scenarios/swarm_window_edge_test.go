package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/sim"
)

// windowEdgeSeed is the first swarm seed whose window_edge round puts the others' head on
// its backup's window edge itself (commit number plus vsr.LogSlotsMax): 5 of swarm seeds
// 1-300 do (80, 113, 154, 204, 261), and 18 land on the op drawn.
const windowEdgeSeed = 80

// The round reaches what it is for: the walk of a single client lands the head on the edge
// itself, not merely near it, and the backup catches up from there.
func TestSwarmWindowEdgeRoundLandsOnTheEdge(t *testing.T) {
	r := runSwarm(Options{Seed: windowEdgeSeed})
	require.Equal(t, Pass, r.Outcome, r.Reason)
	require.EqualValues(t, 1, r.Counters["coverage.mark.window_edge.edge"])
}

// The catch-up bound has teeth: a backup cut off again as soon as its partition heals never
// catches up, and the run fails as a liveness failure naming the round.
func TestSwarmWindowEdgeRoundFailsOnABackupLeftBehind(t *testing.T) {
	cut := func(c *sim.Cluster, backup int) { c.Network.Isolate(backup) }
	r := runSwarmWith(Options{Seed: windowEdgeSeed}, swarmKnobs{afterWindowEdgeHeal: cut})
	require.Equal(t, Liveness, r.Outcome, r.Reason)
	require.Contains(t, r.Reason, "the edge of its log window")
}
