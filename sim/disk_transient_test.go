package sim

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/storage"
)

// A healed latent error reads back the bytes written under it; a sector without one, or a
// file that does not exist, is left alone.
func TestDiskHealLatent(t *testing.T) {
	h := newDiskHarness(t, 9, diskOptionsClean())
	require.NoError(t, h.create("f"))
	data := diskSectorsOf(3)
	require.NoError(t, h.write("f", 0, data))
	require.NoError(t, h.sync("f"))
	h.disk.LatentSectorError("f", diskSector)
	_, err := h.read("f", diskSector, diskSector)
	require.ErrorIs(t, err, storage.ErrIO)

	require.False(t, h.disk.HealLatent("f", 0), "no latent error there")
	require.False(t, h.disk.HealLatent("g", diskSector), "no such file")
	require.True(t, h.disk.HealLatent("f", diskSector+7))
	got, err := h.read("f", diskSector, diskSector)
	require.NoError(t, err)
	require.Equal(t, data[diskSector:2*diskSector], got)
	require.Empty(t, h.disk.Faults())
	require.False(t, h.disk.HealLatent("f", diskSector), "healed once")
}

// A latent error a misdirected write left over its old bytes is not the disk's to heal: under
// it lie the bytes the write meant to put there, which never arrived.
func TestDiskHealLatentLeavesMisdirectedAway(t *testing.T) {
	h := newDiskHarness(t, 9, diskOptionsClean())
	require.NoError(t, h.create("f"))
	data := diskSectorsOf(4)
	require.NoError(t, h.write("f", 0, data))
	require.NoError(t, h.sync("f"))
	h.disk.LatentSectorError("f", 0)
	h.disk.ArmMisdirect("f", 0, diskSector)
	require.NoError(t, h.write("f", 0, diskSectorsOf(1)))
	require.True(t, h.disk.DisarmMisdirect(), "the write went elsewhere")
	require.False(t, h.disk.HealLatent("f", 0))
	_, err := h.read("f", 0, diskSector)
	require.ErrorIs(t, err, storage.ErrIO, "still the old latent error")
}

// An armed write error fails the next write that starts in its range, and only that one:
// the write changes nothing, a write outside the range before it goes through, and the
// disk's stream is not drawn from (the armed disk draws as an unarmed one).
func TestDiskArmWriteError(t *testing.T) {
	h := newDiskHarness(t, 9, diskOptionsClean())
	require.NoError(t, h.create("f"))
	old := diskSectorsOf(3)
	require.NoError(t, h.write("f", 0, old))
	require.NoError(t, h.sync("f"))
	h.disk.ArmWriteError("f", diskSector, diskSector+1)
	require.NoError(t, h.write("f", 0, diskSectorsOf(1)), "outside the range")
	require.ErrorIs(t, h.write("f", diskSector, make([]byte, diskSector)), storage.ErrIO)
	got, err := h.read("f", diskSector, diskSector)
	require.NoError(t, err)
	require.Equal(t, old[diskSector:2*diskSector], got, "a failed write changes nothing")
	require.NoError(t, h.write("f", diskSector, make([]byte, diskSector)), "taken once")
	require.True(t, h.disk.DisarmWriteError())
	require.False(t, h.disk.DisarmWriteError(), "disarmed")
}
