package ops

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func standbyStatus(contactLagMs int64) ReplicaStatusReport {
	return ReplicaStatusReport{Replica: 3, Status: "normal", Role: "standby",
		Standby: &StandbyStatus{ID: 100, ContactLagMs: contactLagMs, Executed: 40, Commit: 42}}
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
