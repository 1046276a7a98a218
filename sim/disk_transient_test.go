package sim

import (
	"bytes"
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

// A failed sync loses the writes it was to make durable, at once: the file reads as before
// them (or, for a torn one, some of their sectors), a later Sync succeeds without bringing
// them back, and a crash keeps what is left. Only a rewrite makes the data durable.
func TestDiskSyncErrorLosesTheWritesItCovered(t *testing.T) {
	opts := diskOptionsClean()
	opts.SyncErrorProbability = 1
	for seed := uint64(1); seed <= 40; seed++ {
		h := newDiskHarness(t, seed, opts)
		h.disk.SetFaultsEnabled(false)
		require.NoError(t, h.create("f"))
		old := diskFill(0x11, 4*diskSector)
		require.NoError(t, h.write("f", 0, old))
		require.NoError(t, h.sync("f"), "faults off: the sync succeeds")
		h.disk.SetFaultsEnabled(true)

		fresh := diskFill(0x22, 3*diskSector)
		require.NoError(t, h.write("f", diskSector, fresh))
		require.ErrorIs(t, h.sync("f"), storage.ErrIO)
		require.Equal(t, uint64(1), h.disk.Stats().SyncErrors)
		after := h.readAll("f")
		require.Len(t, after, len(old), "the file's length is the durable one")
		require.Equal(t, old[:diskSector], after[:diskSector], "a sector no write touched")
		require.NotEqual(t, append(old[:diskSector:diskSector], fresh...), after,
			"seed %d: the failed sync kept every sector it covered", seed)
		for s := 1; s < 4; s++ {
			sector := after[s*diskSector : (s+1)*diskSector]
			require.True(t, bytes.Equal(sector, old[s*diskSector:(s+1)*diskSector]) ||
				bytes.Equal(sector, fresh[(s-1)*diskSector:s*diskSector]),
				"seed %d: sector %d is neither the old bytes nor the new", seed, s)
		}

		require.NoError(t, h.sync("f"), "nothing left to sync: a later sync succeeds")
		h.disk.Crash()
		require.Equal(t, after, h.readAll("f"), "what the failure left is durable, no more")

		require.NoError(t, h.write("f", diskSector, fresh))
		h.disk.SetFaultsEnabled(false)
		require.NoError(t, h.sync("f"))
		h.disk.Crash()
		require.Equal(t, append(old[:diskSector:diskSector], fresh...), h.readAll("f"), "a rewrite is durable")
	}
}

// A sync behind which a later write completed never fails: its failure would undo bytes the
// later write's images were taken over. One that completes first may.
func TestDiskSyncErrorSparesASyncWithALaterWrite(t *testing.T) {
	opts := diskOptionsClean()
	opts.SyncErrorProbability = 1
	spared, failed := 0, 0
	for seed := uint64(1); seed <= 60; seed++ {
		h := newDiskHarness(t, seed, opts)
		require.NoError(t, h.create("f"))
		require.NoError(t, h.write("f", 0, diskSectorsOf(2)))
		var order []string
		var syncErr error
		h.disk.Sync("f", func(err error) { syncErr = err; order = append(order, "sync") })
		h.disk.WriteAt("f", diskFill(0x33, diskSector), 0, func(err error) {
			require.NoError(t, err)
			order = append(order, "write")
		})
		h.settle()
		require.Len(t, order, 2)
		if order[0] == "write" {
			require.NoError(t, syncErr, "seed %d: a write completed behind the sync", seed)
			spared++
		} else {
			require.ErrorIs(t, syncErr, storage.ErrIO, "seed %d", seed)
			failed++
		}
	}
	require.Positive(t, spared)
	require.Positive(t, failed)
}
