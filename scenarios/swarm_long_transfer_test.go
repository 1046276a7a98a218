package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestLongTransferPasses: the episode passes on the unmutated cluster, and its backup comes
// back by state sync (the transfer the episode is about happens).
func TestLongTransferPasses(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		r := runLongTransfer(Options{Seed: seed})
		require.Equal(t, Pass, r.Outcome, "seed %d: %s", seed, r.Reason)
		require.Zero(t, r.Counters["long_transfer.skipped"], "seed %d", seed)
		require.Positive(t, r.Counters["long_transfer.state_syncs"], "seed %d", seed)
		require.Greater(t, r.Counters["long_transfer.size"], uint64(100<<10), "seed %d", seed)
	}
}

// TestLongTransferJudgeFires: a transfer that does not finish within the bound fails the
// episode as liveness, naming the replica and the transfer. (The catalog mutant
// vsr.sync_pin_evicts_most_recent, whose sender drops the snapshot being sent when its pins
// are all taken, fails 6 of the first 8 episode seeds this way.)
func TestLongTransferJudgeFires(t *testing.T) {
	r := runLongTransferKnobs(Options{Seed: 1}, longTransferKnobs{limitTicks: 20})
	require.Equal(t, Liveness, r.Outcome, r.Reason)
	require.Contains(t, r.Reason, "long transfer: replica")
	require.Contains(t, r.Reason, "while the clients kept writing")
}
