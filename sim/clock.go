package sim

import (
	"math/bits"

	"vopr/internal/assert"
)

// ClockOptions describe how a node's clock departs from true (virtual) time.
type ClockOptions struct {
	// OffsetNs is added to the node's realtime clock (its wall clock is wrong by this much).
	OffsetNs int64
	// DriftPPM makes the node's clocks run fast (positive) or slow (negative) by this many
	// parts per million; it changes both clocks, so it also changes how fast the node's
	// timeouts fire. Bounded by DriftPPMMax.
	DriftPPM int64
	// PeriodicErrorNs and PeriodicPeriod add a triangle wave of this amplitude and period to
	// realtime (an NTP daemon slewing back and forth). Zero amplitude disables it.
	PeriodicErrorNs int64
	PeriodicPeriod  Duration
}

// DriftPPMMax bounds drift: 5% is far beyond any real oscillator, and keeps the tick
// arithmetic exact.
const DriftPPMMax = 50_000

// RealtimeEpochNs is the realtime at virtual time zero (2026-01-01T00:00:00Z), so that
// realtime clocks look like wall clocks in traces.
const RealtimeEpochNs int64 = 1_767_225_600_000_000_000

// Clock is one node's pair of clocks, derived from virtual time:
//
//	monotonic(t) = anchorLocal + (t - anchorTrue) * (1e6 + drift) / 1e6
//	realtime(t)  = epoch + monotonic(t) + offset + steps + periodic(t)
//
// Integer arithmetic only (no floats), so the result is the same on every machine. When the
// drift changes, the clock re-anchors so that monotonic time stays continuous.
//
// Invariants: Monotonic never decreases; with zero drift it equals virtual time since boot.
type Clock struct {
	loop        *Loop
	options     ClockOptions
	anchorTrue  Time
	anchorLocal int64
	stepsNs     int64
	// resyncNs cancels, in realtime, the drift accumulated before the last SetOffset.
	resyncNs int64
	lastMono int64
}

// NewClock returns a clock that reads zero monotonic time at the loop's current time.
func NewClock(loop *Loop, options ClockOptions) *Clock {
	validateClockOptions(options)
	return &Clock{loop: loop, options: options, anchorTrue: loop.Now()}
}

func validateClockOptions(o ClockOptions) {
	assert.That(o.DriftPPM >= -DriftPPMMax && o.DriftPPM <= DriftPPMMax, "clock: drift out of range")
	assert.That(o.PeriodicErrorNs >= 0, "clock: negative periodic error")
	assert.That(o.PeriodicErrorNs == 0 || o.PeriodicPeriod > 0, "clock: periodic error needs a period")
}

// Options returns the clock's current options.
func (c *Clock) Options() ClockOptions { return c.options }

// Monotonic returns the node's monotonic clock in nanoseconds.
func (c *Clock) Monotonic() int64 {
	elapsed := int64(c.loop.Now() - c.anchorTrue)
	assert.That(elapsed >= 0, "clock: anchor in the future")
	mono := c.anchorLocal + mulDiv(elapsed, 1_000_000+c.options.DriftPPM, 1_000_000)
	assert.That(mono >= c.lastMono, "clock: monotonic went backwards")
	c.lastMono = mono
	return mono
}

// Realtime returns the node's wall clock in nanoseconds since the Unix epoch.
func (c *Clock) Realtime() int64 {
	return RealtimeEpochNs + c.Monotonic() + c.options.OffsetNs + c.stepsNs + c.periodicNs() + c.resyncNs
}

// periodicNs is a triangle wave in [-amplitude, +amplitude] over the period.
func (c *Clock) periodicNs() int64 {
	a := c.options.PeriodicErrorNs
	if a == 0 {
		return 0
	}
	period := int64(c.options.PeriodicPeriod)
	phase := int64(c.loop.Now()) % period
	// Rises from -a to +a over the first half, falls back over the second.
	half := period / 2
	if phase < half {
		return -a + mulDiv(phase, 2*a, max(half, 1))
	}
	return a - mulDiv(phase-half, 2*a, max(period-half, 1))
}

// Step jumps the realtime clock by delta (an operator or NTP stepping the clock). The
// monotonic clock is unaffected, as on a real machine.
func (c *Clock) Step(deltaNs int64) { c.stepsNs += deltaNs }

// SetOffset resynchronises the realtime clock to true time plus offsetNs, as NTP stepping
// the clock would (a clock fix sets it to zero): steps and the drift accumulated so far are
// forgotten; the drift itself goes on from here.
func (c *Clock) SetOffset(offsetNs int64) {
	c.options.OffsetNs = offsetNs
	c.stepsNs = 0
	c.resyncNs = 0
	c.resyncNs = int64(c.loop.Now()) - c.Monotonic()
}

// SetDrift changes the drift, re-anchoring so that monotonic time is continuous.
// An invalid drift fails before anything changes.
func (c *Clock) SetDrift(ppm int64) {
	next := c.options
	next.DriftPPM = ppm
	validateClockOptions(next)
	c.anchorLocal = c.Monotonic()
	c.anchorTrue = c.loop.Now()
	c.options = next
}

// SetPeriodic changes the periodic error.
func (c *Clock) SetPeriodic(amplitudeNs int64, period Duration) {
	next := c.options
	next.PeriodicErrorNs = amplitudeNs
	next.PeriodicPeriod = period
	validateClockOptions(next)
	c.options = next
}

// TrueTimeOf returns the earliest virtual time at which the monotonic clock reads at least
// localNs, assuming the drift does not change before then. Nodes use it to schedule their
// ticks by their own clock, so a fast clock fires its timeouts early.
func (c *Clock) TrueTimeOf(localNs int64) Time {
	delta := localNs - c.anchorLocal
	if delta <= 0 {
		return c.anchorTrue
	}
	rate := 1_000_000 + c.options.DriftPPM
	// ceil(delta * 1e6 / rate)
	elapsed := mulDivCeil(delta, 1_000_000, rate)
	return c.anchorTrue + Time(elapsed)
}

// mulDiv returns a*b/c for a >= 0, b >= 0, c > 0 without overflowing the intermediate product.
func mulDiv(a, b, c int64) int64 {
	assert.That(a >= 0 && b >= 0 && c > 0, "mulDiv: operands out of range")
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	q, _ := bits.Div64(hi, lo, uint64(c))
	return int64(q)
}

func mulDivCeil(a, b, c int64) int64 {
	assert.That(a >= 0 && b >= 0 && c > 0, "mulDivCeil: operands out of range")
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	q, r := bits.Div64(hi, lo, uint64(c))
	if r != 0 {
		q++
	}
	return int64(q)
}
