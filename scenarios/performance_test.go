package scenarios

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// The performance scenario measures what it claims: operations flow, the runbook's p99
// target holds on a healthy cluster, and batching raises throughput.
func TestPerformanceMeetsTheLatencyTargetAndBatchingHelps(t *testing.T) {
	r := runPerformance(Options{Seed: 1})
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
