package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRollingUpgradeRegistered(t *testing.T) {
	s, ok := Lookup("rolling_upgrade")
	require.True(t, ok)
	require.Equal(t, "Rolling Upgrade (Zero Downtime)", s.Runbook)
	require.Equal(t, drawRollingUpgrade(3).String(), s.Params(3))
}

// TestRollingUpgradeSeeds runs a handful of seeds; between them they cover every rollback
// variant and both cluster sizes. Each upgraded every replica, activated the feature after
// deletes had answered "unsupported", and saw deletes take effect after it.
func TestRollingUpgradeSeeds(t *testing.T) {
	s, _ := Lookup("rolling_upgrade")
	seen := map[string]bool{}
	for seed := uint64(1); seed <= 8; seed++ {
		p := drawRollingUpgrade(seed)
		r := s.Run(Options{Seed: seed})
		require.Equal(t, Pass, r.Outcome, "seed %d %s: %s", seed, r.Params, r.Reason)
		seen["rollback="+p.Rollback] = true
		seen["5 replicas"] = seen["5 replicas"] || p.Replicas == 5
		require.GreaterOrEqual(t, r.Counters["restarts.release_2"], uint64(p.Replicas))
		require.Equal(t, uint64(1), r.Counters["activated"])
		require.Positive(t, r.Counters["activation_op"])
		require.Positive(t, r.Counters["coverage.path.upgrade"])
		require.Positive(t, r.Counters["deletes.unsupported"])
		require.Positive(t, r.Counters["deletes.active"])
		require.Zero(t, r.Counters["node.fail_stops"])
		switch p.Rollback {
		case "before":
			require.Equal(t, uint64(p.RollbackAfter), r.Counters["restarts.release_1"])
		case "after":
			require.Equal(t, uint64(1), r.Counters["rollback.refused"])
		}
	}
	require.Len(t, seen, 4, "%v", seen)
}

func TestRollingUpgradeDeterministic(t *testing.T) {
	a := runRollingUpgrade(Options{Seed: 4}, rollingUpgradeKnobs{})
	b := runRollingUpgrade(Options{Seed: 4}, rollingUpgradeKnobs{})
	require.Equal(t, a.TraceHash, b.TraceHash)
	require.Equal(t, a.Counters, b.Counters)
}

// TestRollingUpgradeNotVacuous: without the primary's upgrade the feature never activates
// (Liveness), and a rollback after activation is refused by the replica itself, for every
// seed tried (the "after" variant forced).
func TestRollingUpgradeNotVacuous(t *testing.T) {
	for _, seed := range []uint64{1, 2} {
		r := runRollingUpgrade(Options{Seed: seed}, rollingUpgradeKnobs{skipPrimary: true})
		require.Equal(t, Liveness, r.Outcome, "seed %d without the primary's upgrade: %s", seed, r.Reason)
		require.Contains(t, r.Reason, "feature delete not active")
		require.Zero(t, r.Counters["coverage.path.upgrade"])
		require.Zero(t, r.Counters["deletes.active"])

		after := runRollingUpgrade(Options{Seed: seed}, rollingUpgradeKnobs{rollback: "after"})
		require.Equal(t, Pass, after.Outcome, "seed %d: %s", seed, after.Reason)
		require.Equal(t, uint64(1), after.Counters["rollback.refused"])
	}
}
