package sim

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/storage"
)

// A standing ErrNoSpace aim refuses every write its match picks, and only those: the write
// changes nothing and is counted; a write it does not pick goes through; with faults off, or
// once withdrawn, it refuses nothing; and the disk's stream is not drawn from (the aimed disk
// draws as one whose same write an armed write error failed).
func TestDiskAimNoSpace(t *testing.T) {
	h := newDiskHarness(t, 9, diskOptionsClean())
	plain := newDiskHarness(t, 9, diskOptionsClean())
	for _, d := range []*diskHarness{h, plain} {
		require.NoError(t, d.create("f"))
		require.NoError(t, d.write("f", 0, diskSectorsOf(3)))
		require.NoError(t, d.sync("f"))
	}
	asked := 0
	h.disk.AimNoSpace(func(name string, offset int64, data []byte) bool {
		asked++
		return name == "f" && offset == diskSector && data[0] == 0xEE
	})
	mark := diskFill(0xEE, diskSector)
	require.ErrorIs(t, h.write("f", diskSector, mark), storage.ErrNoSpace)
	plain.disk.ArmWriteError("f", diskSector, diskSector+1)
	require.ErrorIs(t, plain.write("f", diskSector, mark), storage.ErrIO)
	got, err := h.read("f", diskSector, diskSector)
	require.NoError(t, err)
	require.Equal(t, diskSectorsOf(3)[diskSector:2*diskSector], got, "a refused write changes nothing")
	_, err = plain.read("f", diskSector, diskSector)
	require.NoError(t, err)
	require.Equal(t, uint64(1), h.disk.Stats().NoSpace)
	require.NoError(t, h.write("f", 2*diskSector, mark), "not picked")
	require.NoError(t, plain.write("f", 2*diskSector, mark))
	h.disk.SetFaultsEnabled(false)
	require.NoError(t, h.write("f", diskSector, mark), "faults off")
	require.NoError(t, plain.write("f", diskSector, mark))
	h.disk.SetFaultsEnabled(true)
	h.disk.AimNoSpace(nil)
	require.NoError(t, h.write("f", diskSector, mark), "withdrawn")
	require.NoError(t, plain.write("f", diskSector, mark))
	require.Equal(t, 2, asked)
	require.Equal(t, plain.disk.rng.Uint64(), h.disk.rng.Uint64(), "the aim drew from the disk's stream")
}

// An armed sync error fails the next Sync that covers a write into its range, and keeps
// every write it covered, durable: the file reads as written, a crash keeps it, and a later
// Sync succeeds. A Sync covering no write in the range goes through and leaves it armed.
func TestDiskArmSyncErrorKeepsTheWrites(t *testing.T) {
	h := newDiskHarness(t, 9, diskOptionsClean())
	require.NoError(t, h.create("f"))
	require.NoError(t, h.write("f", 0, diskFill(0x11, 4*diskSector)))
	require.NoError(t, h.sync("f"))
	h.disk.ArmSyncError("f", 0, diskSector)
	require.NoError(t, h.write("f", 2*diskSector, diskFill(0x22, diskSector)))
	require.NoError(t, h.sync("f"), "no write into the range")
	require.NoError(t, h.write("f", 0, diskFill(0x33, diskSector)))
	require.NoError(t, h.write("f", 3*diskSector, diskFill(0x44, diskSector)))
	require.ErrorIs(t, h.sync("f"), storage.ErrIO)
	want := append(append(diskFill(0x33, diskSector), diskFill(0x11, diskSector)...), diskFill(0x22, diskSector)...)
	want = append(want, diskFill(0x44, diskSector)...)
	require.Equal(t, want, h.readAll("f"))
	require.Equal(t, uint64(1), h.disk.Stats().SyncErrors)
	require.NoError(t, h.sync("f"), "taken once")
	h.disk.Crash()
	require.Equal(t, want, h.readAll("f"), "what the failed sync covered is durable")
	require.True(t, h.disk.DisarmSyncError())
	require.False(t, h.disk.DisarmSyncError(), "disarmed")
}
