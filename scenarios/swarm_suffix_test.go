package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The election bound has teeth: a new primary that never hears an answer to its suffix
// requests (the knob loses them all) cannot start its view, and the run fails as a liveness
// failure naming the round's bound, though the new primary keeps asking.
func TestSwarmSuffixRoundFailsOnAStalledElection(t *testing.T) {
	seed := seedReaching(t, "coverage.mark.suffix.asked", 300)
	r := runSwarmWith(Options{Seed: seed}, swarmKnobs{suffixAnswersLost: true})
	require.Equal(t, Liveness, r.Outcome, r.Reason)
	require.Contains(t, r.Reason, "ticks after the view change began, over the bound of")
}

// The repeat check has teeth: a new primary whose requests after its first never leave it
// (the knob loses them before the round sees them), and that hears no answer, fails the run
// as a liveness failure naming the missing request.
func TestSwarmSuffixRoundFailsOnANewPrimaryThatAsksOnce(t *testing.T) {
	seed := seedReaching(t, "coverage.mark.suffix.asked", 300)
	r := runSwarmWith(Options{Seed: seed}, swarmKnobs{suffixAnswersLost: true, suffixAsksOnce: true})
	require.Equal(t, Liveness, r.Outcome, r.Reason)
	require.Contains(t, r.Reason, "has not asked for its suffix again")
}

// The commit check has teeth: a new primary that starts its view knowing nothing committed
// (the knob) fails the run as a liveness failure naming what its voters knew.
func TestSwarmSuffixRoundFailsOnANewPrimaryThatForgetsCommits(t *testing.T) {
	seed := seedReaching(t, "coverage.mark.suffix.round", 300)
	r := runSwarmWith(Options{Seed: seed}, swarmKnobs{suffixStartCommit: func(uint64) uint64 { return 0 }})
	require.Equal(t, Liveness, r.Outcome, r.Reason)
	require.Contains(t, r.Reason, "knowing ops up to 0 committed, while every quorum of the do_view_changes sent to it knew")
}
