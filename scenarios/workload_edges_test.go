package scenarios

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/client"
	"vopr/cluster/kv"
	"vopr/sim"
)

// TestWorkloadEdgesDrawn: some seeds draw blind compare-and-sets, long values and maximal
// operations, and most draw none of them.
func TestWorkloadEdgesDrawn(t *testing.T) {
	blind, long, maximal, plain := 0, 0, 0, 0
	for seed := uint64(1); seed <= 400; seed++ {
		m := drawWorkloadMix(seed)
		switch {
		case m.size.longKeys:
			maximal++
		case m.size.value > 0:
			long++
		}
		if m.blindCAS {
			blind++
		}
		if !m.blindCAS && m.size == (workloadSize{}) {
			plain++
		}
	}
	require.InDelta(t, 100, blind, 40)
	require.InDelta(t, 200, long, 60)
	require.InDelta(t, 50, maximal, 30)
	require.Greater(t, plain, 100)
}

// TestWorkloadBlindCAS: with blind cas, a cas on a key no value was seen of sometimes expects
// a value nobody writes, and never one a client wrote.
func TestWorkloadBlindCAS(t *testing.T) {
	w := newWorkload(sim.Stream(1, "workload"), workloadMix{weights: [4]int{0, 0, 0, 1}, keys: 2, blindCAS: true})
	written := map[string]bool{}
	blind := 0
	for i := 0; i < 500; i++ {
		op := w.next(i%3, "p", false)
		if op.Kind == kv.KindGet { // the read after workloadUnreadWritesMax writes
			w.observe(op, client.Result{Outcome: client.OK,
				Reply: kv.EncodeResult(kv.Result{Status: kv.StatusNotFound})})
			continue
		}
		require.Equal(t, kv.KindCAS, op.Kind)
		written[op.Value] = true
		if !op.ExpectedAbsent && strings.Contains(op.Expected, ".0.") {
			blind++
			require.False(t, written[op.Expected], "a blind cas expects %q, which was written", op.Expected)
		}
		w.observe(op, client.Result{Outcome: client.OK,
			Reply: kv.EncodeResult(kv.Result{Status: kv.StatusNotFound})})
	}
	require.Positive(t, blind)
}

// TestWorkloadMaximalOps: with maximal sizes, every operation is valid, keys and values have
// the largest sizes, and a cas that expects a value seen is exactly kv.OpSizeMax bytes.
func TestWorkloadMaximalOps(t *testing.T) {
	w := newWorkload(sim.Stream(1, "workload"), workloadMix{weights: [4]int{1, 1, 1, 2}, keys: 2,
		size: workloadSize{value: kv.ValueSizeMax, longKeys: true}})
	largest := 0
	for i := 0; i < 300; i++ {
		op := w.next(i%3, "p", false)
		require.NoError(t, kv.ValidateOp(op))
		require.Len(t, op.Key, kv.KeySizeMax)
		if op.Value != "" {
			require.Len(t, op.Value, kv.ValueSizeMax)
		}
		largest = max(largest, len(kv.EncodeOp(op)))
		value := op.Value
		if op.Kind == kv.KindGet {
			value = w.mix.size.pad("c9.9.", 0)
		}
		w.observe(op, client.Result{Outcome: client.OK, Reply: kv.EncodeResult(kv.Result{Status: kv.StatusOK, Value: value})})
	}
	require.Equal(t, kv.OpSizeMax, largest)
}

// TestWorkloadLongAppends: with long values, a key's appends cross kv.ValueSizeMax well
// within the operations a key takes.
func TestWorkloadLongAppends(t *testing.T) {
	w := newWorkload(sim.Stream(1, "workload"), workloadMix{weights: [4]int{0, 0, 1, 0}, keys: 1,
		size: workloadSize{value: 96}})
	total := 0
	for i := 0; i < workloadKeyOps/4; i++ {
		op := w.next(0, "p", false)
		if op.Kind == kv.KindGet { // the read after workloadUnreadWritesMax writes
			continue
		}
		require.Len(t, op.Value, 96)
		total += len(op.Value)
		w.observe(op, client.Result{Outcome: client.OK, Reply: kv.EncodeResult(kv.Result{Status: kv.StatusOK})})
	}
	require.Greater(t, total, kv.ValueSizeMax)
}
