package invariants

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/kv"
)

// TestAckedReadBackPassesSupersededAndAppended: writes replaced by later writes (one
// acknowledged, one indeterminate) and appends after a put all read back or are excused.
func TestAckedReadBackPassesSupersededAndAppended(t *testing.T) {
	h := NewHistory()
	record(h, 1, put("x", "a"), 0, 10, ok, 1)
	record(h, 2, put("x", "b"), 20, 30, ok, 2) // replaces a
	record(h, 1, appendOp("x", "+c"), 40, 50, ok, 3)
	record(h, 2, cas("x", "zzz", "d"), 60, 70, mismatch("b+c"), 4) // changed nothing: not held
	record(h, 1, put("y", "p"), 0, 10, ok, 5)
	h.Indeterminate(h.Invoke(2, put("y", "q"), 80)) // may have replaced p, at any time after 80
	rep, v := h.CheckReadBack(map[string]kv.Result{"x": okValue("b+c"), "y": okValue("q")})
	require.Nil(t, v)
	require.Equal(t, ReadBackReport{Acked: 4, ReadBack: 2, Superseded: 2}, rep)
}

// TestAckedReadBackFiresOnALostWrite: the last acknowledged put is gone from the final value,
// and the only other write of the key returned before it was invoked.
func TestAckedReadBackFiresOnALostWrite(t *testing.T) {
	h := NewHistory()
	record(h, 1, put("x", "a"), 0, 10, ok, 1)
	record(h, 2, put("x", "b"), 20, 30, ok, 2)
	_, v := h.CheckReadBack(map[string]kv.Result{"x": okValue("a")})
	requireViolation(t, v, NameAckedReadBack, -1, 2, 0, 30*ms)
	require.Contains(t, v.Error(), `client 2's put("x", "b") was acknowledged`)
	require.Contains(t, v.Error(), `reads back ok "a"`)
}

// TestAckedReadBackFiresOnALostKeyAndAppend: a key that reads back absent lost its put; an
// acknowledged append missing from the value is lost even though a put came before it.
func TestAckedReadBackFiresOnALostKeyAndAppend(t *testing.T) {
	h := NewHistory()
	record(h, 1, put("x", "a"), 0, 10, ok, 11)
	_, v := h.CheckReadBack(map[string]kv.Result{"x": notFound})
	requireViolation(t, v, NameAckedReadBack, -1, 11, 1, 10*ms)

	h = NewHistory()
	record(h, 1, put("y", "a"), 0, 10, ok, 1)
	record(h, 1, appendOp("y", "+b"), 20, 30, ok, 2)
	// An indeterminate put that was bounded before the append was invoked cannot excuse it.
	h.Indeterminate(h.Invoke(2, put("y", "z"), 0))
	record(h, 2, get("y"), 11, 15, okValue("a"), 3)
	_, v = h.CheckReadBack(map[string]kv.Result{"y": okValue("a")})
	requireViolation(t, v, NameAckedReadBack, -1, 2, 0, 30*ms)
}
