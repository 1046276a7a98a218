package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/ops"
	"vopr/sim"
)

// The swarm's failover holds the standby's contact lag while the operator reacts: the first
// seed that draws a failover passes, and fails when the lag read after the reaction time
// has grown.
func TestSwarmFailoverHoldsContactLag(t *testing.T) {
	seed := uint64(1)
	for !drawSwarm(seed).Failover {
		seed++
		require.Less(t, seed, uint64(1000), "no swarm seed draws a failover")
	}
	r := runSwarm(Options{Seed: seed})
	require.Equal(t, Pass, r.Outcome, "seed %d: %s", seed, r.Reason)
	grown := runSwarmWith(Options{Seed: seed}, swarmKnobs{contactLagGrows: 1})
	require.Equal(t, Correctness, grown.Outcome, "seed %d: %s", seed, grown.Reason)
	require.Contains(t, grown.Reason, "contact lag moved")
}

// The contact lag check fed the history of swarm seed 2031100831 (a standby stuck at op 64
// behind a slow checkpoint write, having heard of commit 71, executed 65-71 after the loss):
// the lag falls with the ops it already held, which is legitimate; it may not grow, nor fall
// with nothing executed, nor fall while the commit number it knows moved.
func TestContactLagHeldFallsOnlyWithHeldOps(t *testing.T) {
	settled := ops.StandbyStatus{ID: 100, ContactLagMs: 760, LagOps: 7, Executed: 64, Commit: 71}
	reaction := 482 * sim.TickInterval
	executed := settled
	executed.ContactLagMs, executed.LagOps, executed.Executed = 710, 0, 71
	require.Empty(t, contactLagHeld(settled, executed, reaction))
	require.Empty(t, contactLagHeld(settled, settled, reaction))

	grown := settled
	grown.ContactLagMs = 761
	require.Contains(t, contactLagHeld(settled, grown, reaction), "contact lag moved")
	grownExecuted := executed
	grownExecuted.ContactLagMs = 761
	require.Contains(t, contactLagHeld(settled, grownExecuted, reaction), "contact lag moved")
	fellIdle := settled
	fellIdle.ContactLagMs = 710
	require.Contains(t, contactLagHeld(settled, fellIdle, reaction), "contact lag moved")
	heardMore := executed
	heardMore.Commit = 72
	require.Contains(t, contactLagHeld(settled, heardMore, reaction), "contact lag moved")
}
