package sim

import (
	"bytes"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/storage"
)

// TestDiskKnowsWhatItAltered: Written is what the node wrote, Altered the sectors a fault
// changed, Visible what a read returns, whether faults are on or not.
func TestDiskKnowsWhatItAltered(t *testing.T) {
	h := newDiskHarness(t, 30, diskOptionsClean())
	require.NoError(t, h.create("f"))
	data := diskSectorsOf(4)
	require.NoError(t, h.write("f", 0, data))
	require.Equal(t, data, h.disk.Written("f", 0, 1<<20))
	require.Empty(t, h.disk.Altered("f", 0, 4*diskSector))

	h.disk.CorruptSector("f", diskSector+5)
	h.disk.LatentSectorError("f", 3*diskSector)
	require.Equal(t, []DiskFault{{Name: "f", Sector: 1, Offset: diskSector, Kind: FaultCorruption}},
		h.disk.Altered("f", 0, 3*diskSector))
	require.Empty(t, h.disk.Altered("f", 2*diskSector, diskSector))
	require.Len(t, h.disk.Altered("f", 100, 4*diskSector), 2)
	require.Equal(t, data, h.disk.Written("f", 0, 4*diskSector), "faults do not change what was written")

	visible, err := h.disk.Visible("f", 0, 3*diskSector)
	require.NoError(t, err)
	got, err := h.read("f", 0, 3*diskSector)
	require.NoError(t, err)
	require.Equal(t, got, visible, "Visible is what a read returns")
	require.Equal(t, 1, diskBitsDiffering(visible, data[:3*diskSector]))
	_, err = h.disk.Visible("f", 3*diskSector+1, 1)
	require.ErrorIs(t, err, storage.ErrIO)
	h.disk.SetFaultsEnabled(false)
	visible, err = h.disk.Visible("f", 0, 1<<20)
	require.NoError(t, err)
	require.Equal(t, data, visible, "reads are pristine with faults off")
	_, err = h.disk.Visible("g", 0, 1)
	require.ErrorIs(t, err, storage.ErrNotExist)
	require.Equal(t, uint64(1), h.disk.Stats().Reads, "Visible reads nothing")
}

// TestDiskKnowsLostWrites: a sector whose last write a crash lost or tore is reported until
// it is rewritten or truncated away, and so is a sector the torn write kept (a remnant).
func TestDiskKnowsLostWrites(t *testing.T) {
	opts := diskOptionsClean()
	opts.CrashTornProbability = 1
	h := newDiskHarness(t, 31, opts)
	require.NoError(t, h.create("f"))
	require.NoError(t, h.write("f", 0, diskSectorsOf(8)))
	require.NoError(t, h.sync("f"))
	require.NoError(t, h.write("f", 0, diskFill(0xEE, 8*diskSector)))
	h.disk.Crash()
	got := h.readAll("f")
	var reverted []int64
	for s := int64(0); s < 8; s++ {
		if !bytes.Equal(got[s*diskSector:(s+1)*diskSector], diskFill(0xEE, diskSector)) {
			reverted = append(reverted, s)
		}
	}
	require.NotEmpty(t, reverted)
	require.Equal(t, reverted, h.disk.LostWrites("f"), "exactly the sectors the torn write left old")
	// The sectors it kept are remnants: each reads as written, but the write is not whole.
	var kept []int64
	for s := int64(0); s < 8; s++ {
		if !slices.Contains(reverted, s) {
			kept = append(kept, s)
		}
	}
	require.NotEmpty(t, kept)
	require.Equal(t, kept, h.disk.TornRemnants("f"), "exactly the sectors the torn write kept")
	require.Equal(t, kept, h.disk.Snapshot(NewLoop(), Stream(1, "snapshot"), h.trace).TornRemnants("f"))
	require.NoError(t, h.write("f", reverted[0]*diskSector, diskFill(1, 10)))
	require.Equal(t, reverted[1:], h.disk.LostWrites("f"), "a rewrite repairs the sector")
	require.NoError(t, h.write("f", kept[0]*diskSector, diskFill(1, 10)))
	require.Equal(t, kept[1:], h.disk.TornRemnants("f"), "a write over a remnant ends it")
	require.NoError(t, h.truncate("f", 0))
	require.Empty(t, h.disk.LostWrites("f"))
	require.Empty(t, h.disk.TornRemnants("f"))
	require.Empty(t, h.disk.LostWrites("nope"))
	require.Empty(t, h.disk.TornRemnants("nope"))
}

// TestDiskSnapshot: a snapshot has the same files, overlays, unsynced writes and lost
// writes; using it changes nothing on the original, whose draws stay the same.
func TestDiskSnapshot(t *testing.T) {
	run := func(snapshot bool) (uint64, []byte) {
		opts := diskOptionsClean()
		opts.CrashLostProbability, opts.ReadCorruptionProbability = 0.5, 0.3
		h := newDiskHarness(t, 32, opts)
		require.NoError(t, h.create("f"))
		require.NoError(t, h.write("f", 0, diskSectorsOf(6)))
		require.NoError(t, h.sync("f"))
		require.NoError(t, h.write("f", diskSector, diskFill(9, 3*diskSector)))
		h.disk.CorruptSector("f", 4*diskSector)
		if snapshot {
			loop := NewLoop()
			c := h.disk.Snapshot(loop, Stream(1, "snapshot"), NewTrace(loop.Now))
			require.Equal(t, h.disk.Pristine("f"), c.Pristine("f"))
			require.Equal(t, h.disk.Durable("f"), c.Durable("f"))
			require.Equal(t, h.disk.Faults(), c.Faults())
			c.Truncate("f", 2*diskSector+7, func(err error) { require.NoError(t, err) })
			c.WriteAt("f", diskFill(3, diskSector), 0, func(err error) { require.NoError(t, err) })
			for loop.Step() {
			}
			c.Crash()
			require.NotEqual(t, h.disk.Pristine("f"), c.Pristine("f"))
			c.checkInvariants()
		}
		h.disk.checkInvariants()
		for i := 0; i < 5; i++ {
			_, _ = h.read("f", int64(i)*diskSector, diskSector)
		}
		h.disk.Crash()
		return h.trace.Hash(), h.readAll("f")
	}
	hash, data := run(false)
	hashWith, dataWith := run(true)
	require.Equal(t, hash, hashWith, "a snapshot draws nothing from the original's stream")
	require.Equal(t, data, dataWith)
}

// TestDiskSnapshotCopyOnWrite: a snapshot shares the files' bytes until either side changes
// them; then each sees only its own writes, syncs and truncates.
func TestDiskSnapshotCopyOnWrite(t *testing.T) {
	h := newDiskHarness(t, 32, diskOptionsClean())
	require.NoError(t, h.create("f"))
	require.NoError(t, h.write("f", 0, diskSectorsOf(4)))
	require.NoError(t, h.sync("f"))
	require.NoError(t, h.write("f", diskSector, diskFill(9, diskSector)))
	pristine, durable := h.disk.Pristine("f"), h.disk.Durable("f")
	loop := NewLoop()
	c := h.disk.Snapshot(loop, Stream(1, "snapshot"), NewTrace(loop.Now))

	// The original writes in place (within its array's capacity), syncs and grows.
	require.NoError(t, h.write("f", 0, diskFill(5, diskSector)))
	require.NoError(t, h.sync("f"))
	require.NoError(t, h.write("f", 4*diskSector, diskFill(6, diskSector)))
	require.Equal(t, pristine, c.Pristine("f"), "the original's writes reached the snapshot")
	require.Equal(t, durable, c.Durable("f"), "the original's sync reached the snapshot")

	// The snapshot writes, syncs and truncates.
	original, originalDurable := h.disk.Pristine("f"), h.disk.Durable("f")
	c.WriteAt("f", diskFill(7, diskSector), 2*diskSector, func(err error) { require.NoError(t, err) })
	c.Sync("f", func(err error) { require.NoError(t, err) })
	c.Truncate("f", 3*diskSector, func(err error) { require.NoError(t, err) })
	for loop.Step() {
	}
	require.Equal(t, diskFill(7, diskSector), c.Pristine("f")[2*diskSector:])
	require.Equal(t, original, h.disk.Pristine("f"), "the snapshot's writes reached the original")
	require.Equal(t, originalDurable, h.disk.Durable("f"), "the snapshot's sync reached the original")
	c.checkInvariants()
	h.disk.checkInvariants()
}
