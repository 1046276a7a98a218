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
	settled := ops.StandbyStatus{ID: 100, LagKnown: true, ContactLagMs: 760, LagOps: 7, Executed: 64, Commit: 71}
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

// Whether the standby's lag is known cannot change while nothing reaches it: a standby
// restarted before the loss that has heard from no primary stays unknown (held), and a known
// lag that turns unknown, or an unknown one that turns known, moved.
func TestContactLagHeldKeepsTheLagUnknown(t *testing.T) {
	reaction := 300 * sim.TickInterval
	unknown := ops.StandbyStatus{ID: 100, Executed: 0, Commit: 40}
	require.Empty(t, contactLagHeld(unknown, unknown, reaction))
	known := unknown
	known.LagKnown = true // a zero contact lag, measured
	require.Empty(t, contactLagHeld(known, known, reaction))
	require.Contains(t, contactLagHeld(known, unknown, reaction), "lag went from known=true to known=false")
	require.Contains(t, contactLagHeld(unknown, known, reaction), "lag went from known=false to known=true")
}

// The failover's plan must not call a standby eligible whose status, read once the region was
// lost, said its lag was unknown; one that refuses it (eligible=false, lag_known=false) is
// fair, and a standby within the bounds must still be found eligible.
func TestFailoverJudgedFairlyRefusesAnUnknownLag(t *testing.T) {
	unknown := ops.ReplicaStatusReport{Replica: 3, Status: "normal", Role: "standby",
		Standby: &ops.StandbyStatus{ID: 100, Executed: 0, Commit: 40}}
	require.Empty(t, failoverJudgedFairly(unknown, ops.FailoverPlan{ID: 100, Commit: 40, Forced: true}))
	require.Contains(t, failoverJudgedFairly(unknown, ops.FailoverPlan{ID: 100, Commit: 40, Eligible: true}),
		"its status once the region was lost said its lag was unknown")
	require.Contains(t, failoverJudgedFairly(unknown, ops.FailoverPlan{ID: 100, Commit: 40, LagKnown: true, Eligible: true}),
		"judged standby 100 eligible=true with lag_known=true")

	within := unknown
	within.Standby = &ops.StandbyStatus{ID: 100, LagKnown: true, ContactLagMs: 20, LagOps: 2, Executed: 38, Commit: 40}
	require.Empty(t, failoverJudgedFairly(within, ops.FailoverPlan{ID: 100, LagKnown: true, Eligible: true}))
	require.Contains(t, failoverJudgedFairly(within, ops.FailoverPlan{ID: 100, LagKnown: true}), "judged standby 100 ineligible")
}
