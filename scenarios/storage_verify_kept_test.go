package scenarios

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/storage"
	"vopr/sim"
)

// keptDisk returns a disk whose file f holds a write a failed sync kept whole, the engine not
// yet through with the failure (sim.Disk.SyncKept).
func keptDisk(t *testing.T) (*sim.Loop, *sim.Disk) {
	opts := sim.DiskOptions{ReadLatencyMin: sim.Microsecond, ReadLatencyMean: sim.Microsecond,
		WriteLatencyMin: sim.Microsecond, WriteLatencyMean: sim.Microsecond, SyncErrorProbability: 1, Capacity: 1 << 20}
	for seed := uint64(1); seed < 200; seed++ {
		loop := sim.NewLoop()
		disk := sim.NewDisk(loop, sim.Stream(seed, "disk/0"), sim.NewTrace(loop.Now), 0, opts)
		disk.SetSyncKeepStream(sim.Stream(seed, "disk/0/sync_kept"))
		var errs []error
		disk.Create("f", func(err error) {
			errs = append(errs, err)
			disk.WriteAt("f", bytes.Repeat([]byte{7}, storage.SectorSize), 0, func(err error) {
				errs = append(errs, err)
				disk.Sync("f", func(err error) { errs = append(errs, err) })
			})
		})
		for loop.Step() {
		}
		require.Len(t, errs, 3)
		require.NoError(t, errs[1])
		require.ErrorIs(t, errs[2], storage.ErrIO)
		if len(disk.SyncKept("f")) > 0 {
			disk.SetFaultsEnabled(false)
			return loop, disk
		}
	}
	t.Fatal("no failed sync kept its write")
	return nil, nil
}

// The storage verify check counts a write a failed sync kept as the disk's damage while the
// engine cannot yet have dealt with it (a crash, or a verify's snapshot, in between finds a
// failed append's record over a cut entry: the op faulty, which is right), and no longer once
// the engine got through the failure without writing over it: what it left is its own doing.
func TestStorageVerifyCountsKeptWritesUntilTheEngineIsThrough(t *testing.T) {
	loop, disk := keptDisk(t)
	require.True(t, diskDamage(disk).files["f"], "kept, the engine not yet through")
	disk.Sync("f", func(err error) { require.NoError(t, err) }) // an answer that writes nothing
	for loop.Step() {
	}
	require.False(t, diskDamage(disk).files["f"], "the engine moved on: the kept write is its own")
	require.Equal(t, uint64(1), disk.Stats().SyncKeptSettled, "the moment the swarm verifies the disk")

	loop, disk = keptDisk(t)
	disk.Crash()
	disk.Sync("f", func(err error) { require.NoError(t, err) })
	for loop.Step() {
	}
	require.True(t, diskDamage(disk).files["f"], "a crash before the engine was through: the disk's damage for good")
	require.Equal(t, uint64(0), disk.Stats().SyncKeptSettled)
}
