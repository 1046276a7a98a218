package sim

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/storage"
)

// The aimed faults of the healed cluster strike with the disk's random faults off, once: the
// write error takes the next write into its range and changes nothing, the failed sync takes
// the next sync of its file and loses every write it was to make durable, whole; the
// operations after them go through.
func TestDiskAimedFaultsStrikeWithFaultsOff(t *testing.T) {
	h := newDiskHarness(t, 9, diskOptionsClean())
	h.disk.SetFaultsEnabled(false)
	require.NoError(t, h.create("f"))
	old := diskSectorsOf(2)
	other := diskFill(0xee, diskSector)
	require.NoError(t, h.write("f", 0, old))
	require.NoError(t, h.sync("f"))

	h.disk.ArmWriteErrorHealed("f", 0, diskSector, false)
	require.ErrorIs(t, h.write("f", 0, other), storage.ErrIO)
	require.Equal(t, old, h.disk.DurableRange("f", 0, 2*diskSector), "the failed write changed nothing")
	require.True(t, h.disk.DisarmWriteError())
	h.disk.ArmWriteErrorHealed("f", 0, diskSector, true)
	require.ErrorIs(t, h.write("f", 0, other), storage.ErrNoSpace)
	require.ErrorIs(t, h.write("f", 0, other), storage.ErrNoSpace, "a full disk stays full")
	require.True(t, h.disk.DisarmWriteError())

	h.disk.ArmSyncError("f")
	require.NoError(t, h.write("f", diskSector, other))
	require.ErrorIs(t, h.sync("f"), storage.ErrIO)
	require.True(t, h.disk.DisarmSyncError())
	require.Equal(t, old, h.disk.DurableRange("f", 0, 2*diskSector), "the failed sync lost the write whole")
	require.NoError(t, h.write("f", diskSector, other))
	require.NoError(t, h.sync("f"))
	require.Equal(t, other, h.disk.DurableRange("f", diskSector, diskSector))
}
