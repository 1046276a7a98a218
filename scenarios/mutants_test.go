//go:build vopr_mutants

package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
)

// mutantSeedsMax is how many seeds of the swarm scenario each planted bug may survive.
const mutantSeedsMax = 20

// mutantScenario is the scenario that exercises a planted bug's code path: the swarm, or
// rolling_upgrade for the upgrade protocol (the swarm never upgrades).
func mutantScenario(m vsr.Mutation) string {
	if m == vsr.MutationUpgradeAtHighestRelease {
		return "rolling_upgrade"
	}
	return "swarm"
}

// TestMutantsStandbyLagCheckFires: a standby whose lag grows on an idle cluster is caught by
// standby_lag_truth as soon as its lag passes what it was told (over-reported), before the
// check of the standbys' own lag after the hold (eligible=false) sees it.
func TestMutantsStandbyLagCheckFires(t *testing.T) {
	s, ok := Lookup("swarm")
	require.True(t, ok)
	for seed := uint64(1); seed <= mutantSeedsMax; seed++ {
		r := s.Run(Options{Seed: seed, Mutation: vsr.MutationStandbyLagStuck})
		if r.Outcome != Pass {
			require.Equal(t, Correctness, r.Outcome, "seed %d: %s", seed, r.Reason)
			require.Contains(t, r.Reason, "(over-reported)", "seed %d", seed)
			return
		}
	}
	t.Fatalf("a stuck standby lag survived %d seeds", mutantSeedsMax)
}

// TestMutantsCaughtByTheirCheck: each of these planted bugs is caught, within mutantSeedsMax
// swarm seeds, by the check built for its class, and not first by another one:
//   - a retry of an executed request never answered: the reply cut after the heal
//     (swarm_reply_loss.go) makes the client give up while others are served;
//   - a heartbeat that no longer holds elections off: the idle hold's stable view
//     (swarm_stable_view.go);
//   - a valid reconfiguration refused: the model of membership changes (swarm_reconfig.go).
func TestMutantsCaughtByTheirCheck(t *testing.T) {
	cases := []struct {
		m       vsr.Mutation
		outcome Outcome
		reason  string
	}{
		{vsr.MutationRetryUnanswered, Liveness, "no replica answered it"},
		{vsr.MutationHeartbeatKeepsElection, Liveness, "changed views while idle"},
		{vsr.MutationReconfigRefusesFirstSlot, Correctness, "which its configuration allows"},
	}
	s, ok := Lookup("swarm")
	require.True(t, ok)
	for _, tc := range cases {
		t.Run(tc.m.String(), func(t *testing.T) {
			for seed := uint64(1); seed <= mutantSeedsMax; seed++ {
				r := s.Run(Options{Seed: seed, Mutation: tc.m})
				if r.Outcome != Pass {
					require.Equal(t, tc.outcome, r.Outcome, "seed %d: %s", seed, r.Reason)
					require.Contains(t, r.Reason, tc.reason, "seed %d", seed)
					return
				}
			}
			t.Fatalf("%s survived %d seeds", tc.m, mutantSeedsMax)
		})
	}
}

// TestMutantsAreCaught plants each bug of vsr.Mutations in the replicas and requires its
// scenario to fail within mutantSeedsMax seeds: proof that the harness has teeth.
// Run with: go test -tags vopr_mutants -run Mutants ./scenarios/
func TestMutantsAreCaught(t *testing.T) {
	require.True(t, vsr.MutantsEnabled())
	for _, m := range vsr.Mutations() {
		t.Run(m.String(), func(t *testing.T) {
			s, ok := Lookup(mutantScenario(m))
			require.True(t, ok)
			for seed := uint64(1); seed <= mutantSeedsMax; seed++ {
				r := s.Run(Options{Seed: seed, Mutation: m})
				if r.Outcome != Pass {
					t.Logf("%s caught at seed %d: %s: %s", m, seed, r.Outcome, r.Reason)
					return
				}
			}
			t.Fatalf("%s survived %d seeds", m, mutantSeedsMax)
		})
	}
}
