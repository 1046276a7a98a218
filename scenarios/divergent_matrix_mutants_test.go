//go:build vopr_mutants

package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
)

// Teeth, with planted bugs: a primary that commits on its own vote
// (vsr.MutationCommitWithoutQuorum) commits r0's divergent ops while it is cut off; the Suite
// names it (commit_quorum), and with the Suite off the judge's own check names the committed
// op executed with another prepare. A replica that forgets its client table at recovery
// (vsr.MutationForgetClientTable) executes the retried registers again after its crash
// (digest_agreement). The same seeds pass without the bugs (TestDivergentMatrixSeedsPass).
func TestMutantsCaughtByDivergentMatrix(t *testing.T) {
	p := drawDivergent(1)
	r := runDivergent(Options{Seed: 1, Mutation: vsr.MutationCommitWithoutQuorum}, p)
	require.Equal(t, Correctness, r.Outcome, r.Reason)
	require.Contains(t, r.Reason, "commit_quorum")
	r = runDivergent(Options{Seed: 1, Mutation: vsr.MutationCommitWithoutQuorum, Unchecked: true}, p)
	require.Equal(t, Correctness, r.Outcome, r.Reason)
	require.Contains(t, r.Reason, "but prepare")
	require.Contains(t, r.Reason, "was committed there")
	// Seed 3: r0 executes the retried registers again after a crash past the first checkpoint
	// (seed 1 no longer crashes it where the table matters since the checkpoint variants).
	r = runDivergent(Options{Seed: 3, Mutation: vsr.MutationForgetClientTable}, drawDivergent(3))
	require.Equal(t, Correctness, r.Outcome, r.Reason)
	require.Contains(t, r.Reason, "digest_agreement")
}
