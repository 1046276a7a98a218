package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/scenarios"
)

// TestEveryMutationHasADescription: `vopr list mutations` says what each planted bug does; a
// bug added to cluster/vsr/mutation.go without a line here would list with an empty one.
func TestEveryMutationHasADescription(t *testing.T) {
	names := scenarios.MutationNames()
	require.NotEmpty(t, names)
	for _, name := range names {
		require.NotEmpty(t, mutationDescriptions[name], "planted bug %s has no description", name)
	}
	require.Len(t, mutationDescriptions, len(names), "a description names no planted bug")
}
