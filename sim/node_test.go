package sim

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/internal/assert"
)

// probeActor records every call the node makes into it, with the virtual time. dead is set by
// the test when the node crashes: a call into a dead actor is the bug these tests look for.
type probeActor struct {
	node        *Node
	incarnation int
	ticks       []Time
	received    []string
	completions int
	dead        bool
	// onTick and onReceive, if set, run inside the call (to panic, to issue I/O).
	onTick    func(a *probeActor)
	onReceive func(a *probeActor, from int, msg []byte)
	t         *testing.T
}

func (a *probeActor) Tick() {
	require.False(a.t, a.dead, "tick reached incarnation %d after its crash", a.incarnation)
	a.ticks = append(a.ticks, a.node.loop.Now())
	if a.onTick != nil {
		a.onTick(a)
	}
}

func (a *probeActor) Receive(from int, msg []byte) {
	require.False(a.t, a.dead, "message reached incarnation %d after its crash", a.incarnation)
	a.received = append(a.received, fmt.Sprintf("%d:%s", from, msg))
	if a.onReceive != nil {
		a.onReceive(a, from, msg)
	}
}

// write issues an asynchronous write through the node's guarded FS; its completion is
// counted on the actor.
func (a *probeActor) write(name string) {
	a.node.FS().WriteAt(name, []byte("x"), 0, func(err error) {
		require.False(a.t, a.dead, "I/O completion reached incarnation %d after its crash", a.incarnation)
		a.completions++
	})
}

// nodeRig is one node on its own loop, with a disk, booting probe actors.
type nodeRig struct {
	t      *testing.T
	loop   *Loop
	trace  *Trace
	node   *Node
	actors []*probeActor
	// setup, if set, configures each new actor inside boot.
	setup func(a *probeActor)
}

func newNodeRig(t *testing.T, clock ClockOptions) *nodeRig {
	loop := NewLoop()
	trace := NewTrace(loop.Now)
	trace.KeepMax = 10_000
	disk := NewDisk(loop, Stream(1, "disk/0"), trace, 0, DiskOptions{
		ReadLatencyMin: Millisecond, ReadLatencyMean: 2 * Millisecond,
		WriteLatencyMin: Millisecond, WriteLatencyMean: 2 * Millisecond,
		Capacity: 1 << 20,
	})
	r := &nodeRig{t: t, loop: loop, trace: trace}
	r.node = NewNode(loop, trace, 0, NewClock(loop, clock), disk)
	return r
}

func (r *nodeRig) boot(n *Node) Actor {
	a := &probeActor{node: n, incarnation: len(r.actors), t: r.t}
	r.actors = append(r.actors, a)
	if r.setup != nil {
		r.setup(a)
	}
	return a
}

func (r *nodeRig) start() *probeActor {
	r.node.Start(r.boot)
	return r.actors[len(r.actors)-1]
}

// crash crashes the node and marks its actor dead.
func (r *nodeRig) crash() {
	if a, ok := r.node.Actor().(*probeActor); ok {
		a.dead = true
	}
	r.node.Crash()
}

func (r *nodeRig) runFor(d Duration) { r.loop.RunUntil(r.loop.Now() + Time(d)) }

// nodeRecords returns the texts of the trace's "node" records.
func nodeRecords(tr *Trace) []string {
	var texts []string
	for _, rec := range tr.Kept {
		if rec.Kind == "node" {
			texts = append(texts, rec.Text)
		}
	}
	return texts
}

// countTicks runs a node with the given clock for d of virtual time and returns its ticks.
func countTicks(t *testing.T, clock ClockOptions, d Duration) []Time {
	r := newNodeRig(t, clock)
	a := r.start()
	r.runFor(d)
	return a.ticks
}

func TestNodeTicksEveryTickIntervalOfAPerfectClock(t *testing.T) {
	ticks := countTicks(t, ClockOptions{}, Second)
	require.Len(t, ticks, 100)
	for i, at := range ticks {
		require.Equal(t, Time(i+1)*Time(TickInterval), at, "tick %d", i)
	}
}

// Ticks follow the node's monotonic clock: offset, steps and periodic error (realtime only)
// change nothing; drift changes the rate, also when it changes mid-run.
func TestNodeTicksFollowTheNodesClock(t *testing.T) {
	perfect := countTicks(t, ClockOptions{}, 10*Second)
	wallWrong := countTicks(t, ClockOptions{OffsetNs: int64(Minute), PeriodicErrorNs: int64(Second),
		PeriodicPeriod: 3 * Second}, 10*Second)
	require.Equal(t, perfect, wallWrong, "realtime errors must not move ticks")

	fast := countTicks(t, ClockOptions{DriftPPM: 50_000}, 10*Second)
	slow := countTicks(t, ClockOptions{DriftPPM: -50_000}, 10*Second)
	require.Len(t, fast, 1050)
	require.Len(t, slow, 950)
	// Tick k fires when the local clock reads k*10ms: at ceil(k*10ms / 1.05) of true time.
	require.Equal(t, Time(mulDivCeil(int64(TickInterval), 1_000_000, 1_050_000)), fast[0])
	require.Equal(t, Time(mulDivCeil(int64(TickInterval), 1_000_000, 950_000)), slow[0])

	r := newNodeRig(t, ClockOptions{})
	a := r.start()
	r.node.Clock.Step(int64(60 * Minute))
	r.runFor(50 * Second)
	require.Len(t, a.ticks, 5000)
	r.node.Clock.SetDrift(20_000)
	r.runFor(50 * Second)
	// Local time at 100 s is 50 s + 50 s * 1.02 = 101 s: 10100 ticks of 10 ms.
	require.Equal(t, int64(101*Second), r.node.Clock.Monotonic())
	require.Len(t, a.ticks, 10_100)
}

func TestNodeCrashDropsPendingTicksMessagesAndCompletions(t *testing.T) {
	r := newNodeRig(t, ClockOptions{})
	first := r.start()
	r.runFor(5 * Millisecond)
	first.write("a") // completes no earlier than 1 ms from now
	r.loop.At(8*Time(Millisecond), func() { r.node.Deliver(1, []byte("late")) })
	r.crash()
	require.Equal(t, NodeCrashed, r.node.Status())
	require.Nil(t, r.node.Actor(), "a crashed node has no actor")

	r.runFor(Second)
	require.Empty(t, first.ticks, "the tick due at 10 ms must be dropped")
	require.Empty(t, first.received, "a message to a crashed node must be dropped")
	require.Zero(t, first.completions, "an I/O completion of a crashed node must be dropped")

	// Crash is idempotent: a second crash records nothing.
	before := r.trace.Count()
	r.node.Crash()
	require.Equal(t, before, r.trace.Count())
}

// Messages held by a paused node are volatile: a crash drops them and the next incarnation
// never sees them; nor does it see completions of I/O its predecessor issued.
func TestNodeCrashDropsHeldMessagesAndOldIncarnationsIO(t *testing.T) {
	r := newNodeRig(t, ClockOptions{})
	first := r.start()
	r.runFor(15 * Millisecond)
	first.write("a")
	r.node.Pause()
	r.node.Deliver(1, []byte("held-1"))
	r.node.Deliver(2, []byte("held-2"))
	r.crash()
	second := r.start()
	r.runFor(Second)
	require.Len(t, first.ticks, 1)
	require.Empty(t, first.received)
	require.Zero(t, first.completions)
	require.Empty(t, second.received, "held messages of the crashed incarnation leaked to the next")
	require.Zero(t, second.completions, "an earlier incarnation's completion reached the next")
	require.Len(t, second.ticks, 100)
}

func TestNodeRestartCallsBootAgain(t *testing.T) {
	r := newNodeRig(t, ClockOptions{})
	require.Equal(t, NodeCrashed, r.node.Status(), "a new node is down until Start")
	first := r.start()
	require.Equal(t, NodeUp, r.node.Status())
	require.Same(t, first, r.node.Actor())
	requireAssertion(t, "start while running", func() { r.node.Start(r.boot) })

	r.runFor(100 * Millisecond)
	r.crash()
	r.runFor(55 * Millisecond)
	second := r.start()
	require.Len(t, r.actors, 2, "restart must boot a fresh actor")
	require.NotSame(t, first, second)
	require.Same(t, second, r.node.Actor())
	r.runFor(100 * Millisecond)

	require.Len(t, first.ticks, 10)
	// The new incarnation ticks every 10 ms from its boot, not on the old schedule.
	require.Len(t, second.ticks, 10)
	require.Equal(t, Time(165*Millisecond), second.ticks[0])
	require.Equal(t, []string{"start", "crash", "restart"}, nodeRecords(r.trace))

	// The new actor's I/O works after a restart.
	second.write("b")
	r.runFor(Second)
	require.Equal(t, 1, second.completions)
}

func TestNodePauseHoldsMessagesAndTicksUntilUnpause(t *testing.T) {
	r := newNodeRig(t, ClockOptions{})
	a := r.start()
	r.runFor(15 * Millisecond)
	require.Len(t, a.ticks, 1)
	a.write("a")
	r.node.Pause()
	require.Equal(t, NodePaused, r.node.Status())
	require.Same(t, a, r.node.Actor(), "a paused node keeps its state")
	for i := 0; i < HeldMessagesMax+10; i++ {
		r.node.Deliver(1, []byte(fmt.Sprint(i)))
	}
	monoBefore := r.node.Clock.Monotonic()
	r.runFor(Second)
	require.Len(t, a.ticks, 1, "no ticks while paused")
	require.Empty(t, a.received, "no messages while paused")
	require.Zero(t, a.completions, "no I/O completions while paused")
	require.Equal(t, monoBefore+int64(Second), r.node.Clock.Monotonic(), "the clock runs on while paused")

	unpausedAt := r.loop.Now()
	r.node.Unpause()
	require.Equal(t, NodeUp, r.node.Status())
	require.Len(t, a.received, HeldMessagesMax, "held messages are bounded by HeldMessagesMax")
	for i, got := range a.received {
		require.Equal(t, fmt.Sprintf("1:%d", i), got, "held messages arrive in order, oldest kept")
	}
	r.runFor(100 * Millisecond)
	require.Equal(t, 1, a.completions, "the held completion runs after unpause")
	// One tick resumes the schedule (no burst for the ticks missed while paused).
	require.Len(t, a.ticks, 11)
	require.Equal(t, unpausedAt+Time(TickInterval), a.ticks[1])

	// Unpause and Pause are no-ops in the wrong state.
	before := r.trace.Count()
	r.node.Unpause()
	r.crash()
	r.node.Pause()
	require.Equal(t, NodeCrashed, r.node.Status())
	require.Equal(t, before+2, r.trace.Count(), "only the crash (node and disk) is recorded")
}

// A node that crashes while paused must come back with a working disk: the pause of the dead
// process must not outlive it.
func TestNodeCrashWhilePausedRestartsWithWorkingIO(t *testing.T) {
	r := newNodeRig(t, ClockOptions{})
	first := r.start()
	r.runFor(15 * Millisecond)
	r.node.Pause()
	r.crash()
	second := r.start()
	second.write("a")
	r.runFor(Second)
	require.Equal(t, 1, second.completions, "I/O of the restarted node never completed")
	require.Len(t, second.ticks, 100)
	require.Len(t, first.ticks, 1)
}

func TestNodePanicIsARecordedFailStop(t *testing.T) {
	cases := []struct {
		name      string
		panicking func(a *probeActor)
		assertion bool
		message   string
	}{
		{"assertion", func(*probeActor) { assert.That(false, "commit_number <= op_number") }, true, "commit_number <= op_number"},
		{"panic", func(*probeActor) { panic("boom") }, false, "boom"},
		{"runtime error", func(a *probeActor) { _ = a.ticks[len(a.ticks)+5] }, false, "index out of range"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newNodeRig(t, ClockOptions{})
			var reported []Failure
			r.node.OnFailure = func(f Failure) { reported = append(reported, f) }
			a := r.start()
			a.onTick = func(a *probeActor) {
				if len(a.ticks) == 3 {
					a.dead = true // the node must not call it again
					c.panicking(a)
				}
			}
			r.runFor(Second)

			require.Equal(t, NodeCrashed, r.node.Status(), "a panicking actor fail-stops its node")
			require.Len(t, a.ticks, 3)
			failures := r.node.Failures()
			require.Len(t, failures, 1)
			f := failures[0]
			require.Equal(t, c.assertion, f.Assertion)
			require.Contains(t, f.Message, c.message)
			require.Equal(t, Time(30*Millisecond), f.At)
			require.Equal(t, 0, f.Node)
			require.Contains(t, f.Stack, "probeActor", "the stack must point at the actor")
			require.Equal(t, failures, reported, "OnFailure sees the same failure")
			texts := nodeRecords(r.trace)
			require.Contains(t, texts[len(texts)-1], fmt.Sprintf("fail-stop assertion=%t", c.assertion))

			// The harness may restart it: a fresh incarnation runs.
			b := r.start()
			r.runFor(100 * Millisecond)
			require.Len(t, b.ticks, 10)
		})
	}
}

// Panics in every entry point are fail-stops: boot, Receive and an I/O completion.
func TestNodePanicInBootReceiveAndCompletion(t *testing.T) {
	r := newNodeRig(t, ClockOptions{})
	r.setup = func(*probeActor) { panic("cannot open the log") }
	r.start()
	require.Equal(t, NodeCrashed, r.node.Status())
	require.Len(t, r.node.Failures(), 1)
	require.False(t, r.node.Failures()[0].Assertion)
	r.runFor(Second)
	require.Empty(t, r.actors[0].ticks, "a node that failed to boot never ticks")

	r.setup = func(a *probeActor) {
		a.onReceive = func(*probeActor, int, []byte) { assert.Unreachable("bad message") }
	}
	a := r.start()
	r.node.Deliver(3, []byte("poison"))
	require.Equal(t, NodeCrashed, r.node.Status())
	a.dead = true
	require.Len(t, r.node.Failures(), 2)
	require.True(t, r.node.Failures()[1].Assertion)
	require.Equal(t, "unreachable: bad message", r.node.Failures()[1].Message)

	r.setup = nil
	b := r.start()
	r.node.FS().WriteAt("f", []byte("x"), 0, func(error) {
		b.dead = true
		assert.That(false, "checksum mismatch")
	})
	r.runFor(Second)
	require.Equal(t, NodeCrashed, r.node.Status())
	require.Len(t, r.node.Failures(), 3)
	require.Equal(t, "checksum mismatch", r.node.Failures()[2].Message)
	require.Less(t, len(b.ticks), 100, "the node stopped ticking at the failing completion")
}

func TestNodeStatusString(t *testing.T) {
	require.Equal(t, "up", NodeUp.String())
	require.Equal(t, "crashed", NodeCrashed.String())
	require.Equal(t, "paused", NodePaused.String())
	require.True(t, strings.HasPrefix(NodeStatus(9).String(), "NodeStatus("))
}
