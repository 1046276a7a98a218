package sim

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/storage"
)

// An aimed truncate error fails the next Truncate of its file with ErrIO and leaves the file
// as it was, volatile bytes and size included, through a crash; it strikes once, and the
// Truncate after it goes through. With afterWrite it waits for the armed write error.
func TestDiskAimedTruncateErrorLeavesTheFile(t *testing.T) {
	h := newDiskHarness(t, 11, diskOptionsClean())
	require.NoError(t, h.create("f"))
	synced, unsynced := diskSectorsOf(2), diskFill(0xee, diskSector)
	require.NoError(t, h.write("f", 0, synced))
	require.NoError(t, h.sync("f"))
	require.NoError(t, h.write("f", 2*diskSector, unsynced))

	h.disk.ArmTruncateError("g", false)
	require.NoError(t, h.create("g"))
	h.disk.ArmTruncateError("f", true)
	require.NoError(t, h.truncate("f", diskSector), "afterWrite: no armed write error fired yet")
	require.False(t, h.disk.DisarmTruncateError())
	require.NoError(t, h.write("f", diskSector, synced[diskSector:]))
	require.NoError(t, h.write("f", 2*diskSector, unsynced))

	h.disk.ArmTruncateError("f", false)
	require.ErrorIs(t, h.truncate("f", 0), storage.ErrIO)
	require.Equal(t, append(append([]byte{}, synced...), unsynced...), h.readAll("f"), "the failed truncate cut nothing")
	require.NoError(t, h.truncate("f", 0), "one shot")
	require.True(t, h.disk.DisarmTruncateError())
	require.Empty(t, h.readAll("f"))

	require.NoError(t, h.write("f", 0, synced))
	require.NoError(t, h.sync("f"))
	h.disk.ArmTruncateError("f", true)
	h.disk.ArmWriteError("f", 0, diskSector)
	require.ErrorIs(t, h.write("f", 0, unsynced), storage.ErrIO)
	require.ErrorIs(t, h.truncate("f", 0), storage.ErrIO, "afterWrite: the cut after the failed write")
	h.disk.Crash()
	h.settle()
	require.Equal(t, synced, h.readAll("f"), "the failed truncate changed nothing durable")
}

// An aimed remove error fails the next Remove of its file with ErrIO; the file stays, whole,
// and the Remove after it goes through.
func TestDiskAimedRemoveErrorKeepsTheFile(t *testing.T) {
	h := newDiskHarness(t, 12, diskOptionsClean())
	require.NoError(t, h.create("f"))
	data := diskSectorsOf(2)
	require.NoError(t, h.write("f", 0, data))
	require.NoError(t, h.sync("f"))
	used := h.disk.Usage()
	h.disk.ArmRemoveError("f")
	require.ErrorIs(t, h.remove("f"), storage.ErrIO)
	require.Equal(t, data, h.readAll("f"))
	require.Equal(t, used, h.disk.Usage())
	require.NoError(t, h.remove("f"))
	require.True(t, h.disk.DisarmRemoveError())
	require.ErrorIs(t, h.remove("f"), storage.ErrNotExist)
}
