//go:build vopr_mutants

package scenarios

import (
	"flag"
	"testing"

	"vopr/cluster/vsr"
)

var voprMutationName = flag.String("vopr.mutation", "", "TestVOPR: a planted bug to run (vopr list mutations)")

// voprMutation is -vopr.mutation, in a test binary built with -tags vopr_mutants.
func voprMutation(t *testing.T) vsr.Mutation {
	if *voprMutationName == "" {
		return vsr.MutationNone
	}
	m, ok := LookupMutation(*voprMutationName)
	if !ok {
		t.Fatalf("-vopr.mutation %q: expected one of %v", *voprMutationName, MutationNames())
	}
	return m
}
