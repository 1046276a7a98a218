package faults

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/storage"
	"vopr/sim"
)

// sectorWithMagic is a sector whose bytes 16-23 hold magic, as the engine's marks and
// records do.
func sectorWithMagic(magic uint64) []byte {
	b := make([]byte, storage.SectorSize)
	binary.LittleEndian.PutUint64(b[16:], magic)
	return b
}

// TestNemesisCutNoSpace: the move refuses about a quarter of a running replica's mark writes
// to a log segment (tombstones and distrust marks), and nothing else: a record, a write to
// another file. Half the refusals on a replica it may take down arm a crash, which lets the
// refused write's completion and the next through and crashes the replica at the k-th.
func TestNemesisCutNoSpace(t *testing.T) {
	run := newAimedRun(t, 3, 60, NemesisOptions{})
	c, n := run.c, run.n
	c.RunFor(100 * sim.Millisecond)
	n.cutNoSpace = cutNoSpace{r: sim.Stream(60, "nemesis/cut_no_space"), at: disarmed}
	tombstone, distrust := sectorWithMagic(tombstoneMagicAt16), sectorWithMagic(distrustMagicAt16)
	record := sectorWithMagic(recordMagicAt16)
	const log = "log-0000000000000000"
	for range 50 {
		require.False(t, n.refuseMark(c, 1, log, record), "a record")
		require.False(t, n.refuseMark(c, 1, "superblock", tombstone), "not a log segment")
	}
	refused := 0
	for i := range 400 {
		n.cutNoSpace.at = disarmed
		mark := tombstone
		if i%2 == 1 {
			mark = distrust
		}
		if n.refuseMark(c, 0, log, mark) {
			refused++
		}
	}
	require.InDelta(t, 100, refused, 35, "a quarter of the marks")
	require.Equal(t, uint64(refused), n.Marks().Count(MarkCutNoSpace))

	n.cutNoSpace.at = disarmed
	for n.cutNoSpace.at.replica < 0 {
		n.refuseMark(c, 1, log, tombstone)
	}
	left := n.cutNoSpace.at.left
	require.GreaterOrEqual(t, left, 2, "the engine hears of the refusal first")
	require.LessOrEqual(t, left, cutNoSpaceCrashIOMax)
	write := sim.IOCompletion{Op: sim.IOWrite, Name: log}
	require.False(t, n.onCompletion(c, 0, write), "another replica")
	for range left - 1 {
		require.False(t, n.onCompletion(c, 1, write))
	}
	require.True(t, n.onCompletion(c, 1, write))
	require.Equal(t, uint64(1), n.Counts()[ActionCrashAfterCutNoSpace])
	require.Equal(t, uint64(1), n.Marks().Count(MarkCrashAfterCutNoSpace))
	require.Contains(t, run.out.String(), ActionCrashAfterCutNoSpace+" r1 as the write of "+log+" completed")
}

// TestNemesisCutNoSpaceInstall: with write errors in the swarm, Install aims the move at the
// replicas' disks: mark writes there meet ErrNoSpace; without write errors it is off.
func TestNemesisCutNoSpaceInstall(t *testing.T) {
	off := newAimedRun(t, 3, 60, NemesisOptions{}).n
	off.ArmCutNoSpace(sim.Stream(60, "nemesis/cut_no_space"))
	require.Nil(t, off.cutNoSpace.r, "a swarm without write errors arms nothing")

	run := newAimedRun(t, 3, 60, NemesisOptions{})
	c, n := run.c, run.n
	c.RunFor(100 * sim.Millisecond)
	n.swarm.Disk.WriteErrorProbability = 0.001
	n.ArmCutNoSpace(sim.Stream(60, "nemesis/cut_no_space"))
	n.Install(c)
	noSpace := 0
	for range 40 {
		// A file no replica has: a write the move spares fails with ErrNotExist.
		c.Nodes[1].Disk.WriteAt("log-00000000000000ff", sectorWithMagic(tombstoneMagicAt16), 0, func(err error) {
			if errors.Is(err, storage.ErrNoSpace) {
				noSpace++
			}
		})
	}
	c.RunFor(100 * sim.Millisecond)
	require.Greater(t, noSpace, 3)
}
