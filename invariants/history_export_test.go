package invariants

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// A linearizability violation names its key, and porcupine draws that key's history.
func TestViolatedKeyAndVisualize(t *testing.T) {
	h := NewHistory()
	record(h, 1, put("x", "1"), 0, 10, ok, 11)
	record(h, 2, put("x", "2"), 20, 30, ok, 12)
	record(h, 3, get("x"), 40, 50, okValue("1"), 27)
	v := h.Check()
	require.NotNil(t, v)
	key, found := ViolatedKey(v.Error())
	require.True(t, found, v.Error())
	require.Equal(t, "x", key)
	_, found = ViolatedKey("invariant digest_agreement violated: replica 2, op 1, view 0, at 1s (tick 100): key \"x\": no")
	require.False(t, found, "only a linearizability violation names a key to draw")
	var out strings.Builder
	require.NoError(t, h.Visualize("x", &out))
	require.Contains(t, out.String(), "<html")
	require.Contains(t, out.String(), `put(\"x\", \"2\")`, "porcupine's data holds the key's operations")
	require.Error(t, h.Visualize("nope", &out))
	entries := h.Entries()
	require.Len(t, entries, 3)
	require.Equal(t, HistoryEntry{Client: 3, Op: `get("x")`, Key: "x", CallNs: 40 * ms, ReturnNs: 50 * ms, Outcome: "ok",
		Result: `ok "1"`, LogOp: 27}, entries[2])
}
