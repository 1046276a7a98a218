package sim

import (
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// clockAt returns a clock created at virtual time start, with the loop advanced to now.
func clockAt(start, now Time, o ClockOptions) (*Loop, *Clock) {
	loop := NewLoop()
	loop.RunUntil(start)
	c := NewClock(loop, o)
	loop.RunUntil(now)
	return loop, c
}

// The acceptance test of the issue: a drifting clock ticks faster or slower by its ppm.
// Over 100 s of virtual time a perfect clock ticks 10000 times (every 10 ms); at +1000 ppm
// the local clock reads 100.1 s and the node ticks 10010 times; at -1000 ppm, 9990.
func TestClockDriftChangesTickRateByItsPPM(t *testing.T) {
	for _, c := range []struct {
		ppm   int64
		ticks int
	}{
		{0, 10_000},
		{+1000, 10_010},
		{-1000, 9_990},
		{+100, 10_001},
		{-100, 9_999},
		{+DriftPPMMax, 10_500},
		{-DriftPPMMax, 9_500},
	} {
		ticks := countTicks(t, ClockOptions{DriftPPM: c.ppm}, 100*Second)
		require.Len(t, ticks, c.ticks, "drift %d ppm", c.ppm)
		_, clock := clockAt(0, Time(100*Second), ClockOptions{DriftPPM: c.ppm})
		require.Equal(t, int64(100*Second)+c.ppm*int64(100*Second)/1_000_000, clock.Monotonic(),
			"monotonic after 100 s at %d ppm", c.ppm)
	}
}

func TestClockStartsAtZeroMonotonicAndTheEpochRealtime(t *testing.T) {
	loop, c := clockAt(5*Time(Second), 5*Time(Second), ClockOptions{})
	require.Zero(t, c.Monotonic(), "monotonic counts from the clock's creation")
	require.Equal(t, RealtimeEpochNs, c.Realtime())
	loop.RunUntil(7 * Time(Second))
	require.Equal(t, int64(2*Second), c.Monotonic())
	require.Equal(t, RealtimeEpochNs+int64(2*Second), c.Realtime())
}

// Offset, steps and periodic error move realtime only; the monotonic clock (and with it the
// node's ticks, see TestNodeTicksFollowTheNodesClock) equals elapsed virtual time.
func TestClockOffsetStepAndPeriodicAffectRealtimeOnly(t *testing.T) {
	const amplitude = int64(40 * Millisecond)
	loop, c := clockAt(0, 0, ClockOptions{
		OffsetNs:        int64(250 * Millisecond),
		PeriodicErrorNs: amplitude,
		PeriodicPeriod:  4 * Second,
	})
	c.Step(int64(3 * Second))
	c.Step(-int64(Second))
	steps := int64(2 * Second)
	// The triangle wave: -a at phase 0, 0 at a quarter, +a at half, 0 at three quarters.
	for _, p := range []struct {
		at       Duration
		periodic int64
	}{
		{0, -amplitude},
		{Second, 0},
		{2 * Second, amplitude},
		{3 * Second, 0},
		{4 * Second, -amplitude},
		{5 * Second, 0},
		{500 * Millisecond, -amplitude / 2},
	} {
		_, c2 := clockAt(0, Time(p.at), c.Options())
		c2.Step(steps)
		require.Equal(t, int64(p.at), c2.Monotonic(), "monotonic at %s", p.at)
		require.Equal(t, RealtimeEpochNs+int64(p.at)+int64(250*Millisecond)+steps+p.periodic,
			c2.Realtime(), "realtime at %s", p.at)
	}
	loop.RunUntil(Time(Second))
	require.Equal(t, int64(Second), c.Monotonic())

	// Periodic error stays within its amplitude at every instant.
	for at := Time(0); at < Time(8*Second); at += Time(7 * Millisecond) {
		loop.RunUntil(at)
		wave := c.Realtime() - RealtimeEpochNs - c.Monotonic() - int64(250*Millisecond) - steps
		require.LessOrEqual(t, wave, amplitude)
		require.GreaterOrEqual(t, wave, -amplitude)
	}

	// SetOffset is a clock fix: it replaces the offset and forgets the steps.
	c.SetOffset(0)
	c.SetPeriodic(0, 0)
	require.Equal(t, RealtimeEpochNs+c.Monotonic(), c.Realtime())
	require.Zero(t, c.Options().OffsetNs)
}

// Whatever the sequence of drift changes, monotonic time never decreases, is continuous at a
// change, and advances over each interval at that interval's rate (within 1 ns of rounding).
func TestClockMonotonicNeverDecreasesAcrossSetDrift(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		loop, c := clockAt(0, 0, ClockOptions{DriftPPM: rapid.Int64Range(-DriftPPMMax, DriftPPMMax).Draw(t, "drift0")})
		last := c.Monotonic()
		steps := rapid.IntRange(1, 30).Draw(t, "steps")
		for i := 0; i < steps; i++ {
			ppm := c.Options().DriftPPM
			d := rapid.Int64Range(0, int64(10*Second)).Draw(t, "advance")
			loop.RunUntil(loop.Now() + Time(d))
			now := c.Monotonic()
			require.GreaterOrEqual(t, now, last, "monotonic went backwards")
			want := d * (1_000_000 + ppm) / 1_000_000
			require.InDelta(t, want, now-last, 1, "advance of %d ns at %d ppm", d, ppm)
			last = now

			c.SetDrift(rapid.Int64Range(-DriftPPMMax, DriftPPMMax).Draw(t, "drift"))
			require.Equal(t, last, c.Monotonic(), "SetDrift must not jump the monotonic clock")
			c.Step(rapid.Int64Range(-int64(Minute), int64(Minute)).Draw(t, "step"))
			require.Equal(t, last, c.Monotonic(), "Step must not move the monotonic clock")
		}
	})
}

// TrueTimeOf is the inverse of Monotonic: the earliest virtual time at which the clock reads
// at least the given local time. At that time it does; one nanosecond earlier it does not.
func TestClockTrueTimeOfIsTheInverseOfMonotonic(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		start := Time(rapid.Int64Range(0, int64(Minute)).Draw(t, "start"))
		drift0 := rapid.Int64Range(-DriftPPMMax, DriftPPMMax).Draw(t, "drift0")
		change := Time(rapid.Int64Range(0, int64(Minute)).Draw(t, "change"))
		drift1 := rapid.Int64Range(-DriftPPMMax, DriftPPMMax).Draw(t, "drift1")
		// setup builds the same clock twice: one to ask, one to look at a given instant.
		setup := func() (*Loop, *Clock) {
			loop, c := clockAt(start, start+change, ClockOptions{DriftPPM: drift0})
			c.SetDrift(drift1)
			return loop, c
		}
		_, c := setup()
		base := c.Monotonic()
		local := base + rapid.Int64Range(1, int64(10*Minute)).Draw(t, "ahead")
		at := c.TrueTimeOf(local)
		require.Greater(t, at, start+change)

		loop, probe := setup()
		loop.RunUntil(at - 1)
		require.Less(t, probe.Monotonic(), local, "the clock already read %d at %s", local, at-1)
		loop.RunUntil(at)
		require.GreaterOrEqual(t, probe.Monotonic(), local, "the clock does not read %d at %s", local, at)

		// A local time already reached maps to the re-anchoring instant, never the past.
		require.Equal(t, start+change, c.TrueTimeOf(base))
		require.Equal(t, start+change, c.TrueTimeOf(base-1))
	})
}

func TestClockRejectsInvalidOptions(t *testing.T) {
	loop := NewLoop()
	requireAssertion(t, "drift out of range", func() { NewClock(loop, ClockOptions{DriftPPM: DriftPPMMax + 1}) })
	requireAssertion(t, "drift out of range", func() { NewClock(loop, ClockOptions{DriftPPM: -DriftPPMMax - 1}) })
	requireAssertion(t, "negative periodic error", func() { NewClock(loop, ClockOptions{PeriodicErrorNs: -1, PeriodicPeriod: Second}) })
	requireAssertion(t, "needs a period", func() { NewClock(loop, ClockOptions{PeriodicErrorNs: 1}) })
	c := NewClock(loop, ClockOptions{})
	requireAssertion(t, "drift out of range", func() { c.SetDrift(DriftPPMMax + 1) })
	requireAssertion(t, "needs a period", func() { c.SetPeriodic(5, 0) })
	require.Equal(t, ClockOptions{}, c.Options(), "a rejected change leaves the clock as it was")
}
