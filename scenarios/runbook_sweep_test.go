package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// runbookSweepSeeds is how many seeds (1..N) TestRunbookSweep runs of each runbook
// scenario: the gate runs five, too few for a resolution a scenario takes on one seed in
// ten or twenty (replica_crash's option B: its first failure, after the storage engine began
// rewriting damaged records at Open, was seed 17).
const runbookSweepSeeds = 40

// TestRunbookSweep runs every runbook scenario on seeds 1..runbookSweepSeeds, all of which
// must pass (about 10 s of CPU in all).
func TestRunbookSweep(t *testing.T) {
	for _, name := range []string{"replica_crash", "quorum_lost", "view_change_storm", "replication_lag",
		"assertion_failure", "disk_full", "rolling_upgrade"} {
		s, ok := Lookup(name)
		require.True(t, ok, name)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for seed := uint64(1); seed <= runbookSweepSeeds; seed++ {
				CheckSeed(t, s, Options{Seed: seed})
			}
		})
	}
}
