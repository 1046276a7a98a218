package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
)

// TestMetricsAgreementFires: a counter that disagrees with the events its process reported
// fails the check, naming the counter; agreeing counters pass; a new process (a restart)
// starts from zero on both sides.
func TestMetricsAgreementFires(t *testing.T) {
	var m metricsAgreement
	first, second := &vsr.Replica{}, &vsr.Replica{}
	tally := m.tally(1, first)
	tally.commits, tally.viewChanges, tally.truncations = 3, 1, 1
	in := vsr.Inspection{Metrics: vsr.Metrics{CommitsTotal: 3, ViewChangesTotal: 1, Truncations: 1}}
	require.Empty(t, m.check(1, first, &in))

	in.Metrics.CommitsTotal = 6 // counted twice per op
	require.Contains(t, m.check(1, first, &in), "commits_total = 6, but this process reported 3 commit events")

	in.Metrics = vsr.Metrics{CommitsTotal: 3, ViewChangesTotal: 0, Truncations: 1} // a view entered uncounted
	require.Contains(t, m.check(1, first, &in), "view_changes_total = 0")

	require.Contains(t, m.check(1, second, &in), "commits_total = 3, but this process reported 0",
		"a restarted process starts its tally afresh")
	require.Empty(t, m.check(1, second, &vsr.Inspection{}))
}
