package scenarios

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// The performance scenario measures what it claims: operations flow, the runbook's p99
// target holds on a healthy cluster, and batching raises throughput.
func TestPerformanceMeetsTheLatencyTargetAndBatchingHelps(t *testing.T) {
	r := runPerformance(Options{Seed: 1}, performanceKnobs{})
	require.Equal(t, Pass, r.Outcome, r.Reason)
	p := drawPerformance(1)
	one, batched := r.Counters["batch_1.ops_per_sec"], r.Counters[batchKey(p.batchMax, "ops_per_sec")]
	require.Positive(t, one)
	require.Greater(t, batched, one, "batching must raise throughput")
	require.Less(t, r.Counters[batchKey(p.batchMax, "p99_us")], uint64(performanceP99TargetMs*1000))
}

func batchKey(batch int, name string) string {
	return fmt.Sprintf("batch_%d.%s", batch, name)
}

// The add-standby quick fix is not vacuous: the change commits, the standby catches up and
// serves stale reads (its own count agrees), and the primary's share of the reads drops;
// without the add-standby the standby never answers and the scenario fails.
func TestPerformanceAddStandbyOffloadsReads(t *testing.T) {
	for _, seed := range []uint64{1, 2} {
		rep, r := performanceOffload(Options{Seed: seed}, performanceKnobs{})
		require.Equal(t, Pass, r.Outcome, "seed %d: %s", seed, r.Reason)
		require.Equal(t, uint64(1), r.Counters["reconfig.add_standby"])
		require.Positive(t, rep.primaryReadsBefore)
		require.Positive(t, rep.standbyReads)
		require.GreaterOrEqual(t, rep.standbyServed, rep.standbyReads, "the standby counts every read it answered")
		require.Equal(t, uint64(100), r.Counters["offload.primary_read_share_before_pct"])
		require.Less(t, r.Counters["offload.primary_read_share_after_pct"], uint64(100))
		// Every stale read went to the standby_reads checker, which replays the add-standby
		// op as a change of no key. (A read in flight at the window's end is answered after
		// it: >=.)
		require.GreaterOrEqual(t, r.Counters["invariants.standby_reads_checked"], rep.standbyReads)
		require.Zero(t, r.Counters["invariants.standby_reads_unchecked"])
		t.Logf("seed %d: primary reads %d before, %d after; standby %d; caught up in %d ticks", seed,
			rep.primaryReadsBefore, rep.primaryReadsAfter, rep.standbyReads, rep.addTicks)
	}
	skipped := runPerformance(Options{Seed: 1}, performanceKnobs{skipAddStandby: true})
	require.Equal(t, Liveness, skipped.Outcome, skipped.Reason)
	require.Contains(t, skipped.Reason, "reads did not move to the standby")
	require.Zero(t, skipped.Counters["offload.reads_standby"])
}
