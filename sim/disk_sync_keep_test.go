package sim

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/storage"
)

// With a keep stream, a failed sync keeps about a quarter of the writes it covered whole
// (durable, a crash keeps them: the page reached the platter though the sync failed), and
// loses or tears the rest as before; SyncKept names a kept write's sectors until a write
// covers them. The disk's own stream draws exactly as a disk's without the keep stream
// does: only the kept writes' outcome differs. Without the change no write is ever kept.
func TestDiskSyncErrorKeepsSomeWritesWhole(t *testing.T) {
	opts := diskOptionsClean()
	opts.SyncErrorProbability = 1
	outcomes := map[string]int{}
	for seed := uint64(1); seed <= 120; seed++ {
		h, plain := newDiskHarness(t, seed, opts), newDiskHarness(t, seed, opts)
		h.disk.SetSyncKeepStream(Stream(seed, "disk/0/sync_kept"))
		old, fresh := diskFill(0x11, 4*diskSector), diskFill(0x22, 3*diskSector)
		for _, d := range []*diskHarness{h, plain} {
			d.disk.SetFaultsEnabled(false)
			require.NoError(t, d.create("f"))
			require.NoError(t, d.write("f", 0, old))
			require.NoError(t, d.sync("f"))
			d.disk.SetFaultsEnabled(true)
			require.NoError(t, d.write("f", diskSector, fresh))
			require.ErrorIs(t, d.sync("f"), storage.ErrIO)
		}
		whole := append(old[:diskSector:diskSector], fresh...)
		after, plainAfter := h.readAll("f"), plain.readAll("f")
		require.Equal(t, plain.disk.rng.Uint64(), h.disk.rng.Uint64(), "seed %d: the disk's stream drew otherwise", seed)
		kept := bytes.Equal(after, whole)
		switch {
		case kept:
			outcomes["kept"]++
			require.Equal(t, []int64{1, 2, 3}, h.disk.SyncKept("f"), "seed %d", seed)
			h.disk.Crash()
			require.Equal(t, whole, h.readAll("f"), "seed %d: a kept write is durable", seed)
		default:
			require.Equal(t, plainAfter, after, "seed %d: a write not kept fares as without the stream", seed)
			require.Empty(t, h.disk.SyncKept("f"))
			if bytes.Equal(after, old) {
				outcomes["lost"]++
			} else {
				outcomes["torn"]++
			}
		}
		require.Empty(t, plain.disk.SyncKept("f"), "no keep stream: nothing kept")
		require.NotEqual(t, whole, plainAfter, "seed %d: no keep stream: nothing kept", seed)
		if kept {
			require.NoError(t, h.write("f", 2*diskSector, diskFill(0x33, diskSector)))
			require.Equal(t, []int64{1, 3}, h.disk.SyncKept("f"), "a sector written over is no longer kept")
			require.NoError(t, h.truncate("f", 3*diskSector))
			require.Equal(t, []int64{1}, h.disk.SyncKept("f"), "a sector cut away is no longer kept")
		}
	}
	// Three-sector writes: lost 3/8, torn 3/8, kept 1/4 (syncLoss).
	require.Greater(t, outcomes["kept"], 15, "kept whole: %v", outcomes)
	require.Less(t, outcomes["kept"], 50, "kept whole: %v", outcomes)
	require.Greater(t, outcomes["lost"], 20, "lost: %v", outcomes)
	require.Greater(t, outcomes["torn"], 20, "torn: %v", outcomes)
}

// A standing ErrNoSpace aim refuses the writes its match picks, at their completion, with
// ErrNoSpace, changing nothing; others go through, as do all with faults off or the aim
// withdrawn. The disk's own stream is not drawn from for it.
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
	plain.disk.ArmWriteError("f", diskSector, diskSector+1) // draws nothing either
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

// SyncKept names a kept write's sectors only while the engine cannot yet have dealt with the
// failed sync: until the file's next successful sync, and, if the engine writes to the file
// in that sync's callback (a failed append's cut made durable, then the tombstone over its
// record), until that write completes; for good (until written over) if a crash came first,
// or if the disk refused that write. An engine that answers with no write leaves the kept
// sectors its own doing.
func TestDiskSyncKeptUntilHandled(t *testing.T) {
	opts := diskOptionsClean()
	opts.SyncErrorProbability = 1
	keptSeed := func(t *testing.T) *diskHarness {
		for seed := uint64(1); ; seed++ {
			h := newDiskHarness(t, seed, opts)
			h.disk.SetSyncKeepStream(Stream(seed, "disk/0/sync_kept"))
			h.disk.SetFaultsEnabled(false)
			require.NoError(t, h.create("f"))
			require.NoError(t, h.write("f", 0, diskFill(0x11, 6*diskSector)))
			require.NoError(t, h.sync("f"))
			h.disk.SetFaultsEnabled(true)
			require.NoError(t, h.write("f", diskSector, diskFill(0x22, diskSector)))
			require.ErrorIs(t, h.sync("f"), storage.ErrIO)
			if len(h.disk.SyncKept("f")) > 0 {
				h.disk.SetFaultsEnabled(false)
				return h
			}
		}
	}
	// answered syncs f and, in the sync's callback, writes data at offset (nil: none), then
	// runs the loop with check called once the sync's callback returned.
	answered := func(h *diskHarness, offset int64, data []byte, check func()) {
		h.disk.Sync("f", func(err error) {
			require.NoError(t, err)
			if data != nil {
				h.disk.WriteAt("f", data, offset, func(error) {})
			}
			h.loop.At(h.loop.Now(), check)
		})
		h.settle()
	}
	mark := diskFill(0x33, diskSector)

	h := keptSeed(t)
	require.NoError(t, h.truncate("f", 5*diskSector))
	require.Equal(t, []int64{1}, h.disk.SyncKept("f"), "the cut")
	answered(h, diskSector, mark, func() {
		require.Equal(t, []int64{1}, h.disk.SyncKept("f"), "the answer in flight")
	})
	require.Empty(t, h.disk.SyncKept("f"), "the answer landed over the kept sector")
	require.Equal(t, uint64(0), h.disk.Stats().SyncKeptSettled, "nothing left")

	h = keptSeed(t)
	answered(h, 3*diskSector, mark, func() {})
	require.Empty(t, h.disk.SyncKept("f"), "an answer elsewhere: the kept sector is the engine's doing")
	require.Equal(t, uint64(1), h.disk.Stats().SyncKeptSettled, "settled, the kept sector left")
	h.disk.Crash()
	require.Empty(t, h.disk.SyncKept("f"), "a crash after the engine was through excuses nothing")

	h = keptSeed(t)
	answered(h, 0, nil, func() {})
	require.Empty(t, h.disk.SyncKept("f"), "no answer: the engine moved on")
	require.Equal(t, uint64(1), h.disk.Stats().SyncKeptSettled, "settled, the kept sector left")

	h = keptSeed(t)
	h.disk.ArmWriteErrorHealed("f", diskSector, diskSector+1, true)
	answered(h, diskSector, mark, func() {})
	require.Equal(t, []int64{1}, h.disk.SyncKept("f"), "the disk refused the answer: excused")
	require.Equal(t, uint64(0), h.disk.Stats().SyncKeptSettled)

	h = keptSeed(t)
	h.disk.Crash()
	require.Equal(t, []int64{1}, h.disk.SyncKept("f"), "a crash before the engine was through")
	require.NoError(t, h.sync("f"))
	require.NoError(t, h.write("f", 3*diskSector, mark))
	require.Equal(t, []int64{1}, h.disk.SyncKept("f"), "excused for good")
	require.NoError(t, h.write("f", diskSector, mark))
	require.Empty(t, h.disk.SyncKept("f"), "until written over")
}
