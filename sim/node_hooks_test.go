package sim

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// A crash asked for inside the actor's call happens when the call returns: the rest of the
// call still runs (its writes are issued), and nothing after it reaches the actor.
func TestNodeCrashAfterCallWaitsForTheCallToReturn(t *testing.T) {
	r := newNodeRig(t, ClockOptions{})
	var stillRunning bool
	r.setup = func(a *probeActor) {
		a.onReceive = func(a *probeActor, from int, msg []byte) {
			a.node.CrashAfterCall()
			require.Equal(t, NodeUp, a.node.Status(), "crashed in the middle of the call")
			stillRunning = true
			a.write("after")
		}
	}
	first := r.start()
	r.runFor(15 * Millisecond)
	r.node.Deliver(1, []byte("crash-me"))
	require.True(t, stillRunning)
	require.Equal(t, NodeCrashed, r.node.Status(), "the crash happens as the call returns")
	first.dead = true
	r.runFor(Second)
	require.Zero(t, first.completions, "the dead process saw its write complete")
	require.Contains(t, nodeRecords(r.trace), "crash")

	// Outside any call the crash is immediate.
	r.start()
	r.node.CrashAfterCall()
	require.Equal(t, NodeCrashed, r.node.Status())
}

// The completion hook sees each completion of the node's FS before the actor, with its
// operation and file; returning true crashes the node instead of running the callback.
func TestNodeOnCompletionCrashesAtTheNamedCompletion(t *testing.T) {
	r := newNodeRig(t, ClockOptions{})
	var seen []IOCompletion
	r.node.OnCompletion = func(io IOCompletion) bool {
		seen = append(seen, io)
		return io.Op == IOSync && io.Name == "b"
	}
	a := r.start()
	fs := r.node.FS()
	var wroteA, syncedA, syncedB bool
	fs.Create("a", func(err error) { require.NoError(t, err) })
	r.runFor(50 * Millisecond)
	fs.WriteAt("a", []byte("xyz"), 512, func(err error) { wroteA = err == nil })
	r.runFor(50 * Millisecond)
	fs.Sync("a", func(err error) { syncedA = true })
	r.runFor(50 * Millisecond)
	require.True(t, wroteA)
	require.True(t, syncedA)
	require.Equal(t, NodeUp, r.node.Status())
	fs.Sync("b", func(err error) { syncedB = true })
	r.runFor(50 * Millisecond)
	require.False(t, syncedB, "the crashed process ran the completion it died at")
	require.Equal(t, NodeCrashed, r.node.Status())
	a.dead = true
	require.Equal(t, []IOCompletion{
		{Op: IOCreate, Name: "a"},
		{Op: IOWrite, Name: "a", Offset: 512, Size: 3},
		{Op: IOSync, Name: "a"},
		{Op: IOSync, Name: "b", Err: seen[3].Err},
	}, seen)
	require.Equal(t, "sync", IOSync.String())
}
