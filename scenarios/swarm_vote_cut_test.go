package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/sim"
)

// The bound has teeth: a new primary the network cuts off again as soon as its links heal
// (the knob) hears no vote, as if the voters had never sent theirs again, and the run fails
// as a liveness failure naming the round.
func TestSwarmVoteCutRoundFailsOnALateElection(t *testing.T) {
	seed := seedReaching(t, "coverage.mark.vote_cut.round", 40)
	recut := func(c *sim.Cluster, newPrimary int) { c.Network.Isolate(newPrimary) }
	r := runSwarmWith(Options{Seed: seed}, swarmKnobs{afterVoteCut: recut})
	require.Equal(t, Liveness, r.Outcome, r.Reason)
	require.Contains(t, r.Reason, "not all normal in a newer view within")
	require.Contains(t, r.Reason, "the first do_view_change to it was lost")
}

// The wait for a voter's next resend follows the backoff: before the first firing (one
// period in) the first comes within a period; after it, within two; after the second (three
// periods in), four; from the third on (seven in), eight, the cap; each plus its jitter of 2.
func TestResendWaitTicksFollowsTheBackoff(t *testing.T) {
	for since, want := range map[int]int{0: 12, 9: 12, 10: 22, 29: 22, 30: 42, 69: 42, 70: 82, 500: 82} {
		require.Equal(t, want, resendWaitTicks(10, since), "since %d", since)
	}
}
