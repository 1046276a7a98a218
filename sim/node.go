package sim

import (
	"fmt"
	"runtime/debug"

	"vopr/internal/assert"
)

// TickInterval is how often a node's actor is ticked, measured on the node's own monotonic
// clock (DESIGN.md section 3: Tick every 10 ms of the replica's local clock).
const TickInterval = 10 * Millisecond

// HeldMessagesMax bounds the messages a paused node holds for delivery after it resumes (the
// socket buffer of a stopped process); beyond it, arrivals are dropped.
const HeldMessagesMax = 256

// Actor is the code that runs on a node: a replica or a client (through their adapters), or
// a test actor. The node calls it only from the event loop.
type Actor interface {
	Tick()
	Receive(from int, msg []byte)
}

// NodeStatus is the process state of a node, as the simulator sees it.
type NodeStatus int

const (
	// NodeUp runs: it ticks, receives messages and completes I/O.
	NodeUp NodeStatus = iota
	// NodeCrashed is down: its volatile state is gone; only a restart brings it back.
	NodeCrashed
	// NodePaused is stopped (SIGSTOP, a long GC pause): no ticks, no messages, no I/O
	// completions; its clock runs on, and held messages arrive when it resumes.
	NodePaused
)

func (s NodeStatus) String() string {
	switch s {
	case NodeUp:
		return "up"
	case NodeCrashed:
		return "crashed"
	case NodePaused:
		return "paused"
	}
	return fmt.Sprintf("NodeStatus(%d)", int(s))
}

// Failure is a fail-stop recorded by a node: the actor panicked.
type Failure struct {
	At        Time
	Node      int
	Assertion bool   // a typed assertion failure (assert.Failure) rather than a runtime panic
	Message   string // the assertion message or panic value
	Stack     string
}

// Node is a simulated machine: a clock, an optional disk, a network address, and the actor
// that runs on it. It schedules the actor's ticks by its own clock, filters deliveries by its
// status, and turns a panic of the actor into a fail-stop that the harness can inspect.
//
// Invariants:
//   - at most one tick event is pending for the current generation;
//   - a crashed node's actor is never called; a paused node's actor is never called.
type Node struct {
	ID    int
	Clock *Clock
	Disk  *Disk // nil for nodes without storage (clients)

	loop    *Loop
	trace   *Trace
	status  NodeStatus
	actor   Actor
	started bool
	// generation invalidates tick events scheduled before a crash or restart.
	generation    uint64
	nextTickLocal int64
	tickPending   bool
	tickFn        func(generation uint64) // n.tick, made once
	held          []heldMessage
	failures      []Failure
	// guardDepth counts the actor calls under way (Guard); crashDue asks for a crash when the
	// outermost one returns (CrashAfterCall).
	guardDepth int
	crashDue   bool
	// OnFailure, if set, is called after the node fail-stops on a panic of its actor.
	OnFailure func(Failure)
	// OnCompletion, if set, sees each I/O completion of the actor's storage (through FS)
	// before the actor does; returning true crashes the node at that instant instead, before
	// the actor learns of it. It is a fault injector's hook (Cluster.SetFaultHooks).
	OnCompletion func(IOCompletion) bool
	// ObserveCompletion, if set, sees each I/O completion of the actor's storage first, even
	// one OnCompletion then crashes the node at (a checker's hook: it must not change the run).
	ObserveCompletion func(IOCompletion)
	// AfterCall, if set, runs after each outermost actor call (a tick, a message, an I/O
	// completion, a boot) that did not fail-stop: the trace's status lines look there for a
	// changed replica. It must not change the run.
	AfterCall func()
}

type heldMessage struct {
	from int
	msg  []byte
}

// NewNode returns a node that is down until Start.
func NewNode(loop *Loop, trace *Trace, id int, clock *Clock, disk *Disk) *Node {
	assert.That(clock != nil, "node: nil clock")
	return &Node{ID: id, Clock: clock, Disk: disk, loop: loop, trace: trace, status: NodeCrashed}
}

// Status returns the node's process state.
func (n *Node) Status() NodeStatus { return n.status }

// Actor returns the running actor, or nil if the node is down.
func (n *Node) Actor() Actor {
	if n.status == NodeCrashed {
		return nil
	}
	return n.actor
}

// Failures returns the fail-stops recorded on this node, oldest first.
func (n *Node) Failures() []Failure { return n.failures }

// Start boots the node with a fresh actor built by boot (a new process: the actor opens its
// disk and recovers from it). boot runs guarded: a panic while booting is a fail-stop.
func (n *Node) Start(boot func(n *Node) Actor) {
	assert.That(n.status == NodeCrashed, "node: start while running")
	n.generation++
	n.status = NodeUp
	n.held = n.held[:0]
	n.actor = nil
	verb := "start"
	if n.started {
		verb = "restart"
	}
	n.started = true
	n.trace.Emit(LevelShort, n.ID, "node", verb)
	n.Guard(func() { n.actor = boot(n) })
	if n.status != NodeUp {
		return
	}
	assert.That(n.actor != nil, "node: boot returned no actor")
	n.nextTickLocal = n.Clock.Monotonic()
	n.scheduleTick()
}

// Crash stops the node at once: its volatile state (the actor) is dropped, its disk applies
// crash semantics to unsynced writes, and every pending tick, message and I/O completion for
// it is discarded.
func (n *Node) Crash() {
	if n.status == NodeCrashed {
		return
	}
	n.trace.Emit(LevelShort, n.ID, "node", "crash")
	n.stop()
}

// CrashAfterCall crashes the node as soon as the actor call under way returns, or at once if
// none is. A fault injector that acts from inside the actor's own calls (a message it sends,
// an event it reports) must not stop it in the middle of its code: the rest of the call would
// go on sending and writing as a dead process. The crash is the same as Crash.
func (n *Node) CrashAfterCall() {
	if n.status == NodeCrashed {
		return
	}
	if n.guardDepth == 0 {
		n.Crash()
		return
	}
	n.crashDue = true
}

func (n *Node) stop() {
	n.status = NodeCrashed
	n.crashDue = false
	n.actor = nil
	n.generation++
	n.tickPending = false
	n.held = n.held[:0]
	if n.Disk != nil {
		n.Disk.Crash()
		// A pause belongs to the process that died: without this, a node crashed while
		// paused would restart with a disk that holds every completion forever.
		n.Disk.SetPaused(false)
	}
	n.afterChange()
}

// afterChange runs AfterCall for a change of the node's status made outside an actor call.
func (n *Node) afterChange() {
	if n.AfterCall != nil && n.guardDepth == 0 {
		n.AfterCall()
	}
}

// Pause stops the node without losing state: no ticks, messages or I/O completions reach it
// until Unpause; its clock keeps running.
func (n *Node) Pause() {
	if n.status != NodeUp {
		return
	}
	n.trace.Emit(LevelShort, n.ID, "node", "pause")
	n.status = NodePaused
	if n.Disk != nil {
		n.Disk.SetPaused(true)
	}
	n.afterChange()
}

// Unpause resumes a paused node: held messages are delivered, held completions run, and the
// tick schedule catches up with the clock (one tick, not a burst).
func (n *Node) Unpause() {
	if n.status != NodePaused {
		return
	}
	n.trace.Emit(LevelShort, n.ID, "node", "unpause")
	n.status = NodeUp
	n.afterChange()
	if n.Disk != nil {
		n.Disk.SetPaused(false)
	}
	held := n.held
	n.held = nil
	for _, h := range held {
		n.Deliver(h.from, h.msg)
	}
	if !n.tickPending && n.status == NodeUp {
		n.nextTickLocal = n.Clock.Monotonic()
		n.scheduleTick()
	}
}

// Deliver hands a message from the network to the actor, if the node is up.
func (n *Node) Deliver(from int, msg []byte) {
	switch n.status {
	case NodeCrashed:
		return
	case NodePaused:
		if len(n.held) < HeldMessagesMax {
			n.held = append(n.held, heldMessage{from: from, msg: msg})
		}
		return
	}
	actor := n.actor
	n.Guard(func() { actor.Receive(from, msg) })
}

func (n *Node) scheduleTick() {
	assert.That(!n.tickPending, "node: second tick scheduled")
	n.tickPending = true
	n.nextTickLocal += int64(TickInterval)
	at := max(n.Clock.TrueTimeOf(n.nextTickLocal), n.loop.Now())
	if n.tickFn == nil {
		n.tickFn = n.tick
	}
	n.loop.AtCallSteady(at, n.tickFn, n.generation)
}

// tick is the tick event scheduled under generation.
func (n *Node) tick(generation uint64) {
	if generation != n.generation {
		return
	}
	n.tickPending = false
	if n.status != NodeUp {
		return // paused: Unpause reschedules
	}
	n.Guard(n.actor.Tick)
	if n.status == NodeUp && !n.tickPending {
		n.scheduleTick()
	}
}

// Guard runs fn on behalf of the node's actor. A panic inside it is a fail-stop: the node
// crashes (as a real process would exit) and the failure is recorded, typed as an assertion
// failure when the panic value is an *assert.Failure. Anything that calls into the actor
// (ticks, messages, I/O completions, operator actions) goes through Guard.
func (n *Node) Guard(fn func()) {
	if n.status == NodeCrashed {
		return
	}
	n.guardDepth++
	defer func() {
		n.guardDepth--
		recovered := recover()
		if recovered != nil {
			n.failStop(recovered, string(debug.Stack()))
			return
		}
		if n.guardDepth == 0 && n.crashDue {
			n.Crash()
		}
		if n.guardDepth == 0 && n.AfterCall != nil {
			n.AfterCall()
		}
	}()
	fn()
}

func (n *Node) failStop(recovered any, stack string) {
	f := Failure{At: n.loop.Now(), Node: n.ID, Stack: stack}
	if af, ok := assert.AsFailure(recovered); ok {
		f.Assertion = true
		f.Message = af.Message
	} else {
		f.Message = fmt.Sprint(recovered)
	}
	n.failures = append(n.failures, f)
	n.trace.Emitf(LevelShort, n.ID, "node", "fail-stop assertion=%t: %s", f.Assertion, f.Message)
	n.stop()
	if n.OnFailure != nil {
		n.OnFailure(f)
	}
}
