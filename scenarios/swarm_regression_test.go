package scenarios

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/faults"
)

// swarmRegressionSeeds are swarm seeds that once found a bug in the replica or the storage
// engine, each with the bug it found; they must keep passing. They run without the aimed
// moves, which came after them: so each runs the very schedule that found its bug.
var swarmRegressionSeeds = map[uint64]string{
	261:  "a restarted primary led its old view again and prepared a different op at the same number",
	3008: "a restarted view-0 primary re-prepared op 1",
	1866: "repairing a corrupt entry truncated the log after it, un-persisting acknowledged ops; a crash lost one",
	2142: "the chosen do_view_change lacked the header of its faulty head op while others held it: the new primary could neither repair nor truncate it",
	1526: "a restarted primary that had forgotten its lowest ops' headers asked only for those, never for the one the chain could verify",
}

func TestSwarmRegressionSeeds(t *testing.T) {
	for _, seed := range sortedKeysOf(swarmRegressionSeeds) {
		r := runSwarm(Options{Seed: seed, SwarmOverride: SwarmOverride{Without: faults.AimedKinds()}})
		require.Equal(t, Pass, r.Outcome, "seed %d (%s): %s", seed, swarmRegressionSeeds[seed], r.Reason)
	}
}

func sortedKeysOf(m map[uint64]string) []uint64 {
	keys := make([]uint64, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
