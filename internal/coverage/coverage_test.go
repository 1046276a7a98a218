package coverage

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var (
	testMarkB = Declare("test.b_mark", "the second test mark")
	testMarkA = Declare("test.a_mark", "the first test mark")
)

// Every declared mark is reported, zero included, under its counter name; hits count.
func TestHitsReportEveryDeclaredMark(t *testing.T) {
	var h Hits
	h.Hit(testMarkB)
	h.Hit(testMarkB)
	counters := map[string]uint64{}
	h.Report(counters)
	require.Equal(t, uint64(2), counters["coverage.mark.test.b_mark"])
	v, ok := counters["coverage.mark.test.a_mark"]
	require.True(t, ok, "a mark never reached is reported as 0")
	require.Zero(t, v)
	require.Equal(t, uint64(2), h.Count(testMarkB))
	require.Zero(t, h.Count(testMarkA))
	for name := range counters {
		require.True(t, strings.HasPrefix(name, CounterPrefix), name)
	}
}

// All is sorted by name and holds each mark once, with its description.
func TestAllSorted(t *testing.T) {
	all := All()
	names := make([]string, len(all))
	for i, m := range all {
		names[i] = m.Name()
		require.NotEmpty(t, m.Description())
	}
	require.True(t, slices.IsSorted(names))
	require.Len(t, names, len(slices.Compact(slices.Clone(names))))
	require.Contains(t, names, "test.a_mark")
	require.Equal(t, "the first test mark", testMarkA.Description())
}

// Bad declarations and hits of undeclared marks are programming errors.
func TestDeclareRejects(t *testing.T) {
	require.Panics(t, func() { Declare("test.a_mark", "again") }, "declared twice")
	require.Panics(t, func() { Declare("Test.Upper", "x") }, "bad name")
	require.Panics(t, func() { Declare("test.no_description", "") })
	require.Panics(t, func() { var h Hits; h.Hit(Mark{name: "never.declared"}) })
}
