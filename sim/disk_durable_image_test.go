package sim

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDiskDurableImageIsTheFileWithUnsyncedWritesUndone: the disk keeps no second copy of a
// file for its durable image. A write at the end of the file keeps nothing of what it
// found; an overwrite keeps the sectors it overwrote, and the first unsynced write of a
// sector decides its durable bytes; a view of bytes no unsynced write touched is the file's
// own; a truncate is durable at once, and a crash that loses the writes restores the image.
func TestDiskDurableImageIsTheFileWithUnsyncedWritesUndone(t *testing.T) {
	h, synced := newSyncedFile(t, 41)
	f := h.disk.files["f"]
	require.Empty(t, f.volatile)
	require.Equal(t, synced, h.disk.Durable("f"))
	view := h.disk.DurableView("f", diskSector, 2*diskSector)
	require.Same(t, &f.data[diskSector], &view[0], "a view of synced bytes is the file's own")

	// An append keeps nothing of what it found.
	require.NoError(t, h.write("f", 4*diskSector, diskFill(0xb0, 2*diskSector)))
	require.Nil(t, f.volatile[0].before, "an append copies nothing for the durable image")
	require.Equal(t, int64(4*diskSector), h.disk.DurableSize("f"))
	require.Equal(t, synced, h.disk.Durable("f"))

	// Two overwrites of sector 1: the durable bytes are what the first one found.
	require.NoError(t, h.write("f", diskSector+10, diskFill(0xc0, 100)))
	require.Equal(t, synced[diskSector:2*diskSector], f.volatile[1].before)
	require.NoError(t, h.write("f", diskSector, diskFill(0xd0, diskSector)))
	require.Equal(t, synced, h.disk.Durable("f"))
	require.Equal(t, synced[diskSector:2*diskSector], h.disk.DurableRange("f", diskSector, diskSector))
	touched := h.disk.DurableView("f", diskSector, diskSector)
	require.Equal(t, synced[diskSector:2*diskSector], touched)
	require.NotSame(t, &f.data[diskSector], &touched[0], "a view of unsynced bytes is a copy")
	untouched := h.disk.DurableView("f", 2*diskSector, diskSector)
	require.Same(t, &f.data[2*diskSector], &untouched[0])

	// A truncate that grows the file is durable at once: zeros where only unsynced appends
	// wrote, the synced bytes elsewhere.
	require.NoError(t, h.truncate("f", 8*diskSector))
	want := append(bytes.Clone(synced), make([]byte, 4*diskSector)...)
	require.Equal(t, want, h.disk.Durable("f"))

	// A crash that loses every unsynced write leaves the durable image.
	h.disk.Crash()
	h.disk.checkInvariants()
	got, err := h.read("f", 0, 8*diskSector)
	require.NoError(t, err)
	require.Equal(t, want, got)
	require.Equal(t, want, h.disk.Durable("f"))
	require.Empty(t, f.volatile)
}

// TestDiskSyncMakesTheFileItsDurableImage: after a sync of every write the durable image is
// the file itself, whatever the writes overwrote.
func TestDiskSyncMakesTheFileItsDurableImage(t *testing.T) {
	h := newDiskHarness(t, 42, diskOptionsClean())
	require.NoError(t, h.create("f"))
	require.NoError(t, h.write("f", 0, diskSectorsOf(3)))
	require.NoError(t, h.write("f", 700, diskFill(0xe0, 900)))
	require.NoError(t, h.sync("f"))
	require.Empty(t, h.disk.files["f"].volatile)
	require.Equal(t, h.disk.Pristine("f"), h.disk.Durable("f"))
	require.Equal(t, int64(700+900), h.disk.DurableSize("f"))
}
