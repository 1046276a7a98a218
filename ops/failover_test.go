package ops

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
)

func standbyStatus(contactLagMs int64) ReplicaStatusReport {
	return ReplicaStatusReport{Replica: 3, Status: "normal", Role: "standby",
		Standby: &StandbyStatus{ID: 100, LagKnown: true, ContactLagMs: contactLagMs, Executed: 40, Commit: 42}}
}

func TestPlanFailover(t *testing.T) {
	_, err := PlanFailover(standbyStatus(10), false, false)
	require.True(t, errors.Is(err, FailoverRefused))
	require.Contains(t, err.Error(), "without --approve-data-loss-risk")
	require.Contains(t, err.Error(), "above op 42", "the refusal says what would be lost")

	_, err = PlanFailover(standbyStatus(5000), true, false)
	require.True(t, errors.Is(err, FailoverRefused))
	require.Contains(t, err.Error(), "ineligible")

	p, err := PlanFailover(standbyStatus(5000), true, true)
	require.NoError(t, err)
	require.True(t, p.Forced)
	require.False(t, p.Eligible)

	p, err = PlanFailover(standbyStatus(10), true, false)
	require.NoError(t, err)
	require.True(t, p.Eligible)
	require.Equal(t, 100, p.ID)

	_, err = PlanFailover(ReplicaStatusReport{Replica: 0, Status: "normal", Role: "primary"}, true, true)
	require.ErrorContains(t, err, "not a running standby")
}

// TestPlanFailoverRefusesAnUnknownLag: a standby restarted from a disk that knows commit 40,
// which has executed nothing and heard from no primary since (the active region was lost
// meanwhile). Its status said "lag 0 ms, 0 ops" and the plan, which judges the contact lag
// and the op lag, called it eligible: an operator promoted it without --force on figures
// that were no measurement. Its status says the lag is unknown, and the plan refuses it
// without --force, saying why; forced, it goes ahead.
func TestPlanFailoverRefusesAnUnknownLag(t *testing.T) {
	in := vsr.Inspection{Replica: 3, Status: vsr.StatusNormal, Role: vsr.RoleStandby, View: 1, LogView: 1,
		Op: 40, CommitMax: 40, StandbyID: 100}
	s := ReplicaStatusOf(in, 3)
	require.NotNil(t, s.Standby)
	require.False(t, s.Standby.LagKnown)
	require.False(t, s.Standby.Eligible)
	require.Contains(t, s.String(), "INELIGIBLE for promotion (lag unknown: no primary heard since it started)")

	_, err := PlanFailover(s, true, false)
	require.ErrorIs(t, err, FailoverRefused)
	require.Contains(t, err.Error(), "standby 100's lag is unknown: it has not heard from a primary since it started")
	require.Contains(t, err.Error(), "--force")

	p, err := PlanFailover(s, true, true)
	require.NoError(t, err)
	require.False(t, p.Eligible)
	require.False(t, p.LagKnown)
	require.True(t, p.Forced)
	require.Equal(t, uint64(40), p.Commit)
	require.Contains(t, p.WouldLose, "above op 40")
	require.Contains(t, p.WouldLose, "its lag is unknown")
	require.NotContains(t, p.WouldLose, "0 ms behind")

	_, err = PlanFailover(s, false, true)
	require.ErrorContains(t, err, "without --approve-data-loss-risk", "the approval is asked first, as for any standby")

	// The same standby once it has heard from the primary: its figures are a measurement.
	in.StandbyLagKnown, in.StandbyEligible, in.CommitMin = true, true, 40
	s = ReplicaStatusOf(in, 3)
	require.True(t, s.Standby.LagKnown)
	require.Contains(t, s.String(), "eligible for promotion (lag 0 ms, 0 ops)")
	p, err = PlanFailover(s, true, false)
	require.NoError(t, err)
	require.True(t, p.Eligible)
	require.True(t, p.LagKnown)
}
