//go:build vopr_mutants

package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
)

// TestUpgradeReplacementCatchesUpgradePastBinary: a primary that upgrades to the highest
// release reported (not the lowest) upgrades past the replacement's old binary, and the drill
// says so.
func TestUpgradeReplacementCatchesUpgradePastBinary(t *testing.T) {
	caught := 0
	for seed := uint64(1); seed <= 6; seed++ {
		r := runUpgradeReplacement(Options{Seed: seed, Mutation: vsr.MutationUpgradeAtHighestRelease})
		if r.Outcome == Correctness {
			require.Contains(t, r.Reason, "upgrade_beyond_binaries")
			caught++
		}
	}
	require.Positive(t, caught)
}
