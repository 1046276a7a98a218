package scenarios

import (
	"errors"
	"slices"
	"strings"

	"vopr/cluster/client"
	"vopr/cluster/kv"
	"vopr/cluster/vsr"
	"vopr/ops"
	"vopr/sim"
)

// collectAck records every acknowledged op (quorum_lost's option B counts the ones a
// failover loses).
func (run *quorumLostRun) collectAck(_ kv.Op, r client.Result) {
	if r.Outcome == client.OK {
		run.acks = append(run.acks, r.Op)
	}
}

// optionB is step 3 when the active region is lost: the standby (replica 100) is promoted
// into a new configuration; exactly the acknowledged ops above the promotion point are lost.
func (run *quorumLostRun) optionB(knobs quorumLostKnobs) (Outcome, string) {
	c := run.c
	standby := c.ReplicaCount()
	back := run.q.oldBack()
	for i := 0; i < c.ReplicaCount(); i++ {
		if c.Nodes[i].Status() != sim.NodeCrashed {
			c.CrashReplica(i)
		}
		if i != back { // its region was only cut off: it keeps its disk
			c.Nodes[i].Disk.Reformat()
		}
	}
	c.Network.Heal()
	run.counts["fault.region_lost"]++
	run.step()
	wait := func(ticks int) { run.until(func() bool { return false }, ticks) }
	settled, reason := holdContactLag(c, standby, run.q.ReactionTicks, wait, knobs.contactLagGrows)
	if reason != "" {
		return run.fail(Correctness, "%s", reason)
	}
	run.counts["failover.reaction_ticks"] = uint64(contactSettleTicks + run.q.ReactionTicks)
	if knobs.skipFailover {
		return run.resumeAfterFailover(0)
	}
	_, err := run.op.Failover(standby, false, false)
	if !errors.Is(err, ops.FailoverRefused) || !strings.Contains(err.Error(), "approve-data-loss-risk") {
		return run.fail(Correctness, "cluster failover without --approve-data-loss-risk was not refused: %v", err)
	}
	run.counts["failover.refused_without_approval"]++
	result, err := run.op.Failover(standby, true, false)
	if reason := failoverJudgedFairly(settled, result.Plan); reason != "" {
		return run.fail(Correctness, "%s", reason)
	}
	if errors.Is(err, ops.FailoverRefused) && !result.Plan.Eligible {
		run.counts["failover.refused_ineligible"]++
		if !result.Plan.LagKnown {
			// The operator is told why: nothing measured the standby's lag since it started.
			if !strings.Contains(err.Error(), "lag is unknown") {
				return run.fail(Correctness, "cluster failover refused standby 100, whose lag is unknown, without saying so: %v", err)
			}
			run.counts["failover.refused_lag_unknown"]++
		}
		result, err = run.op.Failover(standby, true, true)
		run.counts["failover.forced"]++
	}
	if err != nil {
		return run.fail(Correctness, "cluster failover --promote-standby 100 --approve-data-loss-risk: %v", err)
	}
	run.counts["resolution.failover"]++
	point := result.Promote.Op
	run.counts["rpo.failover_op"] = point
	if run.checked {
		lost := run.suite.OnFailover(int64(c.Loop.Now()), point+knobs.claimFailoverAbove, standby)
		above := ackedAbove(run.acks, point)
		run.counts["rpo.lost_acked_ops"] = uint64(len(lost))
		if len(lost) != len(above) {
			return run.fail(Correctness, "failover to op %d: the checkers count %d acknowledged ops lost (%v), the clients were acknowledged %d above it (%v)",
				point, len(lost), lost, len(above), above)
		}
	}
	run.step() // the checkers see the standby's old process gone
	c.StartReplica(standby)
	if back >= 0 {
		run.old = &oldActive{node: back, startAt: run.ticks + run.q.OldDelayTicks, epoch: result.Promote.Epoch,
			commitMax: run.opAtLoss - min(run.opAtLoss, knobs.oldCommitBelow)}
		run.onReplicaEvent = run.oldActiveEvent
	}
	if outcome, reason := run.resumeAfterFailover(point); outcome != Pass {
		return outcome, reason
	}
	if reason := checkPromotedConfiguration(ReplicaStatus(c, standby), result.Promote.Epoch); reason != "" {
		return run.fail(Correctness, "%s", reason)
	}
	return run.oldActiveStaysOut()
}

// ackedAbove returns the distinct acknowledged ops above op.
func ackedAbove(acks []uint64, op uint64) []uint64 {
	var above []uint64
	for _, a := range acks {
		if a > op && !slices.Contains(above, a) {
			above = append(above, a)
		}
	}
	slices.Sort(above)
	return above
}

// resumeAfterFailover: writes resume on the new configuration (on fresh keys: the old ones'
// values went back to the promotion point), and with the load stopped it converges.
func (run *quorumLostRun) resumeAfterFailover(point uint64) (Outcome, string) {
	c := run.c
	run.keyPrefix = "failover."
	acked := run.acked
	if !run.until(func() bool { run.watchOldActive(); return run.acked > acked+5 }, quorumLostPhaseMax) {
		return run.fail(Liveness, "writes did not resume after the failover (failover skipped=%t)", point == 0)
	}
	run.counts["requests_acked_after_failover"] = uint64(run.acked - acked)
	if w := run.old; w != nil {
		// The load runs on while the old active replica is back (quorum_lost_old_active.go).
		watched := func() bool {
			run.watchOldActive()
			return w.started && run.ticks >= w.startedAt+oldActiveWatchTicks
		}
		if !run.until(watched, quorumLostPhaseMax) {
			return run.fail(Liveness, "the run's budget ran out while old active replica %d was back", w.node)
		}
	}
	run.load = false
	promoted := c.ActiveNodes()[0]
	converged := func() bool {
		run.watchOldActive()
		s := ReplicaStatus(c, promoted)
		return s.Healthy() && s.Role == vsr.RolePrimary.String() && s.CommitMin == s.Commit && s.CommitMin >= point
	}
	if !run.until(converged, quorumLostPhaseMax) {
		return run.fail(Liveness, "the promoted standby did not settle as the new configuration's primary: %s",
			ReplicaStatus(c, promoted))
	}
	return Pass, ""
}
