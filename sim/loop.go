package sim

import (
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
// The heap is 4-ary, typed (container/heap boxed every event pushed and popped) and free of
// pointers: a heap entry names its callback by a slot of calls, so moving entries costs no
// write barrier and the garbage collector never scans the heap. A callback is either fn, or
// call with arg: a caller that schedules the same work over and over (a node's tick, a disk
// completion) keeps one func value and passes what varies as arg, instead of a fresh
// closure per event.
//
// Events scheduled through AtCallSteady (a node's ticks: nearly half of all events) are
// kept apart in steady, a FIFO, while each comes no earlier than the last one queued there:
// a FIFO whose times never decrease is sorted by (at, seq) already, since seq only grows, so
// the next event is the earlier of the heap's top and the FIFO's head, and the order is
// exactly the one a single heap gives, at a queue's cost instead of a heap's.
//
// Invariants:
//   - now never decreases;
//   - every queued event has at >= now;
//   - events is a 4-ary min-heap by (at, seq), and each of its slots is in use in calls;
//   - steady is sorted by (at, seq).
type Loop struct {
	now    Time
	seq    uint64
	events []event
	calls  slots[callback]
	steady ring
	// steps counts executed events, for benchmarks and budgets.
	steps uint64
}

type event struct {
	at   Time
	seq  uint64
	slot uint32
}

type callback struct {
	fn   func()
	call func(arg uint64)
	arg  uint64
}

func (e *event) before(o *event) bool {
	return e.at < o.at || (e.at == o.at && e.seq < o.seq)
}

// NewLoop returns a loop at time zero with nothing scheduled.
func NewLoop() *Loop { return &Loop{} }

// Now returns the current virtual time.
func (l *Loop) Now() Time { return l.now }

// Steps returns how many events have run.
func (l *Loop) Steps() uint64 { return l.steps }

// Pending returns how many events are scheduled.
func (l *Loop) Pending() int { return len(l.events) + l.steady.n }

// At schedules fn to run at time at, which must not be in the past.
func (l *Loop) At(at Time, fn func()) {
	assert.That(fn != nil, "loop: nil event")
	l.push(at, callback{fn: fn})
}

// AtCall schedules call(arg) to run at time at, which must not be in the past.
func (l *Loop) AtCall(at Time, call func(arg uint64), arg uint64) {
	assert.That(call != nil, "loop: nil event")
	l.push(at, callback{call: call, arg: arg})
}

// AtCallSteady is AtCall for a caller whose events mostly come in time order (a node's
// ticks): each one no earlier than the one it scheduled before is queued in a FIFO rather
// than the heap. It runs exactly when AtCall would have run it.
func (l *Loop) AtCallSteady(at Time, call func(arg uint64), arg uint64) {
	assert.That(call != nil, "loop: nil event")
	if l.steady.n > 0 && at < l.steady.last().at {
		l.push(at, callback{call: call, arg: arg})
		return
	}
	assert.That(at >= l.now, "loop: event scheduled in the past")
	l.seq++
	l.steady.add(steadyEvent{at: at, seq: l.seq, call: call, arg: arg})
}

// After schedules fn to run d from now; d must not be negative.
func (l *Loop) After(d Duration, fn func()) {
	assert.That(d >= 0, "loop: negative delay")
	l.At(l.now+Time(d), fn)
}

func (l *Loop) push(at Time, c callback) {
	assert.That(at >= l.now, "loop: event scheduled in the past")
	l.seq++
	l.events = append(l.events, event{at: at, seq: l.seq, slot: l.calls.put(c)})
	l.up(len(l.events) - 1)
}

// Step runs the earliest event, advancing time to it. It reports false when nothing is
// scheduled.
func (l *Loop) Step() bool {
	if l.steady.n > 0 && (len(l.events) == 0 || l.steady.first().before(&l.events[0])) {
		e := l.steady.take()
		assert.That(e.at >= l.now, "loop: time went backwards")
		l.now = e.at
		l.steps++
		e.call(e.arg)
		return true
	}
	if len(l.events) == 0 {
		return false
	}
	e := l.pop()
	assert.That(e.at >= l.now, "loop: time went backwards")
	c := l.calls.take(e.slot)
	l.now = e.at
	l.steps++
	if c.fn != nil {
		c.fn()
	} else {
		c.call(c.arg)
	}
	return true
}

// RunUntil runs events until the next one is later than deadline or none is left, then sets
// the time to deadline (if it is later than now). It returns the number of events run.
func (l *Loop) RunUntil(deadline Time) uint64 {
	start := l.steps
	for {
		at, ok := l.NextAt()
		if !ok || at > deadline {
			break
		}
		l.Step()
	}
	if deadline > l.now {
		l.now = deadline
	}
	return l.steps - start
}

// NextAt returns the time of the earliest scheduled event and whether there is one.
func (l *Loop) NextAt() (Time, bool) {
	switch {
	case l.steady.n > 0 && len(l.events) > 0:
		return min(l.steady.first().at, l.events[0].at), true
	case l.steady.n > 0:
		return l.steady.first().at, true
	case len(l.events) > 0:
		return l.events[0].at, true
	}
	return 0, false
}

// pop removes and returns the earliest event.
func (l *Loop) pop() event {
	h := l.events
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	l.events = h[:last]
	if last > 0 {
		l.down(0)
	}
	return top
}

func (l *Loop) up(i int) {
	h := l.events
	e := h[i]
	for i > 0 {
		parent := (i - 1) / 4
		if !e.before(&h[parent]) {
			break
		}
		h[i] = h[parent]
		i = parent
	}
	h[i] = e
}

func (l *Loop) down(i int) {
	h := l.events
	n := len(h)
	e := h[i]
	for {
		first := 4*i + 1
		if first >= n {
			break
		}
		least := first
		for c := first + 1; c < first+4 && c < n; c++ {
			if h[c].before(&h[least]) {
				least = c
			}
		}
		if !h[least].before(&e) {
			break
		}
		h[i] = h[least]
		i = least
	}
	h[i] = e
}

// steadyEvent is an event of the FIFO (Loop.steady), its callback kept in place (no slot).
type steadyEvent struct {
	at   Time
	seq  uint64
	call func(arg uint64)
	arg  uint64
}

func (e *steadyEvent) before(o *event) bool {
	return e.at < o.at || (e.at == o.at && e.seq < o.seq)
}

// ring is a FIFO of steady events in a circular array: n of them from items[head], the
// array doubling when full.
type ring struct {
	items []steadyEvent
	head  int
	n     int
}

func (r *ring) first() *steadyEvent { return &r.items[r.head] }

func (r *ring) last() *steadyEvent { return &r.items[(r.head+r.n-1)%len(r.items)] }

func (r *ring) add(e steadyEvent) {
	if r.n == len(r.items) {
		grown := make([]steadyEvent, max(8, 2*len(r.items)))
		copied := copy(grown, r.items[r.head:])
		copy(grown[copied:], r.items[:r.head])
		r.items, r.head = grown, 0
	}
	r.items[(r.head+r.n)%len(r.items)] = e
	r.n++
}

// take removes and returns the first event, dropping the ring's reference to its callback.
func (r *ring) take() steadyEvent {
	e := r.items[r.head]
	r.items[r.head] = steadyEvent{}
	r.head++
	if r.head == len(r.items) {
		r.head = 0
	}
	r.n--
	return e
}
