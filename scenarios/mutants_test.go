//go:build vopr_mutants

package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
)

// mutantSeedsMax is how many seeds of the swarm scenario each planted bug may survive.
const mutantSeedsMax = 20

// TestMutantsAreCaught plants each bug of vsr.Mutations in the replicas and requires the
// swarm scenario to fail within mutantSeedsMax seeds: proof that the harness has teeth.
// Run with: go test -tags vopr_mutants -run Mutants ./scenarios/
func TestMutantsAreCaught(t *testing.T) {
	require.True(t, vsr.MutantsEnabled())
	for _, m := range vsr.Mutations() {
		t.Run(m.String(), func(t *testing.T) {
			for seed := uint64(1); seed <= mutantSeedsMax; seed++ {
				r := runSwarm(Options{Seed: seed, Mutation: m})
				if r.Outcome != Pass {
					t.Logf("%s caught at seed %d: %s: %s", m, seed, r.Outcome, r.Reason)
					return
				}
			}
			t.Fatalf("%s survived %d seeds", m, mutantSeedsMax)
		})
	}
}
