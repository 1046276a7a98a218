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
// replica, `storage compact` runs on it, `replica isolate` (in the replica) restores the
// cluster's throughput while the isolated replica stands still, and after the fix it
// rejoins and catches up.
func TestReplicationLagSeeds(t *testing.T) {
	s, _ := Lookup("replication_lag")
	freedSome := false
	for seed := uint64(1); seed <= 4; seed++ {
		r := s.Run(Options{Seed: seed})
		require.Equal(t, Pass, r.Outcome, "seed %d %s: %s", seed, r.Params, r.Reason)
		require.Equal(t, uint64(1), r.Counters["fault.slow_disk"])
		require.Positive(t, r.Counters["alert."+AlertReplicationLag])
		require.Greater(t, r.Counters["lag.max_ms_at_alert"], uint64(1000))
		require.Positive(t, r.Counters["lag.ops_behind_at_alert"])
		// Compaction ran to completion; freeing nothing is a correct answer and is counted.
		require.Equal(t, uint64(1), r.Counters["fix.compact"], "seed %d", seed)
		require.Equal(t, r.Counters["fix.compact_freed_bytes"] == 0, r.Counters["fix.compact_freed_nothing"] == 1,
			"seed %d", seed)
		freedSome = freedSome || r.Counters["fix.compact_freed_bytes"] > 0
		require.Equal(t, uint64(1), r.Counters["fix.isolate"])
		require.GreaterOrEqual(t, 2*r.Counters["throughput.isolated"], r.Counters["throughput.baseline"])
		require.Positive(t, r.Counters["isolate.cluster_commits"], "seed %d", seed)
		// Isolation in the replica freezes its timers: the isolated backup starts no view
		// change and drags nobody into one on its return (the network stand-in it replaced
		// let its election timeout run).
		require.Zero(t, r.Counters["coverage.path.view_change"], "seed %d", seed)
		require.Equal(t, uint64(1), r.Counters["fix.rejoin"])
		require.LessOrEqual(t, r.Counters["fix.ticks_to_catch_up"], uint64(rlCatchUpBound))
	}
	// The slow replica checkpoints while the compaction waits behind its writes, so on
	// these seeds there is something to compact: the step is not vacuous.
	require.True(t, freedSome, "storage compact freed nothing on seeds 1-4")
}

func TestReplicationLagDeterministic(t *testing.T) {
	a := runReplicationLag(Options{Seed: 4}, replicationLagKnobs{})
	b := runReplicationLag(Options{Seed: 4}, replicationLagKnobs{})
	require.Equal(t, a.TraceHash, b.TraceHash)
	require.Equal(t, a.Counters, b.Counters)
}

// TestReplicationLagNotVacuous: without compacting, isolating and fixing the replica the
// lag alert keeps firing.
func TestReplicationLagNotVacuous(t *testing.T) {
	for seed := uint64(1); seed <= 2; seed++ {
		r := runReplicationLag(Options{Seed: seed}, replicationLagKnobs{skipFix: true})
		require.Equal(t, Liveness, r.Outcome, "seed %d without the fix: %s", seed, r.Reason)
		require.Contains(t, r.Reason, "still firing")
		require.Positive(t, r.Counters["alert."+AlertReplicationLag])
		require.Zero(t, r.Counters["fix.compact"]+r.Counters["fix.isolate"]+r.Counters["fix.rejoin"])
	}
}

// The standby steps are not vacuous: the standby is seen ineligible, throttled and eligible
// again; left on its slow disk it never becomes eligible again, and the run fails.
func TestReplicationLagStandbyNotVacuous(t *testing.T) {
	r := runReplicationLag(Options{Seed: 3}, replicationLagKnobs{})
	require.Equal(t, Pass, r.Outcome, r.Reason)
	for _, counter := range []string{"standby.ineligible", "fix.standby_throttle", "standby.eligible_again"} {
		require.Equal(t, uint64(1), r.Counters[counter], counter)
	}
	r = runReplicationLag(Options{Seed: 3}, replicationLagKnobs{skipStandbyFix: true})
	require.Equal(t, Liveness, r.Outcome, r.Reason)
	require.Contains(t, r.Reason, "standby 100 not eligible for promotion")
}

// TestReplicationLagRetries: the operator issues each runbook command twice in some runs,
// and the run passes the checks a single command passes; when the retried isolate breaks
// the replica (it never sends again once unisolated, as an isolate that is not idempotent
// leaves it), the check after the unisolate fires: the replica does not catch up.
func TestReplicationLagRetries(t *testing.T) {
	seed, drawn := uint64(0), lagRetries{}
	for s := uint64(1); s <= 32; s++ {
		d := drawLagRetries(s)
		drawn.compact, drawn.throttle = drawn.compact || d.compact, drawn.throttle || d.throttle
		drawn.isolate, drawn.unisolate = drawn.isolate || d.isolate, drawn.unisolate || d.unisolate
		if seed == 0 && d.compact && d.throttle && d.isolate && d.unisolate {
			seed = s
		}
	}
	require.Equal(t, lagRetries{compact: true, throttle: true, isolate: true, unisolate: true}, drawn)
	require.NotZero(t, seed, "no seed in 1..32 retries every command")
	r := runReplicationLag(Options{Seed: seed}, replicationLagKnobs{})
	require.Equal(t, Pass, r.Outcome, "seed %d: %s", seed, r.Reason)
	for _, counter := range []string{"retry.compact", "retry.throttle", "retry.isolate", "retry.unisolate"} {
		require.Equal(t, uint64(1), r.Counters[counter], "seed %d: %s", seed, counter)
	}
	r = runReplicationLag(Options{Seed: seed}, replicationLagKnobs{retriedIsolateBreaks: true})
	require.Equal(t, Liveness, r.Outcome, "seed %d: %s", seed, r.Reason)
	require.Contains(t, r.Reason, "did not catch up")
}
