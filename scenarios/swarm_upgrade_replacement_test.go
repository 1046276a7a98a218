package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestUpgradeReplacementPasses: the drill passes on the unmutated cluster, and the replica
// that heard the victim's old report leads in some of its seeds.
func TestUpgradeReplacementPasses(t *testing.T) {
	led := uint64(0)
	for seed := uint64(1); seed <= 6; seed++ {
		r := runUpgradeReplacement(Options{Seed: seed})
		require.Equal(t, Pass, r.Outcome, "seed %d: %s", seed, r.Reason)
		led += r.Counters["upgrade_replacement.led"]
	}
	require.Positive(t, led, "the replica that heard the old report never led")
}
