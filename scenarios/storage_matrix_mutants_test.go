//go:build vopr_mutants

package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
)

// Teeth, with a planted bug: a new primary that takes the do_view_change with the lowest op
// (vsr.MutationDoViewChangeLowestOp) starts its view from a log that lacks committed ops.
// In storage_matrix5 seed 2, replicas lag (they never received the later ops), and the mutant
// picks a lagging replica's short log. The Suite catches the lost op (acked_survive), and so
// does the matrix's own judge with the Suite off; the same seed passes without the bug. (The
// 3-replica matrix used to catch it too, but only through the storage engine's old bug: a
// replica took its damaged tail for a torn write and recovered a short log. With the
// redundant records every replica of the 3-replica matrix holds all 4 ops, faulty or not, so
// the lowest op is the highest, and the mutant changes nothing there.)
func TestMutantsCaughtByStorageMatrix(t *testing.T) {
	const seed = 2
	p := drawMatrix5(seed)
	require.Equal(t, Pass, runMatrix(Options{Seed: seed}, p, matrixKnobs{}).Outcome)
	mutant := Options{Seed: seed, Mutation: vsr.MutationDoViewChangeLowestOp}
	r := runMatrix(mutant, p, matrixKnobs{})
	require.Equal(t, Correctness, r.Outcome, r.Reason)
	require.Contains(t, r.Reason, "acked_survive")
	mutant.Unchecked = true
	r = runMatrix(mutant, p, matrixKnobs{})
	require.Equal(t, Correctness, r.Outcome, r.Reason)
	require.Contains(t, r.Reason, "is the normal primary of view")
	require.Contains(t, r.Reason, "committed ops")
}
