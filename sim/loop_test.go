package sim

import (
	"cmp"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"vopr/internal/assert"
)

// requireAssertion checks that fn fails with a typed assertion (*assert.Failure) whose
// message contains want: the simulator's own invariants fail-stop, they do not limp on.
func requireAssertion(t require.TestingT, want string, fn func()) {
	if h, ok := t.(interface{ Helper() }); ok {
		h.Helper()
	}
	var recovered any
	func() {
		defer func() { recovered = recover() }()
		fn()
	}()
	require.NotNil(t, recovered, "expected an assertion failure containing %q", want)
	f, ok := assert.AsFailure(recovered)
	require.True(t, ok, "panic %v is not an *assert.Failure", recovered)
	require.Contains(t, f.Message, want)
}

// TestLoopRunsEventsInTimeThenSequenceOrder schedules events at random times (with many
// ties) in a random order and checks that they run sorted by time, ties in the order they
// were scheduled, and that Now is the event's time while it runs.
func TestLoopRunsEventsInTimeThenSequenceOrder(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		times := rapid.SliceOfN(rapid.Int64Range(0, 20), 1, 200).Draw(t, "times")
		loop := NewLoop()
		type ran struct {
			at    Time
			index int
		}
		var order []ran
		for i, at := range times {
			loop.At(Time(at), func() {
				require.Equal(t, Time(at), loop.Now(), "Now while event %d runs", i)
				order = append(order, ran{at: Time(at), index: i})
			})
		}
		require.Equal(t, len(times), loop.Pending())
		for loop.Step() {
		}
		require.Len(t, order, len(times))
		require.True(t, slices.IsSortedFunc(order, func(a, b ran) int {
			return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.index, b.index))
		}), "events ran out of (time, sequence) order: %v", order)
		require.Equal(t, uint64(len(times)), loop.Steps())
		require.Zero(t, loop.Pending())
	})
}

// Events scheduled through AtCallSteady (some in time order, some not: the FIFO takes the
// former, the heap the latter) and through At, before and while the loop runs, run in exactly
// the (time, sequence) order a single heap gives, and the loop counts them all as pending.
func TestLoopSteadyEventsKeepTimeThenSequenceOrder(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		type ran struct {
			at  Time
			seq int
		}
		loop := NewLoop()
		var order []ran
		scheduled := 0
		var schedule func(depth int)
		schedule = func(depth int) {
			at := loop.Now() + Time(rapid.Int64Range(0, 20).Draw(t, "delay"))
			seq := scheduled
			scheduled++
			run := func() {
				require.Equal(t, at, loop.Now())
				order = append(order, ran{at: at, seq: seq})
				if depth < 3 {
					for range rapid.IntRange(0, 2).Draw(t, "children") {
						schedule(depth + 1)
					}
				}
			}
			if rapid.Bool().Draw(t, "steady") {
				loop.AtCallSteady(at, func(arg uint64) {
					require.Equal(t, uint64(seq), arg)
					run()
				}, uint64(seq))
			} else {
				loop.At(at, run)
			}
		}
		for range rapid.IntRange(1, 30).Draw(t, "roots") {
			schedule(0)
		}
		require.Equal(t, scheduled, loop.Pending())
		for loop.Step() {
		}
		require.Len(t, order, scheduled)
		require.True(t, slices.IsSortedFunc(order, func(a, b ran) int {
			return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.seq, b.seq))
		}), "events ran out of (time, sequence) order: %v", order)
		require.Zero(t, loop.Pending())
	})
}

// An event scheduled by a running event for the same instant runs after every event already
// queued for that instant (it has a later sequence number), and before later instants.
func TestLoopSameInstantEventsScheduledWhileRunningGoLast(t *testing.T) {
	loop := NewLoop()
	var order []string
	loop.At(5, func() {
		order = append(order, "a")
		loop.After(0, func() { order = append(order, "a-child") })
	})
	loop.At(5, func() { order = append(order, "b") })
	loop.At(6, func() { order = append(order, "c") })
	for loop.Step() {
	}
	require.Equal(t, []string{"a", "b", "a-child", "c"}, order)
}

// Time jumps straight to the next event: an hour of idleness costs one step.
func TestLoopTimeJumpsToNextEvent(t *testing.T) {
	loop := NewLoop()
	require.Equal(t, Time(0), loop.Now())
	_, ok := loop.NextAt()
	require.False(t, ok)
	require.False(t, loop.Step(), "an empty loop has nothing to step")

	loop.After(Duration(60*Minute), func() {})
	loop.After(Duration(90*Minute), func() {})
	next, ok := loop.NextAt()
	require.True(t, ok)
	require.Equal(t, Time(60*Minute), next)

	require.True(t, loop.Step())
	require.Equal(t, Time(60*Minute), loop.Now())
	require.Equal(t, uint64(1), loop.Steps())
	require.True(t, loop.Step())
	require.Equal(t, Time(90*Minute), loop.Now())
	require.Equal(t, uint64(2), loop.Steps())
	require.False(t, loop.Step())
	require.Equal(t, Time(90*Minute), loop.Now(), "time stays when nothing is left")
}

func TestLoopRunUntil(t *testing.T) {
	loop := NewLoop()
	var ran []Time
	record := func() { ran = append(ran, loop.Now()) }
	loop.At(10, record)
	loop.At(20, record) // exactly at the deadline: runs
	loop.At(40, record) // after the deadline: stays queued
	loop.At(15, func() {
		record()
		loop.At(18, record) // scheduled during the run, before the deadline: runs
		loop.At(30, record) // after the deadline: stays queued
	})

	require.Equal(t, uint64(4), loop.RunUntil(20))
	require.Equal(t, []Time{10, 15, 18, 20}, ran)
	require.Equal(t, Time(20), loop.Now())
	require.Equal(t, 2, loop.Pending())

	// With nothing due, RunUntil still moves time to the deadline.
	require.Zero(t, loop.RunUntil(20+5))
	require.Equal(t, Time(25), loop.Now())

	// A deadline in the past neither runs anything nor moves time backwards.
	require.Zero(t, loop.RunUntil(3))
	require.Equal(t, Time(25), loop.Now())

	require.Equal(t, uint64(2), loop.RunUntil(1000))
	require.Equal(t, []Time{10, 15, 18, 20, 30, 40}, ran)
	require.Equal(t, Time(1000), loop.Now(), "time ends at the deadline, not at the last event")
	require.Zero(t, loop.Pending())
}

// RunUntil with an explicit deadline is a tick budget: an event loop that keeps rescheduling
// itself forever still returns.
func TestLoopRunUntilBoundsAnEndlessSchedule(t *testing.T) {
	loop := NewLoop()
	var again func()
	again = func() { loop.After(Duration(Millisecond), again) }
	loop.After(0, again)
	require.Equal(t, uint64(1001), loop.RunUntil(Time(Second)))
	require.Equal(t, Time(Second), loop.Now())
	require.Equal(t, 1, loop.Pending())
}

func TestLoopRejectsThePastNegativeDelaysAndNilEvents(t *testing.T) {
	loop := NewLoop()
	loop.RunUntil(100)
	requireAssertion(t, "event scheduled in the past", func() { loop.At(99, func() {}) })
	requireAssertion(t, "negative delay", func() { loop.After(-1, func() {}) })
	requireAssertion(t, "nil event", func() { loop.At(100, nil) })
	requireAssertion(t, "event scheduled in the past", func() { loop.AtCallSteady(99, func(uint64) {}, 0) })
	requireAssertion(t, "nil event", func() { loop.AtCallSteady(100, nil, 0) })
	require.Zero(t, loop.Pending(), "a rejected event must not be queued")

	// From inside an event too: time is the event's time.
	loop.At(200, func() {
		requireAssertion(t, "event scheduled in the past", func() { loop.At(150, func() {}) })
	})
	loop.RunUntil(300)
	loop.At(300, func() {}) // now is allowed
	require.Equal(t, 1, loop.Pending())
}

func TestDurationString(t *testing.T) {
	for d, want := range map[Duration]string{
		0:                        "0ns",
		999:                      "999ns",
		Millisecond:              "1.000ms",
		1500 * Microsecond:       "1.500ms",
		1250 * Millisecond:       "1.250s",
		-1500 * Millisecond:      "-1.500s",
		-2 * Millisecond:         "-2.000ms",
		3*Minute + 7*Millisecond: "180.007s",
	} {
		require.Equal(t, want, d.String(), "%d", int64(d))
	}
	require.Equal(t, "10.000ms", Time(10*Millisecond).String())
}
