package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestQuorumLostRegistered(t *testing.T) {
	s, ok := Lookup("quorum_lost")
	require.True(t, ok)
	require.Equal(t, "Scenario 2: Quorum Lost", s.Runbook)
	require.Equal(t, drawQuorumLost(5).String(), s.Params(5))
}

// TestQuorumLostSeeds runs the scenario on a handful of seeds; between them they cover
// crashes and partitions, losing the primary or only backups, and both cluster sizes.
func TestQuorumLostSeeds(t *testing.T) {
	s, _ := Lookup("quorum_lost")
	seen := map[string]bool{}
	for seed := uint64(1); seed <= 10; seed++ {
		r := s.Run(Options{Seed: seed})
		require.Equal(t, Pass, r.Outcome, "seed %d %s: %s", seed, r.Params, r.Reason)
		p := drawQuorumLost(seed)
		seen["partition"] = seen["partition"] || p.Partition
		seen["crash"] = seen["crash"] || !p.Partition
		seen["primary lost"] = seen["primary lost"] || p.PrimaryLost
		seen["backups lost"] = seen["backups lost"] || !p.PrimaryLost
		seen["5 replicas"] = seen["5 replicas"] || p.Replicas == 5
		require.Equal(t, uint64(p.Replicas/2+1), r.Counters["victims"])
		require.Zero(t, r.Counters["node.fail_stops"])
	}
	require.Len(t, seen, 5, "%v", seen)
}

func TestQuorumLostDeterministic(t *testing.T) {
	a := runQuorumLost(Options{Seed: 2}, quorumLostKnobs{})
	b := runQuorumLost(Options{Seed: 2}, quorumLostKnobs{})
	require.Equal(t, a.TraceHash, b.TraceHash)
	require.Equal(t, a.Counters, b.Counters)
}

// TestQuorumLostNotVacuous: the fault was injected (a majority crashed or isolated), the P0
// QuorumLost alert fired, no write was acknowledged over the window while writes resumed
// after the heal; and without the heal (or restart) the cluster does not recover: Liveness.
func TestQuorumLostNotVacuous(t *testing.T) {
	for _, seed := range []uint64{1, 2, 5, 6} {
		p := drawQuorumLost(seed)
		r := runQuorumLost(Options{Seed: seed}, quorumLostKnobs{})
		require.Equal(t, Pass, r.Outcome, "seed %d: %s", seed, r.Reason)
		if p.Partition {
			require.Equal(t, uint64(p.Replicas/2+1), r.Counters["fault.isolate"])
		} else {
			require.Equal(t, uint64(p.Replicas/2+1), r.Counters["fault.replica_crash"])
		}
		require.Positive(t, r.Counters["alert."+AlertQuorumLost])
		require.Equal(t, uint64(p.LostTicks), r.Counters["ticks_without_quorum_no_ack"])
		require.Positive(t, r.Counters["requests_acked_after_heal"])
		require.Equal(t, uint64(1), r.Counters["resolution.heal"])

		skipped := runQuorumLost(Options{Seed: seed}, quorumLostKnobs{skipHeal: true})
		require.Equal(t, Liveness, skipped.Outcome, "seed %d without the heal: %s", seed, skipped.Reason)
		require.Contains(t, skipped.Reason, "writes did not resume")
		require.Positive(t, skipped.Counters["alert."+AlertQuorumLost])
	}
}
