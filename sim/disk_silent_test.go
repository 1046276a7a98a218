package sim

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/storage"
)

// An armed kept sync error fails the next Sync of the file with ErrIO, and every write it
// covered is durable all the same: a crash keeps them whole, and SyncKept names their
// sectors. It strikes once; the next Sync succeeds. The disk's own stream is not drawn from.
func TestDiskArmSyncErrorKept(t *testing.T) {
	h, plain := newDiskHarness(t, 5, diskOptionsClean()), newDiskHarness(t, 5, diskOptionsClean())
	old, fresh := diskFill(0x11, 2*diskSector), diskFill(0x22, 2*diskSector)
	for _, d := range []*diskHarness{h, plain} {
		require.NoError(t, d.create("f"))
		require.NoError(t, d.write("f", 0, old))
		require.NoError(t, d.sync("f"))
	}
	h.disk.ArmSyncErrorKept("f")
	for _, d := range []*diskHarness{h, plain} {
		require.NoError(t, d.write("f", 2*diskSector, fresh))
	}
	require.ErrorIs(t, h.sync("f"), storage.ErrIO, "the armed sync fails")
	require.True(t, h.disk.DisarmSyncError(), "a sync took it")
	require.NoError(t, plain.sync("f"))
	require.Equal(t, []int64{2, 3}, h.disk.SyncKept("f"), "the covered write is kept whole")
	require.Equal(t, plain.disk.rng.Uint64(), h.disk.rng.Uint64(), "the disk's stream drew otherwise")
	h.disk.Crash()
	want := append(append([]byte{}, old...), fresh...)
	require.Equal(t, want, h.readAll("f"), "a crash keeps the failed sync's write: it landed")

	// Disarmed after one strike: the next failed sync is not kept, nor failed.
	require.NoError(t, h.write("f", 0, fresh))
	require.NoError(t, h.sync("f"))
}

// An armed lost write completes without error and changes nothing: at the end of a file it
// does not grow it, so a read there finds the file's end, and a crash finds the file as it
// was; a write outside its range, or after it struck, goes through.
func TestDiskArmLostWrite(t *testing.T) {
	h := newDiskHarness(t, 6, diskOptionsClean())
	require.NoError(t, h.create("f"))
	first := diskFill(0x11, 2*diskSector)
	require.NoError(t, h.write("f", 0, first))
	require.NoError(t, h.sync("f"))
	h.disk.ArmLostWrite("f", 2*diskSector, 1<<40)
	require.NoError(t, h.write("f", 0, diskFill(0x33, diskSector)), "a write below the range goes through")
	require.NoError(t, h.write("f", 2*diskSector, diskFill(0x22, 3*diskSector)), "the lost write reports success")
	require.True(t, h.disk.DisarmLostWrite(), "a write took it")
	size, err := h.disk.Size("f")
	require.NoError(t, err)
	require.Equal(t, int64(2*diskSector), size, "a lost write at the end leaves the file's size")
	require.NoError(t, h.sync("f"))
	h.disk.Crash()
	want := append(diskFill(0x33, diskSector), first[diskSector:]...)
	require.Equal(t, want, h.readAll("f"), "the lost write's bytes are nowhere")
	require.Equal(t, uint64(1), h.disk.Stats().LostWrites)
	require.False(t, h.disk.DisarmLostWrite(), "disarmed")

	// In the middle of a file it leaves the old bytes.
	h.disk.ArmLostWrite("f", 0, diskSector)
	require.NoError(t, h.write("f", 0, diskFill(0x44, diskSector)))
	require.Equal(t, want, h.readAll("f"), "the old bytes stay")
	require.NoError(t, h.write("f", 0, diskFill(0x44, diskSector)), "the next write goes through")
	require.Equal(t, diskFill(0x44, diskSector), h.readAll("f")[:diskSector])
}
