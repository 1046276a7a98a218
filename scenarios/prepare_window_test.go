package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The scenario fills the primary's window (its op reaches checkpoint + PrepareAheadMax with
// the checkpoint failing), passes on the unmutated cluster, and converges once the disk is
// fixed; commit_le_op's own test (invariants/prepare_window_test.go) feeds it the op one past
// the window (vsr.primary_prepares_one_past_window, killed at prepare_window seed 1).
func TestPrepareWindowFillsTheWindow(t *testing.T) {
	for seed := uint64(2202900000); seed < 2202900004; seed++ {
		r := runPrepareWindow(Options{Seed: seed})
		require.Equal(t, Pass, r.Outcome, r.Reason)
		require.Equal(t, uint64(1), r.Counters["prepare_window.full"], "seed %d", seed)
		require.NotZero(t, r.Counters["invariants.prepare_window_checked"], "seed %d", seed)
	}
}

// One passing swarm seed in prepareWindowEpisodeOdds ends with the episode, and fills it.
func TestPrepareWindowEpisodeInTheSwarm(t *testing.T) {
	episodes := 0
	for seed := uint64(2202900000); seed < 2202900012; seed++ {
		r := withPrepareWindowEpisode(Options{Seed: seed}, Result{Outcome: Pass, Counters: map[string]uint64{}})
		require.Equal(t, Pass, r.Outcome, r.Reason)
		require.Equal(t, r.Counters["episode.prepare_window"], r.Counters["episode.prepare_window.full"])
		episodes += int(r.Counters["episode.prepare_window"])
	}
	require.NotZero(t, episodes)
}
