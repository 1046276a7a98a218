package scenarios

import (
	"fmt"

	"vopr/cluster/vsr"
	"vopr/sim"
)

// The standby lag truth's second half: the lag in ops a standby reports and its eligibility
// for promotion (Inspection.StandbyLagOps, StandbyEligible; vsr/standby.go, status.go).
//
// The metric's definition: the newest commit number the primary announced to the standby
// minus the op it has executed, or 0 when it has executed that far (a state sync, or a view's
// start_view, can take it past every commit number it heard: it is then not behind). The
// harness's own record of the announcements (lagModel.maxCommit: the running maximum of the
// commit numbers delivered to this standby process by its view's primary and taken, see
// standby_lag_truth.go) gives it exactly, with no slack: the reported lag must equal it. A
// lag that wraps below zero reports a standby that is current as 2^64 ops behind, and a DR
// failover never promotes it.
//
// Eligibility is the runbook's rule (scenario 4, vsr.StandbyLagMaxNs and StandbyLagOpsMax):
// a standby in normal status with its own state, whose lag is known and within both bounds,
// is eligible, and no other. The lag in time is the reported one (held to its bounds by the
// time truth just before), the lag in ops the harness's.

// lagOpsKnobs are the tests' broken standbys (swarmKnobs.lagOpsReported, lagEligible).
type lagOpsKnobs struct {
	// ops replaces the reported lag in ops, given the newest commit number heard and the op
	// executed.
	ops      func(heard, executed uint64) uint64
	eligible func(in *vsr.Inspection) bool // replaces the reported eligibility
}

// truthOps is the lag in ops the standby must report, having executed executed.
func (m *lagModel) truthOps(executed uint64) uint64 {
	if m.maxCommit > executed {
		return m.maxCommit - executed
	}
	return 0
}

// checkOps holds standby R<i>'s reported lag in ops and eligibility to the model; m has
// taken an announcement (its lag is known) and advanced to in.CommitMin.
func (t *lagTruth) checkOps(i int, m *lagModel, in *vsr.Inspection, known bool, knobs lagOpsKnobs) string {
	truth := m.truthOps(in.CommitMin)
	t.checks++
	if known && in.CommitMin > m.maxCommit {
		t.ahead++
	}
	ops, eligible := in.StandbyLagOps, in.StandbyEligible
	if knobs.ops != nil {
		ops = knobs.ops(m.maxCommit, in.CommitMin)
	}
	if knobs.eligible != nil {
		eligible = knobs.eligible(in)
	}
	if known && ops != truth {
		return fmt.Sprintf("standby R%d reports a lag of %d ops, but the newest commit number its view's primary "+
			"announced to it is %d and it has executed op %d: its lag is %d ops (lag in ops)", i, ops, m.maxCommit,
			in.CommitMin, truth)
	}
	// Known as the standby reports it (a test's knob on known is for the time truth).
	want := in.StandbyLagKnown && in.Status == vsr.StatusNormal && !in.CheckpointLost && in.StandbyLagNs <= vsr.StandbyLagMaxNs &&
		truth <= vsr.StandbyLagOpsMax
	if eligible != want {
		return fmt.Sprintf("standby R%d reports eligible=%t, but the runbook's bounds make it %t: %s, lag %s "+
			"(bound %s), %d ops behind (bound %d; commit %d heard, op %d executed), state lost %t (eligibility)",
			i, eligible, want, in.Status, sim.Duration(in.StandbyLagNs), sim.Duration(vsr.StandbyLagMaxNs), truth,
			vsr.StandbyLagOpsMax, m.maxCommit, in.CommitMin, in.CheckpointLost)
	}
	return ""
}

// counters reports how many inspections of a standby with a known lag the ops truth checked,
// and in how many the standby had executed past every commit number it heard (the case where
// a lag computed as heard - executed wraps).
func (t *lagTruth) counters(counters map[string]uint64) {
	counters["invariants.standby_lag_ops.checked"] += t.checks
	counters["coverage.check.standby_lag_ahead"] += t.ahead
}
