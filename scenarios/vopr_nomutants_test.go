//go:build !vopr_mutants

package scenarios

import (
	"testing"

	"vopr/cluster/vsr"
)

// voprMutation: a test binary without the vopr_mutants tag has no -vopr.mutation flag and
// no planted bugs.
func voprMutation(t *testing.T) vsr.Mutation { return vsr.MutationNone }
