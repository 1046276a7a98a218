package sim

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDiskDurablyAltered: a rewrite heals a damaged sector for reads at once, but only its
// sync makes the repair durable; DurablyAltered reports the damage a crash would bring back,
// and the crash does bring it back.
func TestDiskDurablyAltered(t *testing.T) {
	h := newDiskHarness(t, 32, diskOptionsClean())
	require.NoError(t, h.create("f"))
	data := diskSectorsOf(4)
	require.NoError(t, h.write("f", 0, data))
	require.NoError(t, h.sync("f"))
	require.Empty(t, h.disk.DurablyAltered("f", 0, 4*diskSector))

	h.disk.CorruptSector("f", 2*diskSector+7)
	require.Len(t, h.disk.DurablyAltered("f", 0, 4*diskSector), 1, "synced damage is durable")
	require.NoError(t, h.write("f", 2*diskSector, data[2*diskSector:3*diskSector]))
	require.Empty(t, h.disk.Altered("f", 0, 4*diskSector), "the rewrite heals reads at once")
	require.Equal(t, []DiskFault{{Name: "f", Sector: 2, Offset: 2 * diskSector, Kind: FaultCorruption}},
		h.disk.DurablyAltered("f", 0, 4*diskSector), "but not durably")
	require.Empty(t, h.disk.DurablyAltered("f", 0, 2*diskSector))

	require.NoError(t, h.sync("f"))
	require.Empty(t, h.disk.DurablyAltered("f", 0, 4*diskSector), "the sync makes the repair durable")

	// A crash that loses the unsynced rewrite brings the damage back, as reported.
	opts := diskOptionsClean()
	opts.CrashLostProbability = 1
	lossy := newDiskHarness(t, 33, opts)
	require.NoError(t, lossy.create("f"))
	require.NoError(t, lossy.write("f", 0, data))
	require.NoError(t, lossy.sync("f"))
	lossy.disk.CorruptSector("f", 7)
	require.NoError(t, lossy.write("f", 0, data[:diskSector]))
	want := lossy.disk.DurablyAltered("f", 0, 4*diskSector)
	require.Len(t, want, 1)
	lossy.disk.Crash()
	require.Equal(t, want, lossy.disk.Altered("f", 0, 4*diskSector))
}
