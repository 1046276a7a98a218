package sim

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The observer sees every completion first, the one the fault hook crashes the node at
// included, and changes nothing.
func TestNodeObserveCompletionSeesEveryCompletion(t *testing.T) {
	r := newNodeRig(t, ClockOptions{})
	var observed []IOCompletion
	r.node.ObserveCompletion = func(io IOCompletion) { observed = append(observed, io) }
	r.node.OnCompletion = func(io IOCompletion) bool { return io.Op == IOSync }
	a := r.start()
	fs := r.node.FS()
	var wrote bool
	fs.Create("a", func(err error) { require.NoError(t, err) })
	r.runFor(50 * Millisecond)
	fs.WriteAt("a", []byte("xyz"), 0, func(err error) { wrote = err == nil })
	r.runFor(50 * Millisecond)
	require.True(t, wrote, "observing does not stop the callback")
	fs.Sync("a", func(err error) { t.Fatal("the crashed process ran the completion it died at") })
	r.runFor(50 * Millisecond)
	require.Equal(t, NodeCrashed, r.node.Status())
	a.dead = true
	require.Equal(t, []IOCompletion{{Op: IOCreate, Name: "a"}, {Op: IOWrite, Name: "a", Size: 3},
		{Op: IOSync, Name: "a"}}, observed)
}
