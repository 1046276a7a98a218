package scenarios

import (
	"fmt"
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

// The latency histogram check recomputes each quantile from the buckets and fires on a
// histogram whose count and buckets disagree.
func TestCheckLatencyHistogram(t *testing.T) {
	var h vsr.Histogram
	require.Empty(t, checkLatencyHistogram(0, &h))
	for i := 0; i < 99; i++ {
		h.Record(3_000_000)
	}
	h.Record(10_000_000)
	require.Empty(t, checkLatencyHistogram(0, &h))
	require.Equal(t, int64(4), nearestRankBoundMs(h.Buckets[:], h.Count, 990))
	require.Equal(t, int64(16), nearestRankBoundMs(h.Buckets[:], h.Count, 1000))
	require.Equal(t, int64(0), nearestRankBoundMs(h.Buckets[:], 0, 990))

	h.Count++ // a sample counted but never put in a bucket
	require.Contains(t, checkLatencyHistogram(2, &h), "replica 2's commit latency histogram counts 101 samples")
}

// Upgrade events are counted against the upgrades metric and must name a rising release.
func TestMetricsAgreementUpgrades(t *testing.T) {
	var m metricsAgreement
	r := &vsr.Replica{}
	up := func(release int, op uint64) vsr.Event {
		return vsr.Event{Kind: vsr.EventUpgrade, Replica: 2, Op: op, Text: fmt.Sprintf("cluster release %d", release)}
	}
	m.count(2, r, up(2, 40))
	require.Empty(t, m.check(2, r, &vsr.Inspection{Metrics: vsr.Metrics{Upgrades: 1}}))
	require.Contains(t, m.check(2, r, &vsr.Inspection{Metrics: vsr.Metrics{Upgrades: 2}}), "upgrades = 2, but this process reported 1")

	m.count(2, r, up(2, 41)) // the duplicate upgrade op executed as a new upgrade
	require.Contains(t, m.check(2, r, &vsr.Inspection{Metrics: vsr.Metrics{Upgrades: 2}}),
		"replica 2 reported an upgrade to cluster release 2 at op 41, after its upgrade to release 2")

	// A restarted process executes the upgrade op again from its log: a new tally.
	again := &vsr.Replica{}
	m.count(2, again, up(2, 40))
	require.Empty(t, m.check(2, again, &vsr.Inspection{Metrics: vsr.Metrics{Upgrades: 1}}))
}

// TestCheckEligibleFires: a standby eligible while a checkpoint behind, a second behind, not
// normal, or with its lag unknown (no primary heard since it started: a restarted standby
// reported zeros) breaks the runbook's definition; one within the bounds, or not eligible,
// passes.
func TestCheckEligibleFires(t *testing.T) {
	ok := vsr.Inspection{Status: vsr.StatusNormal, StandbyEligible: true, StandbyLagKnown: true,
		StandbyLagNs: vsr.StandbyLagMaxNs, StandbyLagOps: vsr.StandbyLagOpsMax}
	require.Empty(t, checkEligible(4, &ok))
	behind, late, syncing, unknown := ok, ok, ok, ok
	behind.StandbyLagOps++
	late.StandbyLagNs++
	syncing.Status = vsr.StatusRecovering
	unknown.StandbyLagKnown, unknown.StandbyLagNs, unknown.StandbyLagOps, unknown.CommitMax = false, 0, 0, 40
	require.Contains(t, checkEligible(4, &unknown), "while its lag is unknown (no primary heard since it started; op 0 executed, commit 40 known)")
	for _, in := range []vsr.Inspection{behind, late, syncing, unknown} {
		require.Contains(t, checkEligible(4, &in), "metrics: standby 4 reports itself eligible for promotion")
		in.StandbyEligible = false
		require.Empty(t, checkEligible(4, &in))
	}
}
