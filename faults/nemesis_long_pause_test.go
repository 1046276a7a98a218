package faults

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
	"vopr/sim"
)

// ArmLongPause turns the move on in about a quarter of the seeds, and then makes the fault
// phase long enough for the pause to end before the heal; off, it leaves the nemesis and the
// fault phase as they were.
func TestArmLongPauseDraws(t *testing.T) {
	s, seed := swarmWith(t, 3, 1)
	on := 0
	for k := uint64(0); k < 400; k++ {
		n := NewNemesis(sim.Stream(seed, "nemesis"), s, NewAtlas(sim.Stream(seed, "atlas"), s.Replicas))
		ticks := n.ArmLongPause(sim.Stream(seed+k, "swarm/long_pause"), 3000)
		if n.long.r == nil {
			require.Equal(t, 3000, ticks)
			continue
		}
		on++
		p := n.long
		require.GreaterOrEqual(t, p.ticks, uint64(longPauseTicksMin))
		require.LessOrEqual(t, p.ticks, uint64(longPauseTicksMax))
		require.Greater(t, max(p.stepNs, -p.stepNs), int64(vsr.ClockToleranceNs), "a step beyond the tolerance")
		require.GreaterOrEqual(t, ticks, int(p.start+longPauseWaitTicksMax+p.ticks+longPauseTailTicksMin))
	}
	require.InDelta(t, 100, on, 35, "on in about a quarter of 400 seeds")
}

// The long pause holds its replica paused for the whole length drawn, even with the
// nemesis's own unpause certain every tick (it must not end the pause early), makes its
// clock stale by that length at the resume, and then resumes it; the replica catches up.
func TestNemesisLongPause(t *testing.T) {
	run := newAimedRun(t, 3, 40, NemesisOptions{ReplicaUnpauseProbability: 1, ReplicaStabilityTicks: 10})
	c, n := run.c, run.n
	c.RunFor(sim.Second)
	primary, _ := testPrimary(c)
	require.GreaterOrEqual(t, primary, 0)
	const length = 1200
	n.long = longPause{r: sim.Stream(1, "test"), start: n.tick + 1, ticks: length, primary: true,
		clock: longPauseClockStale, replica: -1}
	n.Step(c)
	require.Equal(t, uint64(1), n.Counts()[ActionLongPause])
	require.Equal(t, primary, n.long.replica)
	require.Equal(t, uint64(1), n.Marks().Count(MarkLongPausePrimary))
	for tick := 1; tick <= length; tick++ {
		require.Equal(t, sim.NodePaused, c.Nodes[primary].Status(), "tick %d of the pause", tick)
		c.RunFor(sim.TickInterval)
		n.Step(c)
	}
	require.Equal(t, sim.NodeUp, c.Nodes[primary].Status(), "resumed after %d ticks", length)
	require.Zero(t, n.Counts()[ActionUnpause], "the nemesis's own unpause left it alone")
	require.Equal(t, uint64(1), n.Counts()[ActionLongUnpause])
	require.Equal(t, -int64(length*sim.TickInterval), c.Nodes[primary].Clock.ErrorNs(), "stale by the pause")
	for _, m := range []struct {
		name string
		hits uint64
	}{{"paused", n.Marks().Count(MarkLongPause)}, {"resumed", n.Marks().Count(MarkLongPauseResumed)},
		{"clock", n.Marks().Count(MarkLongPauseClock)}, {"deposed", n.Marks().Count(MarkLongPauseDeposed)}} {
		require.Equal(t, uint64(1), m.hits, m.name)
	}
	n.Heal(c)
	require.Zero(t, c.Nodes[primary].Clock.ErrorNs(), "the heal resynchronises the stale clock")
	requireProgress(t, c)
	for tick := 0; ; tick++ {
		require.Less(t, tick, 1000, "the resumed replica never caught up: %v", c.Failures())
		c.RunFor(sim.TickInterval)
		if c.Replica(primary).Inspect().View >= c.Replica((primary+1)%3).Inspect().View &&
			c.Replica(primary).Inspect().Status == vsr.StatusNormal {
			break
		}
	}
}
