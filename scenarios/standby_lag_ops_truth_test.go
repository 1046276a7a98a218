package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
)

// The lag in ops has teeth: a standby that computes it as heard - executed without a guard
// (the mutant vsr.standby_lag_ops_underflows) reports about 2^64 ops once it has executed past
// what it heard, and one that reports a lag one op short fails as well. Eligibility has
// teeth: a standby that calls itself eligible whatever its lag fails once it is behind.
func TestStandbyLagOpsTruthFires(t *testing.T) {
	r := runSwarmWith(Options{Seed: lagTruthSeed}, swarmKnobs{})
	require.Equal(t, Pass, r.Outcome, r.Reason)
	require.NotZero(t, r.Counters["coverage.check.standby_lag_ahead"], "a standby executed past what it heard")

	wraps := func(heard, executed uint64) uint64 { return heard - executed }
	r = runSwarmWith(Options{Seed: lagTruthSeed}, swarmKnobs{lagOps: lagOpsKnobs{ops: wraps}})
	require.Equal(t, Correctness, r.Outcome, r.Reason)
	require.Contains(t, r.Reason, "ops (lag in ops)")
	require.Contains(t, r.Reason, "its lag is 0 ops")

	short := func(heard, executed uint64) uint64 { return max(heard, executed+1) - executed - 1 }
	r = runSwarmWith(Options{Seed: lagTruthSeed}, swarmKnobs{lagOps: lagOpsKnobs{ops: short}})
	require.Equal(t, Correctness, r.Outcome, r.Reason)
	require.Contains(t, r.Reason, "(lag in ops)")

	always := func(in *vsr.Inspection) bool { return in.StandbyLagKnown && in.Status == vsr.StatusNormal }
	r = runSwarmWith(Options{Seed: lagTruthSeed}, swarmKnobs{lagOps: lagOpsKnobs{eligible: always}})
	require.Equal(t, Correctness, r.Outcome, r.Reason)
	require.Contains(t, r.Reason, "reports eligible=true, but the runbook's bounds make it false")
}

// The rule on its own: the lag in ops is heard - executed, or 0 when executed is past it;
// eligibility needs normal status, its own state, and both lags within the runbook's bounds.
func TestStandbyLagOpsTruthRule(t *testing.T) {
	var tr lagTruth
	m := lagModel{maxCommit: 100}
	in := vsr.Inspection{Status: vsr.StatusNormal, Role: vsr.RoleStandby, CommitMin: 90, StandbyLagOps: 10,
		StandbyLagNs: 5e6, StandbyEligible: true, StandbyLagKnown: true}
	require.Empty(t, tr.checkOps(4, &m, &in, true, lagOpsKnobs{}))
	ahead := in
	ahead.CommitMin, ahead.StandbyLagOps = 128, 0
	require.Empty(t, tr.checkOps(4, &m, &ahead, true, lagOpsKnobs{}))
	require.Equal(t, uint64(1), tr.ahead)
	ahead.StandbyLagOps = m.maxCommit - ahead.CommitMin // wrapped
	require.Contains(t, tr.checkOps(4, &m, &ahead, true, lagOpsKnobs{}), "reports a lag of 18446744073709551588 ops")

	slow := in
	slow.StandbyLagNs, slow.StandbyEligible = vsr.StandbyLagMaxNs+1, false
	require.Empty(t, tr.checkOps(4, &m, &slow, true, lagOpsKnobs{}))
	slow.StandbyEligible = true
	require.Contains(t, tr.checkOps(4, &m, &slow, true, lagOpsKnobs{}), "reports eligible=true, but the runbook's bounds make it false")

	far := in
	far.CommitMin, far.StandbyLagOps, far.StandbyEligible = 100-vsr.StandbyLagOpsMax-1, vsr.StandbyLagOpsMax+1, true
	require.Contains(t, tr.checkOps(4, &m, &far, true, lagOpsKnobs{}), "65 ops behind (bound 64")
	far.CommitMin, far.StandbyLagOps = 100-vsr.StandbyLagOpsMax, vsr.StandbyLagOpsMax
	require.Empty(t, tr.checkOps(4, &m, &far, true, lagOpsKnobs{}), "at the bound: eligible")

	lost := in
	lost.CheckpointLost = true
	require.Contains(t, tr.checkOps(4, &m, &lost, true, lagOpsKnobs{}), "state lost true (eligibility)")
	lost.StandbyEligible = false
	require.Empty(t, tr.checkOps(4, &m, &lost, true, lagOpsKnobs{}))

	unknown := vsr.Inspection{Status: vsr.StatusNormal, Role: vsr.RoleStandby, CommitMin: 90}
	require.Empty(t, tr.checkOps(4, &m, &unknown, false, lagOpsKnobs{}), "unknown: not eligible, ops not held")
	unknown.StandbyEligible = true
	require.Contains(t, tr.checkOps(4, &m, &unknown, false, lagOpsKnobs{}), "eligible=true")
}
