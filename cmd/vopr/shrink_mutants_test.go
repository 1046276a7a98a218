//go:build vopr_mutants

package main

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
	"vopr/scenarios"
)

// withMutation makes the command line's swarm scenario run with a planted bug, through the
// scenario lookup the tests already replace (a binary built without -tags vopr_mutants
// cannot run one, so the command line has no flag for it).
func withMutation(t *testing.T, m vsr.Mutation) {
	saved := lookupScenario
	t.Cleanup(func() { lookupScenario = saved })
	lookupScenario = func(name string) (scenarios.Scenario, bool) {
		s, ok := saved(name)
		if ok && name == swarmScenario {
			run := s.Run
			s.Run = func(o scenarios.Options) scenarios.Result {
				o.Mutation = m
				return run(o)
			}
		}
		return s, ok
	}
}

// A planted bug's failing swarm seed shrinks to fewer fault kinds, and the replay command it
// prints, run through the command line, fails the same way: same invariant, same trace.
// Run with: go test -tags vopr_mutants -run Mutants ./cmd/vopr/
func TestShrinkMutantsReplay(t *testing.T) {
	for _, c := range []struct {
		m         vsr.Mutation
		seed      string
		invariant string
	}{
		{vsr.MutationForgetClientTable, "5", "FAIL correctness: invariant digest_agreement violated: "},
		{vsr.MutationCommitPastOpAfterSync, "6", "fail-stopped at "},
	} {
		t.Run(c.m.String(), func(t *testing.T) {
			withMutation(t, c.m)
			shrink, replayed := shrunkReplay(t, exitCorrectness, c.seed)
			require.Contains(t, shrink, c.invariant)
			require.Contains(t, replayed, c.invariant)
			kinds := kindsLine.FindStringSubmatch(shrink)
			require.NotNil(t, kinds, shrink)
			before, _ := strconv.Atoi(kinds[1])
			after, _ := strconv.Atoi(kinds[2])
			require.Less(t, after, before, "fewer fault kinds")
			require.Contains(t, replayLine.FindString(shrink), " --without ")
			first := strings.SplitN(replayed, "\n", 2)[0]
			require.Contains(t, first, "override=[--without ")
			t.Logf("%s seed %s: kinds %d -> %d; %s", c.m, c.seed, before, after, replayLine.FindString(shrink))
		})
	}
}
