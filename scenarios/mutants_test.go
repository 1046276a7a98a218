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

// TestMutantsStandbyLagCheckFires: a standby whose lag grows on an idle cluster is caught by the
// swarm's check of the standbys' own lag after the hold, and by nothing else first.
func TestMutantsStandbyLagCheckFires(t *testing.T) {
	s, ok := Lookup("swarm")
	require.True(t, ok)
	for seed := uint64(1); seed <= mutantSeedsMax; seed++ {
		r := s.Run(Options{Seed: seed, Mutation: vsr.MutationStandbyLagStuck})
		if r.Outcome != Pass {
			require.Equal(t, Liveness, r.Outcome, "seed %d: %s", seed, r.Reason)
			require.Contains(t, r.Reason, "executed every committed op", "seed %d", seed)
			require.Contains(t, r.Reason, "eligible=false", "seed %d", seed)
			return
		}
	}
	t.Fatalf("a stuck standby lag survived %d seeds", mutantSeedsMax)
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
