package scenarios

import (
	"fmt"

	"vopr/cluster/vsr"
	"vopr/ops"
	"vopr/sim"
)

// A DR failover (quorum_lost's option B, the swarm's failover) judges the standby by its
// contact lag: how far behind the primary it was when it last heard from it (runbook
// scenario 4: more than 1000 ms behind, ineligible). Once the active region is lost nothing
// reaches the standby, so that figure must stay what it was however long the operator takes
// to act: a failover is a human decision, taken seconds or minutes after the page. A lag
// that kept growing would make a standby that was current when the region failed look as
// stale as one cut off long before, and the failover would refuse the one it should promote.
const (
	// contactSettleTicks (1 s) lets the lost region's last messages land before the lag is
	// read: a heartbeat in flight may still move it.
	contactSettleTicks = 100
	// reactionTicksMin/Span: the operator acts 1.5 to 10 s after the loss, past the 1 s bound,
	// so that a lag counted to now rather than to the last contact is seen.
	reactionTicksMin  = 150
	reactionTicksSpan = 851
)

// drawReaction draws the operator's reaction time from the seed's stream name.
func drawReaction(seed uint64, name string) int {
	return reactionTicksMin + sim.Stream(seed, name).IntN(reactionTicksSpan)
}

// holdContactLag runs the operator's reaction time once the active region is lost (wait runs
// the cluster that many ticks) and returns the standby's status read once the region's last
// messages have landed; reason is set if the contact lag moved while nothing reached the
// standby (contactLagHeld). grow is a test's knob: that many ms added to the second reading.
func holdContactLag(c *sim.Cluster, standby, reactionTicks int, wait func(ticks int), grow int64) (settled ops.ReplicaStatusReport, reason string) {
	wait(contactSettleTicks)
	settled = replicaStatus(c, standby)
	wait(reactionTicks)
	later := replicaStatus(c, standby)
	if settled.Standby == nil || later.Standby == nil {
		return settled, "" // not running: the failover itself is refused and says so
	}
	after := *later.Standby
	after.ContactLagMs += grow
	return settled, contactLagHeld(*settled.Standby, after, sim.Duration(reactionTicks)*sim.TickInterval)
}

// contactLagHeld returns why the contact lag read after the operator's reaction time
// (after) is not the one read once the region's last messages landed (before), or "".
// The contact lag is the interval from the announcement of the newest commit number the
// standby has executed to its last contact with the primary (vsr/standby.go): once nothing
// reaches the standby its end is fixed, so time alone never moves it, and it never grows.
// Its start still moves forward when the standby executes ops it already held up to a commit
// number it had heard before the loss (swarm seed 2031100831: stuck at op 64 behind a slow
// checkpoint write, having heard of commit 71, it executed 65-71 1.15 s after the loss and
// its contact lag fell from 760 ms to 710 ms): its lag in ops falls the same way, and
// promoting it loses no more than before. So the lag may fall only with the op it has
// executed rising and the commit number it knows unchanged.
//
// Whether the lag is known (the standby has heard from a primary since it started) cannot
// change either: with nothing reaching it, an unknown lag stays unknown, and a known one
// becomes unknown only with a restart, which this wait does not do.
func contactLagHeld(before, after ops.StandbyStatus, reaction sim.Duration) string {
	if before.LagKnown != after.LagKnown {
		return fmt.Sprintf("standby %d's lag went from known=%t to known=%t in the %s the operator took to act (contact lag %d ms to %d ms, executed %d to %d, commit %d to %d), with the active region lost: nothing reached it, so whether it has heard from a primary since it started cannot change",
			before.ID, before.LagKnown, after.LagKnown, reaction, before.ContactLagMs, after.ContactLagMs, before.Executed,
			after.Executed, before.Commit, after.Commit)
	}
	executedHeld := after.Executed > before.Executed && after.Commit == before.Commit
	if after.ContactLagMs == before.ContactLagMs || (after.ContactLagMs < before.ContactLagMs && executedHeld) {
		return ""
	}
	return fmt.Sprintf("standby %d's contact lag moved from %d ms to %d ms in the %s the operator took to act (executed %d to %d, commit %d to %d), with the active region lost: nothing reached it, so the lag a failover judges it by must stay what it was when it last heard from the primary, falling only as it executes ops it already held",
		before.ID, before.ContactLagMs, after.ContactLagMs, reaction, before.Executed, after.Executed, before.Commit, after.Commit)
}

// failoverJudgedFairly returns why a failover plan misjudged a standby whose status, read
// once the region was lost, put it within the runbook's bounds (at most 1000 ms and a
// checkpoint interval of ops behind when it last heard from the primary), or said its lag
// was unknown (it had heard from no primary since it started: nothing says how far behind
// it is, and the plan must not call it eligible), or "".
func failoverJudgedFairly(settled ops.ReplicaStatusReport, plan ops.FailoverPlan) string {
	s := settled.Standby
	if s != nil && !s.LagKnown {
		if !plan.Eligible && !plan.LagKnown {
			return ""
		}
		return fmt.Sprintf("cluster failover judged standby %d eligible=%t with lag_known=%t (%d ms behind at its last contact), but its status once the region was lost said its lag was unknown: it had heard from no primary since it started (op %d executed, commit %d known)",
			s.ID, plan.Eligible, plan.LagKnown, plan.LagMs, s.Executed, s.Commit)
	}
	if s == nil || s.ContactLagMs > 1000 || s.LagOps > vsr.CheckpointInterval || plan.Eligible {
		return ""
	}
	return fmt.Sprintf("cluster failover judged standby %d ineligible (%d ms behind at its last contact); its status once the region was lost said %d ms and %d ops, within the runbook's bounds",
		s.ID, plan.LagMs, s.ContactLagMs, s.LagOps)
}
