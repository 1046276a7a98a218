package sim

import (
	"container/heap"
	"fmt"

	"vopr/internal/assert"
)

// Time is virtual time in nanoseconds since the start of a run.
type Time int64

// Duration is a span of virtual time in nanoseconds.
type Duration int64

// Units of virtual time.
const (
	Nanosecond  Duration = 1
	Microsecond          = 1000 * Nanosecond
	Millisecond          = 1000 * Microsecond
	Second               = 1000 * Millisecond
	Minute               = 60 * Second
)

func (t Time) String() string { return Duration(t).String() }

// String prints a duration in the largest unit that keeps it readable, e.g. "1.250s".
func (d Duration) String() string {
	switch {
	case d >= Second || d <= -Second:
		return fmt.Sprintf("%d.%03ds", d/Second, abs(int64(d%Second))/int64(Millisecond))
	case d >= Millisecond || d <= -Millisecond:
		return fmt.Sprintf("%d.%03dms", d/Millisecond, abs(int64(d%Millisecond))/int64(Microsecond))
	default:
		return fmt.Sprintf("%dns", int64(d))
	}
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// Loop is the event loop: a min-heap of callbacks keyed by (time, sequence). The sequence
// number breaks ties in scheduling order, so two events at the same instant always run in the
// same order.
//
// Invariants:
//   - now never decreases;
//   - every queued event has at >= now.
type Loop struct {
	now    Time
	seq    uint64
	events eventHeap
	// steps counts executed events, for benchmarks and budgets.
	steps uint64
}

type event struct {
	at  Time
	seq uint64
	fn  func()
}

// NewLoop returns a loop at time zero with nothing scheduled.
func NewLoop() *Loop { return &Loop{} }

// Now returns the current virtual time.
func (l *Loop) Now() Time { return l.now }

// Steps returns how many events have run.
func (l *Loop) Steps() uint64 { return l.steps }

// Pending returns how many events are scheduled.
func (l *Loop) Pending() int { return len(l.events) }

// At schedules fn to run at time at, which must not be in the past.
func (l *Loop) At(at Time, fn func()) {
	assert.That(at >= l.now, "loop: event scheduled in the past")
	assert.That(fn != nil, "loop: nil event")
	l.seq++
	heap.Push(&l.events, event{at: at, seq: l.seq, fn: fn})
}

// After schedules fn to run d from now; d must not be negative.
func (l *Loop) After(d Duration, fn func()) {
	assert.That(d >= 0, "loop: negative delay")
	l.At(l.now+Time(d), fn)
}

// Step runs the earliest event, advancing time to it. It reports false when nothing is
// scheduled.
func (l *Loop) Step() bool {
	if len(l.events) == 0 {
		return false
	}
	e := heap.Pop(&l.events).(event)
	assert.That(e.at >= l.now, "loop: time went backwards")
	l.now = e.at
	l.steps++
	e.fn()
	return true
}

// RunUntil runs events until the next one is later than deadline or none is left, then sets
// the time to deadline (if it is later than now). It returns the number of events run.
func (l *Loop) RunUntil(deadline Time) uint64 {
	start := l.steps
	for len(l.events) > 0 && l.events[0].at <= deadline {
		l.Step()
	}
	if deadline > l.now {
		l.now = deadline
	}
	return l.steps - start
}

// NextAt returns the time of the earliest scheduled event and whether there is one.
func (l *Loop) NextAt() (Time, bool) {
	if len(l.events) == 0 {
		return 0, false
	}
	return l.events[0].at, true
}

type eventHeap []event

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(event)) }
func (h *eventHeap) Pop() any {
	old := *h
	n := len(old)
	e := old[n-1]
	old[n-1] = event{}
	*h = old[:n-1]
	return e
}
