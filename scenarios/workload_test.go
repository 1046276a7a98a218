package scenarios

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"vopr/cluster/client"
	"vopr/cluster/kv"
	"vopr/invariants"
	"vopr/sim"
)

// TestWorkloadMixes: seeds draw different mixes, some without a kind of write, never without
// writes nor with reads below a fifth.
func TestWorkloadMixes(t *testing.T) {
	mixes := map[string]bool{}
	left := [4]int{}
	for seed := uint64(1); seed <= 200; seed++ {
		m := drawWorkloadMix(seed)
		writes := m.weights[1] + m.weights[2] + m.weights[3]
		require.Positive(t, writes, "seed %d writes nothing", seed)
		require.GreaterOrEqual(t, 4*m.weights[0], writes, "seed %d reads too little", seed)
		require.Contains(t, []int{2, 4, 8}, m.keys)
		mixes[m.String()] = true
		for i, w := range m.weights {
			if w == 0 {
				left[i]++
			}
		}
		require.Equal(t, m, drawWorkloadMix(seed), "a seed's mix is its own")
	}
	require.Greater(t, len(mixes), 100)
	for i := range left[1:] {
		require.Positive(t, left[i+1], "%s is never left out", workloadKinds[i+1])
	}
}

// TestWorkloadCASExpectsWhatWasSeen: a cas expects a value the clients saw for its key (or
// its absence), values are unique, a key takes at most workloadKeyOps operations, and the
// counts add up.
func TestWorkloadCASExpectsWhatWasSeen(t *testing.T) {
	w := newWorkload(sim.Stream(1, "workload"), workloadMix{weights: [4]int{1, 1, 1, 4}, keys: 2})
	reply := func(status kv.Status, value string) client.Result {
		return client.Result{Outcome: client.OK, Reply: kv.EncodeResult(kv.Result{Status: status, Value: value})}
	}
	values := map[string]bool{}
	seen := map[string][]string{}
	keyOps := map[string]int{}
	for i := 0; i < 2000; i++ {
		op := w.next(i%3, "p", false)
		require.Regexp(t, `^pk[01](\.[0-9]+)?$`, op.Key)
		keyOps[op.Key]++
		if op.Value != "" {
			require.False(t, values[op.Value], "value %q twice", op.Value)
			values[op.Value] = true
		}
		switch op.Kind {
		case kv.KindCAS:
			if !op.ExpectedAbsent {
				require.Contains(t, seen[op.Key], op.Expected, "cas expects a value seen")
			}
			w.observe(op, reply(kv.StatusOK, ""))
			seen[op.Key] = append(seen[op.Key], op.Value)
		case kv.KindPut:
			w.observe(op, reply(kv.StatusOK, ""))
			seen[op.Key] = append(seen[op.Key], op.Value)
		case kv.KindGet:
			w.observe(op, reply(kv.StatusOK, "read"+op.Key))
			seen[op.Key] = append(seen[op.Key], "read"+op.Key)
		default:
			w.observe(op, reply(kv.StatusOK, ""))
		}
	}
	counters := map[string]uint64{}
	w.counters(counters)
	require.Equal(t, counters["workload.op.cas"], counters["workload.cas.ok"])
	require.Equal(t, uint64(2000), counters["workload.op.get"]+counters["workload.op.put"]+
		counters["workload.op.append"]+counters["workload.op.cas"])
	require.Greater(t, counters["workload.op.cas"], counters["workload.op.put"])
	require.Greater(t, len(keyOps), 2000/workloadKeyOps, "keys move on")
	for key, n := range keyOps {
		require.LessOrEqual(t, n, workloadKeyOps, key)
	}
}

// BenchmarkSwarmLinearizability times the linearizability check of swarm seeds' histories
// (seeds 1..N), and reports the slowest and the mean check (ms) and the most operations of a
// history.
func BenchmarkSwarmLinearizability(b *testing.B) {
	var worst, total time.Duration
	longest := 0
	for i := 0; i < b.N; i++ {
		seed := uint64(i + 1)
		knobs := swarmKnobs{beforeFinish: func(h *invariants.History) {
			start := time.Now()
			if v := h.Check(); v != nil {
				b.Fatalf("seed %d: %v", seed, v)
			}
			if time.Since(start) > worst {
				b.Logf("seed %d: %d operations checked in %s", seed, h.Len(), time.Since(start))
			}
			worst = max(worst, time.Since(start))
			total += time.Since(start)
			longest = max(longest, h.Len())
		}}
		if r := runSwarmWith(Options{Seed: seed}, knobs); r.Outcome != Pass {
			b.Fatalf("seed %d: %s: %s", seed, r.Outcome, r.Reason)
		}
	}
	b.ReportMetric(float64(worst.Microseconds())/1000, "worst-check-ms")
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "mean-check-ms")
	b.ReportMetric(float64(longest), "most-ops")
}

// TestOpCounterNamesEveryKind: the workload's per-kind counter is "workload.op." and the
// kind's own name, for every kind.
func TestOpCounterNamesEveryKind(t *testing.T) {
	for k := kv.Kind(0); k < 16; k++ {
		require.Equal(t, "workload.op."+k.String(), opCounter(k), "kind %d", k)
	}
}
