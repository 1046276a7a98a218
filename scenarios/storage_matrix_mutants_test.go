//go:build vopr_mutants

package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
)

// Teeth, with a planted bug: a new primary that takes the do_view_change with the lowest op
// (vsr.MutationDoViewChangeLowestOp) starts its view from a log that lacks committed ops.
// On placement 0x1c3 (seed 452: ops 1-2 damaged on replica 0, ops 3-4 on replica 1, op 1 on
// replica 2), replica 1 recovers a log that ends at op 3 and the mutant picks it. The Suite
// catches the lost op (acked_survive), and so does the matrix's own judge with the Suite off;
// the same seed passes without the bug.
func TestMutantsCaughtByStorageMatrix(t *testing.T) {
	const seed = 452
	p := drawMatrix3(seed)
	require.Equal(t, uint64(0x1c3), p.placement)
	require.Equal(t, Pass, runMatrix(Options{Seed: seed}, p, matrixKnobs{}).Outcome)
	mutant := Options{Seed: seed, Mutation: vsr.MutationDoViewChangeLowestOp}
	r := runMatrix(mutant, p, matrixKnobs{})
	require.Equal(t, Correctness, r.Outcome, r.Reason)
	require.Contains(t, r.Reason, "acked_survive")
	mutant.Unchecked = true
	r = runMatrix(mutant, p, matrixKnobs{})
	require.Equal(t, Correctness, r.Outcome, r.Reason)
	require.Contains(t, r.Reason, "storage_matrix: replica 1 is the normal primary of view 1 with op_number 3")
}
