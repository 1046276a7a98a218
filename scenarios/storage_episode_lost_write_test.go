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
	knobFiring{seeds: 199, want: 3, every: true, failure: "its older entry and record put back",
		reached: func(c map[string]uint64) bool { return c["coverage.storage_episode.lost_writes"] > 0 },
		knob:    func(e *storeEpisode) { e.lostWriteReopens = true },
		why:     "too few seeds reached the lost write"}.run(t)
	require.Empty(t, judgeLostWrite(storage.VerifyReport{Faulty: []uint64{3, 5}}, 5, "lost"))
	require.Contains(t, judgeLostWrite(storage.VerifyReport{OK: true}, 5, "lost"), "op 5 replaced")
}
