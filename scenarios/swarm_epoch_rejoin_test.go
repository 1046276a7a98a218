package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The round reaches its sequence: on some early seed the change is established without the
// backup cut off, the backup comes back from the ended epoch with a view above the new
// primary's (its views ran ahead there), the view change forced as it comes back is elected
// with it, and the run passes (swarm seed 35 when this was written: the search starts near
// it, to stay cheap).
func TestSwarmEpochRejoinRoundReachesTheSequence(t *testing.T) {
	const mark = "coverage.mark.epoch_rejoin.ahead"
	var r Result
	for seed := uint64(30); seed <= 90 && r.Counters[mark] == 0; seed++ {
		r = runSwarm(Options{Seed: seed})
	}
	require.Equal(t, uint64(1), r.Counters[mark], "no swarm seed of 30..90 reached %s", mark)
	require.Equal(t, Pass, r.Outcome, r.Reason)
	for _, mark := range []string{"round", "changed", "ahead", "elected"} {
		require.Equal(t, uint64(1), r.Counters["coverage.mark.epoch_rejoin."+mark], mark)
	}
}
