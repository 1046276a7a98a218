package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReplicationLagRegistered(t *testing.T) {
	s, ok := Lookup("replication_lag")
	require.True(t, ok)
	require.Equal(t, "Scenario 4: High Replication Lag", s.Runbook)
	require.Equal(t, drawReplicationLag(5).String(), s.Params(5))
}

// TestReplicationLagSeeds: the slow disk is injected, the lag alert fires naming the slow
// replica, isolating it restores the cluster's throughput, and after the fix it rejoins and
// catches up.
func TestReplicationLagSeeds(t *testing.T) {
	s, _ := Lookup("replication_lag")
	for seed := uint64(1); seed <= 4; seed++ {
		r := s.Run(Options{Seed: seed})
		require.Equal(t, Pass, r.Outcome, "seed %d %s: %s", seed, r.Params, r.Reason)
		require.Equal(t, uint64(1), r.Counters["fault.slow_disk"])
		require.Positive(t, r.Counters["alert."+AlertReplicationLag])
		require.Greater(t, r.Counters["lag.max_ms_at_alert"], uint64(1000))
		require.Positive(t, r.Counters["lag.ops_behind_at_alert"])
		require.Equal(t, uint64(1), r.Counters["fix.isolate"])
		require.GreaterOrEqual(t, 2*r.Counters["throughput.isolated"], r.Counters["throughput.baseline"])
		require.Equal(t, uint64(1), r.Counters["fix.rejoin"])
		require.LessOrEqual(t, r.Counters["fix.ticks_to_catch_up"], uint64(rlCatchUpBound))
	}
}

func TestReplicationLagDeterministic(t *testing.T) {
	a := runReplicationLag(Options{Seed: 4}, replicationLagKnobs{})
	b := runReplicationLag(Options{Seed: 4}, replicationLagKnobs{})
	require.Equal(t, a.TraceHash, b.TraceHash)
	require.Equal(t, a.Counters, b.Counters)
}

// TestReplicationLagNotVacuous: without isolating and fixing the replica the lag alert
// keeps firing.
func TestReplicationLagNotVacuous(t *testing.T) {
	for seed := uint64(1); seed <= 2; seed++ {
		r := runReplicationLag(Options{Seed: seed}, replicationLagKnobs{skipFix: true})
		require.Equal(t, Liveness, r.Outcome, "seed %d without the fix: %s", seed, r.Reason)
		require.Contains(t, r.Reason, "still firing")
		require.Positive(t, r.Counters["alert."+AlertReplicationLag])
	}
}
