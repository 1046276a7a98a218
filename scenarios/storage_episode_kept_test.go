package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/storage"
)

// TestStorageEpisodeFallbackEntriesCheckFires feeds checkFallbackEntries a disk on which an
// acknowledged entry under the checkpoint, which a fallback would replay, no longer reads
// whole (storage.checkpoint_region_cut_at_entry_start, storage_crash seed 6991: the cut above
// a damaged checkpoint op landed at the start of the intact entry below it, not its end), and
// one whose segment file a compaction removed.
func TestStorageEpisodeFallbackEntriesCheckFires(t *testing.T) {
	var e *storeEpisode
	var kept []fallbackEntry
	for seed := uint64(1); seed < 200 && len(kept) == 0; seed++ {
		e, _ = episodeRecovery(t, seed)
		kept = e.fallbackEntries()
	}
	require.NotEmpty(t, kept, "no seed has entries under a checkpoint of its own")
	e.checkFallbackEntries(kept, e.m.CP, "in the test")
	require.Empty(t, e.failure, "untouched entries pass")
	k := kept[len(kept)-1]
	e.disk.CorruptSector(k.name, k.offset+k.size-storage.SectorSize)
	e.checkFallbackEntries(kept, e.m.CP, "in the test")
	require.Contains(t, e.failure, "which a fallback past the checkpoint replays, was destroyed in the test")
	e.failure = ""
	gone := []fallbackEntry{k}
	gone[0].name = "log-00000000000000ff"
	e.checkFallbackEntries(gone, e.m.CP, "in the test")
	require.Empty(t, e.failure, "a segment file a compaction removed is no loss")
}
