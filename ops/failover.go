package ops

import (
	"errors"
	"fmt"

	"vopr/cluster/vsr"
)

// `kimberlite-cli cluster failover --promote-standby ID --approve-data-loss-risk [--force]`
// (the runbook's scenario 2, option B), decided once here for the simulator's operator and
// the CLI: the failover is refused without the approval, saying what would be lost, and
// refused for a standby that was ineligible when it last heard from the cluster, or whose
// lag is unknown (it has heard from no primary since it started), unless forced. The
// promotion itself is vsr.Replica.Promote.

// FailoverRefused wraps every refusal.
var FailoverRefused = errors.New("cluster failover refused")

// FailoverPlan is what the operator is told before the promotion.
type FailoverPlan struct {
	ID       int    `json:"id"`      // the standby's runbook id
	Replica  int    `json:"replica"` // its index
	Executed uint64 `json:"executed"`
	Commit   uint64 `json:"commit"` // the committed prefix it knows: what the new configuration keeps at most
	LagMs    int64  `json:"contact_lag_ms"`
	// LagKnown: the standby has heard from a primary since it started (StandbyStatus). False:
	// LagMs is no measurement and the standby is not eligible.
	LagKnown  bool   `json:"lag_known"`
	Eligible  bool   `json:"eligible"`
	Forced    bool   `json:"forced"`
	Approved  bool   `json:"approved"`
	WouldLose string `json:"would_lose"`
}

// PlanFailover decides on a failover to the standby whose status is s.
func PlanFailover(s ReplicaStatusReport, approve, force bool) (FailoverPlan, error) {
	sb := s.Standby
	if s.Status == StatusUnreachable || sb == nil {
		return FailoverPlan{}, fmt.Errorf("%w: replica %d is not a running standby (%s)", FailoverRefused, s.Replica, s.Status)
	}
	// Judged by its lag when it last heard from the primary: once the active region is lost
	// the lag now only grows. A standby that has heard from no primary since it started has
	// no such figure (its zeros are no measurement): it is not eligible.
	p := FailoverPlan{ID: sb.ID, Replica: s.Replica, Executed: sb.Executed, Commit: sb.Commit, LagMs: sb.ContactLagMs,
		LagKnown: sb.LagKnown,
		Eligible: sb.LagKnown && sb.ContactLagMs <= vsr.StandbyLagMaxNs/1_000_000 && sb.LagOps <= vsr.StandbyLagOpsMax,
		Forced:   force, Approved: approve}
	if sb.LagKnown {
		p.WouldLose = fmt.Sprintf("every op the lost replicas committed above op %d (standby %d knows ops up to %d committed, was %d ms behind when it last heard from the primary)",
			sb.Commit, sb.ID, sb.Commit, sb.ContactLagMs)
	} else {
		p.WouldLose = fmt.Sprintf("every op the lost replicas committed above op %d (standby %d knows ops up to %d committed and has executed up to op %d; its lag is unknown: it has not heard from a primary since it started)",
			sb.Commit, sb.ID, sb.Commit, sb.Executed)
	}
	switch {
	case !approve:
		return p, fmt.Errorf("%w: without --approve-data-loss-risk: promoting standby %d loses %s", FailoverRefused, sb.ID, p.WouldLose)
	case !sb.LagKnown && !force:
		return p, fmt.Errorf("%w: standby %d's lag is unknown: it has not heard from a primary since it started, so nothing measures how far behind it is (it knows ops up to %d committed and has executed up to op %d): --force to promote it anyway",
			FailoverRefused, sb.ID, sb.Commit, sb.Executed)
	case !p.Eligible && !force:
		return p, fmt.Errorf("%w: standby %d is ineligible for promotion (%d ms, %d ops behind when it last heard from the primary; bound %d ms): --force to promote it anyway",
			FailoverRefused, sb.ID, sb.ContactLagMs, sb.LagOps, vsr.StandbyLagMaxNs/1_000_000)
	}
	return p, nil
}

// FailoverReport answers `cluster failover`: the plan and, when it went ahead, the promotion.
type FailoverReport struct {
	Plan    FailoverPlan      `json:"plan"`
	Promote vsr.PromoteReport `json:"promote"`
}

// Failover is `cluster failover --promote-standby ID` served by the standby's process:
// PlanFailover decides, then the standby promotes itself (vsr.Replica.Promote). Its process
// must then be restarted as replica 0 of 1 (`kimberlite start --addresses ITS_ADDRESS
// --replica-id 0`). done runs once: with the refusal, or from the promotion's completion.
func Failover(r *vsr.Replica, diskUsagePct int, approve, force bool, done func(any, error)) {
	plan, err := PlanFailover(ReplicaStatusOf(r.InspectState(), diskUsagePct), approve, force)
	if err != nil {
		done(FailoverReport{Plan: plan}, err)
		return
	}
	r.Promote(func(rep vsr.PromoteReport, err error) { done(FailoverReport{Plan: plan, Promote: rep}, err) })
}
