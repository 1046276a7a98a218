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
	for _, seed := range []uint64{2, 3, 5, 6} {
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
		if p.OptionC {
			continue // TestQuorumLostOptionCNotVacuous
		}
		require.Positive(t, r.Counters["requests_acked_after_heal"])
		require.Equal(t, uint64(1), r.Counters["resolution.heal"])

		skipped := runQuorumLost(Options{Seed: seed}, quorumLostKnobs{skipHeal: true})
		require.Equal(t, Liveness, skipped.Outcome, "seed %d without the heal: %s", seed, skipped.Reason)
		require.Contains(t, skipped.Reason, "writes did not resume")
		require.Positive(t, skipped.Counters["alert."+AlertQuorumLost])
	}
}

// TestQuorumLostOptionCNotVacuous: with all data lost, the restore from a backup loses
// acknowledged writes (those after the backup) and the run passes, because exactly those
// are lost; telling the checkers the backup reached further (a restore that loses more
// than it says) is a correctness failure, and starting the replicas without the restore
// never brings the cluster back.
func TestQuorumLostOptionCNotVacuous(t *testing.T) {
	for _, seed := range []uint64{1, 4} {
		r := runQuorumLost(Options{Seed: seed}, quorumLostKnobs{forceOptionC: true})
		require.Equal(t, Pass, r.Outcome, "seed %d: %s", seed, r.Reason)
		require.Equal(t, uint64(1), r.Counters["fault.all_data_lost"])
		require.Equal(t, uint64(1), r.Counters["resolution.restore_from_backup"])
		require.Positive(t, r.Counters["alert."+AlertQuorumLost])
		require.Positive(t, r.Counters["rpo.restore_op"])
		require.Positive(t, r.Counters["rpo.lost_acked_ops"], "the backup is older than some acknowledged writes")
		require.Positive(t, r.Counters["requests_acked_after_restore"])

		claimed := runQuorumLost(Options{Seed: seed}, quorumLostKnobs{forceOptionC: true, claimPointAbove: 16})
		require.Equal(t, Correctness, claimed.Outcome, "seed %d, restore point overstated: %s", seed, claimed.Reason)
		t.Logf("seed %d, restore point overstated: %s", seed, claimed.Reason)

		skipped := runQuorumLost(Options{Seed: seed}, quorumLostKnobs{forceOptionC: true, skipRestore: true})
		require.Equal(t, Liveness, skipped.Outcome, "seed %d without the restore: %s", seed, skipped.Reason)
		t.Logf("seed %d without the restore: %s", seed, skipped.Reason)
	}
}

// Option B (failover to the standby) is not vacuous: the refusal without approval and the
// promotion happen, acknowledged writes above the promotion point are lost and counted the
// same by the checkers and the clients; a failover that claims to keep more than it does is
// caught, and without the failover writes never resume.
func TestQuorumLostOptionBNotVacuous(t *testing.T) {
	for _, seed := range []uint64{4, 20} { // seeds whose standby had not heard of every acknowledged op
		r := runQuorumLost(Options{Seed: seed}, quorumLostKnobs{forceOptionB: true})
		require.Equal(t, Pass, r.Outcome, "seed %d: %s", seed, r.Reason)
		require.Equal(t, uint64(1), r.Counters["fault.region_lost"])
		require.Equal(t, uint64(1), r.Counters["failover.refused_without_approval"])
		require.Equal(t, uint64(1), r.Counters["resolution.failover"])
		require.Positive(t, r.Counters["rpo.failover_op"])
		require.Positive(t, r.Counters["rpo.lost_acked_ops"], "acknowledged writes above the promotion point")
		require.Positive(t, r.Counters["requests_acked_after_failover"])
		t.Logf("seed %d: promoted at op %d, %d acknowledged ops lost", seed, r.Counters["rpo.failover_op"],
			r.Counters["rpo.lost_acked_ops"])

		claimed := runQuorumLost(Options{Seed: seed}, quorumLostKnobs{forceOptionB: true, claimFailoverAbove: 16})
		require.Equal(t, Correctness, claimed.Outcome, "seed %d, promotion point overstated: %s", seed, claimed.Reason)
		t.Logf("seed %d, promotion point overstated: %s", seed, claimed.Reason)

		skipped := runQuorumLost(Options{Seed: seed}, quorumLostKnobs{forceOptionB: true, skipFailover: true})
		require.Equal(t, Liveness, skipped.Outcome, "seed %d without the failover: %s", seed, skipped.Reason)
	}
}

// The contact lag a failover judges the standby by stays fixed while the operator reacts: a
// lag that grows in that time fails the run, and (seed 4's standby was current when the
// region was lost) the failover must then find the standby eligible, not force it.
func TestQuorumLostContactLagHeld(t *testing.T) {
	r := runQuorumLost(Options{Seed: 4}, quorumLostKnobs{forceOptionB: true})
	require.Equal(t, Pass, r.Outcome, r.Reason)
	require.GreaterOrEqual(t, r.Counters["failover.reaction_ticks"], uint64(contactSettleTicks+reactionTicksMin))
	require.Zero(t, r.Counters["failover.forced"], "seed 4's standby was current at the loss")

	grown := runQuorumLost(Options{Seed: 4}, quorumLostKnobs{forceOptionB: true, contactLagGrows: 1})
	require.Equal(t, Correctness, grown.Outcome, grown.Reason)
	require.Contains(t, grown.Reason, "contact lag moved")
}
