package invariants

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
)

// TestClockSyncFiresOnAnOffsetPastTheOwnInterval: replica 0 hears replicas 1 and 2 both
// 350 ms ahead over zero round trips: widened, [100, 600] ms each, all three agree on
// [100, 250] ms (the own interval ends at 250 ms), offset 175 ms. A replica that took the
// middle of the peers' overlap, 350 ms, or any offset past its own interval, is caught.
func TestClockSyncFiresOnAnOffsetPastTheOwnInterval(t *testing.T) {
	for _, tc := range []struct {
		offsetNs int64
		fires    bool
	}{{175 * ms, false}, {350 * ms, true}, {251 * ms, true}} {
		mono := 5 * sec
		s := NewSuite(3)
		s.SetMonotonic(func(int) int64 { return mono })
		in := normal(0, vsr.RolePrimary, 1, 0, 0)
		for peer := 1; peer <= 2; peer++ {
			h := vsr.Header{Command: vsr.CommandPong, Replica: uint8(peer), Op: uint64(mono), Timestamp: trueEpoch + 350*ms}
			s.OnPong(mono, 0, h, mono, trueEpoch)
			in.ClockSamples |= 1 << peer
			in.ClockSampleAtNs[peer] = mono
		}
		in.ClockSynchronized, in.ClockOffsetNs = true, tc.offsetNs
		inspectTimes(s, &mono, in, 4)
		require.Equal(t, tc.fires, s.Violation() != nil, "offset %d", tc.offsetNs)
	}
}

// TestMarzulloVerdictStaysInsideTheOwnInterval: whenever the verdict is synchronised, the
// agreed region lies inside the replica's own interval [-half, +half], so clipping the region
// to it before taking the middle changes nothing. The own interval's ends are among the
// sweep's edges: a best region reaching past one of them without containing it would have
// one more interval (the own) agreeing just inside, a higher count. This is why the catalog
// mutant vsr.clock_offset_unclipped (offset = middle of the whole region) is equivalent: no
// clock fault can make the two offsets differ. The replica's sweep (cluster/vsr/clock_sync.go)
// reaches the same region by the same argument.
func TestMarzulloVerdictStaysInsideTheOwnInterval(t *testing.T) {
	const half = vsr.ClockToleranceNs / 2
	rng := rand.New(rand.NewPCG(81, 81))
	synced := 0
	for trial := 0; trial < 200000; trial++ {
		count := 3 + rng.IntN(4) // 3 to 6 active members
		var samples [vsr.ReplicasMax]clockPong
		for peer := 1; peer < count; peer++ {
			if rng.IntN(5) == 0 {
				continue // no sample from this peer
			}
			// Offsets within +-1 s (in 50 ms steps, so ends often touch), errors up to 300 ms.
			off, errNs := (rng.Int64N(41)-20)*50*ms, rng.Int64N(7)*50*ms
			samples[peer] = clockPong{set: true, lo: off - errNs, hi: off + errNs}
		}
		v := marzulloVerdict(&samples, 0, count, 0)
		if !v.synced {
			continue
		}
		synced++
		require.True(t, -half <= v.lo && v.lo <= v.hi && v.hi <= half, "region [%d, %d] of %+v", v.lo, v.hi, samples)
		require.Equal(t, (v.lo+v.hi)/2, v.offsetNs, "the clip changed the offset: %+v", samples)
	}
	require.Greater(t, synced, 10000, "enough synchronised verdicts to mean something")
}
