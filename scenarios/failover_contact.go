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
// standby. grow is a test's knob: that many ms added to the second reading.
func holdContactLag(c *sim.Cluster, standby, reactionTicks int, wait func(ticks int), grow int64) (settled ops.ReplicaStatusReport, reason string) {
	wait(contactSettleTicks)
	settled = replicaStatus(c, standby)
	wait(reactionTicks)
	later := replicaStatus(c, standby)
	if settled.Standby == nil || later.Standby == nil {
		return settled, "" // not running: the failover itself is refused and says so
	}
	before, after := settled.Standby.ContactLagMs, later.Standby.ContactLagMs+grow
	if before != after {
		return settled, fmt.Sprintf("standby %d's contact lag moved from %d ms to %d ms in the %s the operator took to act, with the active region lost: nothing reached it, so the lag a failover judges it by must stay what it was when it last heard from the primary",
			settled.Standby.ID, before, after, sim.Duration(reactionTicks)*sim.TickInterval)
	}
	return settled, ""
}

// failoverJudgedFairly returns why a failover plan misjudged a standby whose status, read
// once the region was lost, put it within the runbook's bounds (at most 1000 ms and a
// checkpoint interval of ops behind when it last heard from the primary), or "".
func failoverJudgedFairly(settled ops.ReplicaStatusReport, plan ops.FailoverPlan) string {
	s := settled.Standby
	if s == nil || s.ContactLagMs > 1000 || s.LagOps > vsr.CheckpointInterval || plan.Eligible {
		return ""
	}
	return fmt.Sprintf("cluster failover judged standby %d ineligible (%d ms behind at its last contact); its status once the region was lost said %d ms and %d ops, within the runbook's bounds",
		s.ID, plan.LagMs, s.ContactLagMs, s.LagOps)
}
