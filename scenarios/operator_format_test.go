package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/storage"
	"vopr/cluster/vsr"
	"vopr/sim"
)

// TestMistakenFormatCheckFires formats a disk to join, then holds a second format of it (the
// disk holds only a superblock) to the refusal: the engine's format passes; a format that
// takes such a disk for an empty one and writes over it (as
// storage.format_over_existing_superblock does), and one that refuses after writing, fail.
func TestMistakenFormatCheckFires(t *testing.T) {
	loop := sim.NewLoop()
	disk := sim.NewDisk(loop, sim.Stream(1, "test/disk"), sim.NewTrace(loop.Now), 0, sim.DiskOptions{
		ReadLatencyMin: sim.Microsecond, ReadLatencyMean: sim.Microsecond,
		WriteLatencyMin: sim.Microsecond, WriteLatencyMean: sim.Microsecond, Capacity: 64 << 20})
	wait := func(run func(func(error))) error {
		var got error
		fired := false
		run(func(err error) { got, fired = err, true })
		for !fired && loop.Step() {
		}
		require.True(t, fired)
		return got
	}
	join := func(epoch uint32) func(func(error)) {
		return func(done func(error)) { vsr.FormatJoin(disk, 7, 1, 3, 0, epoch, 1, done) }
	}
	require.NoError(t, wait(join(2)))
	check := func(format func(func(error))) string {
		violation, fired := "", false
		checkMistakenFormat(disk, format, func(v string) { violation, fired = v, true })
		for !fired && loop.Step() {
		}
		require.True(t, fired)
		return violation
	}
	require.Empty(t, check(join(3)))
	overwrites := func(done func(error)) { // the superblock taken for no replica: formatted over
		disk.Remove("superblock", func(err error) {
			if err != nil {
				done(err)
				return
			}
			join(3)(done)
		})
	}
	require.Contains(t, check(overwrites), "was not refused")
	writesThenRefuses := func(done func(error)) {
		disk.WriteAt("superblock", make([]byte, storage.SectorSize), 0, func(error) {
			disk.Sync("superblock", func(error) { done(storage.ErrFormatted) })
		})
	}
	require.Contains(t, check(writesThenRefuses), "changed the durable bytes of superblock")
}
