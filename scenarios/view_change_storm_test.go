package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestViewChangeStormRegistered(t *testing.T) {
	s, ok := Lookup("view_change_storm")
	require.True(t, ok)
	require.Equal(t, "Scenario 3: View Change Storm", s.Runbook)
	require.Equal(t, drawViewChangeStorm(5).String(), s.Params(5))
}

// TestViewChangeStormSeeds: on a handful of seeds the storm is injected, its alert fires,
// and after the fix commits resume and view changes stop within the stated bounds.
func TestViewChangeStormSeeds(t *testing.T) {
	s, _ := Lookup("view_change_storm")
	for seed := uint64(1); seed <= 5; seed++ {
		r := s.Run(Options{Seed: seed})
		require.Equal(t, Pass, r.Outcome, "seed %d %s: %s", seed, r.Params, r.Reason)
		require.Positive(t, r.Counters["fault.clock_offset"])
		require.Positive(t, r.Counters["alert."+AlertViewChangeStorm])
		require.Greater(t, r.Counters["storm.view_changes"], uint64(10))
		require.Positive(t, r.Counters["diagnosis.clock_desync_replicas"])
		require.Equal(t, uint64(1), r.Counters["fix.applied"])
		require.LessOrEqual(t, r.Counters["fix.ticks_to_commit"], uint64(vcsCommitBound))
		require.LessOrEqual(t, r.Counters["fix.ticks_to_quiet"], uint64(vcsQuietBound))
	}
}

func TestViewChangeStormDeterministic(t *testing.T) {
	a := runViewChangeStorm(Options{Seed: 3}, viewChangeStormKnobs{})
	b := runViewChangeStorm(Options{Seed: 3}, viewChangeStormKnobs{})
	require.Equal(t, a.TraceHash, b.TraceHash)
	require.Equal(t, a.Counters, b.Counters)
}

// TestViewChangeStormNotVacuous: without the runbook's fix the storm goes on and the alert
// is still firing at the end of the window the fix is given.
func TestViewChangeStormNotVacuous(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		r := runViewChangeStorm(Options{Seed: seed}, viewChangeStormKnobs{skipFix: true})
		require.Equal(t, Liveness, r.Outcome, "seed %d without the fix: %s", seed, r.Reason)
		require.Contains(t, r.Reason, "still firing")
		require.Positive(t, r.Counters["alert."+AlertViewChangeStorm])
	}
}

// TestViewChangeStormTimeoutInForce: the raised election timeout holds through a stop of the
// primary longer than any old timeout (fix.in_force_checked); with one backup still timing
// with the old value (the knob), that backup starts a view change and the run fails.
func TestViewChangeStormTimeoutInForce(t *testing.T) {
	for seed := uint64(1); seed <= 2; seed++ {
		r := runViewChangeStorm(Options{Seed: seed}, viewChangeStormKnobs{})
		require.Equal(t, Pass, r.Outcome, "seed %d: %s", seed, r.Reason)
		require.Equal(t, uint64(1), r.Counters["fix.in_force_checked"])
		r = runViewChangeStorm(Options{Seed: seed}, viewChangeStormKnobs{oldTimeoutOnBackup: true})
		require.Equal(t, Liveness, r.Outcome, "seed %d with a backup on the old timeout: %s", seed, r.Reason)
		require.Contains(t, r.Reason, "started a view change")
		require.Contains(t, r.Reason, "not in force")
	}
}
