package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/storage"
)

// TestStorageEpisodeLostWriteCheckFires runs episodes to their end, where the lost-write
// check replaces an op and puts its older entry back: they pass on the running engine's
// Verify, and fail with the knob that scans a freshly opened engine instead, whose index is
// read from the same disk and so takes the older entry for the op's (as a Verify that
// compares entries by their place, not their identity, does:
// storage.verify_compares_offset_not_chain).
func TestStorageEpisodeLostWriteCheckFires(t *testing.T) {
	fired := 0
	for seed := uint64(1); seed < 200 && fired < 3; seed++ {
		e := newStorageEpisode(seed)
		e.run(e.rng.IntN(6*len(e.steps) + 1))
		require.Empty(t, e.failure, "seed %d", seed)
		if e.counters["coverage.storage_episode.lost_writes"] == 0 {
			continue
		}
		e = newStorageEpisode(seed)
		e.lostWriteReopens = true
		e.run(e.rng.IntN(6*len(e.steps) + 1))
		require.Contains(t, e.failure, "its older entry and record put back", "seed %d", seed)
		fired++
	}
	require.Equal(t, 3, fired, "too few seeds reached the lost write")
	require.Empty(t, judgeLostWrite(storage.VerifyReport{Faulty: []uint64{3, 5}}, 5, "lost"))
	require.Contains(t, judgeLostWrite(storage.VerifyReport{OK: true}, 5, "lost"), "op 5 replaced")
}
