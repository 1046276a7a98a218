package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/storage"
)

// TestStorageEpisodeTailLostCheckFires runs episodes to their end, where the lost-tail check
// cuts a segment short and removes the later ones: they pass on the running engine's Verify,
// and fail with the knob that scans a freshly opened engine instead, whose index is read from
// the cut disk and so no longer holds the ops of the removed files (as a Verify that names only
// the ops its scan places, not those of the index it lost, does:
// storage.verify_faulty_omits_missing_entries).
func TestStorageEpisodeTailLostCheckFires(t *testing.T) {
	knobFiring{seeds: 299, want: 3, every: true, failure: "lost tail",
		reached: func(c map[string]uint64) bool { return c["coverage.storage_episode.tail_segments_lost"] > 0 },
		knob:    func(e *storeEpisode) { e.tailLostReopens = true },
		why:     "too few seeds lost a segment file"}.run(t)
	require.Empty(t, judgeTailLost(storage.VerifyReport{Faulty: []uint64{3, 5, 6}}, []uint64{5, 6}, "cut"))
	require.Contains(t, judgeTailLost(storage.VerifyReport{Faulty: []uint64{5}}, []uint64{5, 6}, "cut"), "ops [6] faulty")
	require.Contains(t, judgeTailLost(storage.VerifyReport{OK: true}, []uint64{5}, "cut"), "lost tail")
}
