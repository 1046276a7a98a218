package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
	"vopr/sim"
)

func exactCluster() *sim.Cluster {
	return sim.NewCluster(sim.ClusterOptions{Replicas: 3, Clients: 1, ClusterID: 1,
		World: sim.WorldOptions{Seed: 1, Disk: sim.DiskOptions{Capacity: 1 << 30}}})
}

// TestExactStampFiresBelowAnExactClock: with every clock exact since the run began, a stamp
// below the primary's clock that is no carry (a biased clock offset) is reported; its clock
// reading, a carry and a stamp whose predecessor was higher are not.
func TestExactStampFiresBelowAnExactClock(t *testing.T) {
	c := exactCluster()
	var e exactStamps
	e.observe(c)
	now := c.Loop.Now()
	clock := int64(5_000_000_000)
	require.Empty(t, e.created(vsr.Header{View: 1, Op: 1, Timestamp: clock}, clock, now))
	require.Empty(t, e.created(vsr.Header{View: 1, Op: 2, Timestamp: clock + 1}, clock, now)) // a carry
	require.Contains(t, e.created(vsr.Header{View: 1, Op: 3, Timestamp: clock + 5_000_000}, clock+7_000_000, now),
		"stamped op 3 of view 1 -2.000ms from its clock")
	require.Empty(t, e.created(vsr.Header{View: 1, Op: 3, Timestamp: 0}, clock, now), "the same prepare, sent to the next peer")
}

// TestExactStampQuietWhileAClockIsInexact: a clock stepped (or a tick the harness did not
// observe) switches the rule off for exactWindow, and a run never observed is not checked.
func TestExactStampQuietWhileAClockIsInexact(t *testing.T) {
	c := exactCluster()
	off := vsr.Header{View: 1, Op: 1, Timestamp: 1}
	var never exactStamps
	require.Empty(t, never.created(off, 1000, c.Loop.Now()))

	var e exactStamps
	e.observe(c)
	c.Nodes[1].Clock.Step(3)
	e.observe(c)
	require.Empty(t, e.created(off, 1000, c.Loop.Now()))
	c.Nodes[1].Clock.Step(-3)
	for c.Loop.Now() < sim.Time(exactWindow) {
		c.RunFor(sim.TickInterval)
		e.observe(c)
	}
	require.Empty(t, e.created(vsr.Header{View: 1, Op: 2, Timestamp: 1}, 1000, c.Loop.Now()), "within the window")
	c.RunFor(2 * sim.TickInterval) // a tick missed
	e.observe(c)
	require.Empty(t, e.created(vsr.Header{View: 1, Op: 3, Timestamp: 1}, 1000, c.Loop.Now()), "a tick unobserved")
	for i := 0; i < int(exactWindow/sim.TickInterval)+1; i++ {
		c.RunFor(sim.TickInterval)
		e.observe(c)
	}
	require.NotEmpty(t, e.created(vsr.Header{View: 1, Op: 4, Timestamp: 500}, 1000, c.Loop.Now()), "exact for the window again")
}
