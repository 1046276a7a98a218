package vsr

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// QuantileMs is the upper end of the bucket holding the nearest-rank sample.
func TestHistogramQuantileNearestRank(t *testing.T) {
	var h Histogram
	require.Equal(t, int64(0), h.QuantileMs(0.99), "no samples")
	// 158 samples under 1 ms, 2 samples of 40 ms (bucket [32, 64)): p99 of 160 is the 159th
	// sample, 40 ms, so the bound is 64 ms, not the 1 ms of the 158th.
	for i := 0; i < 158; i++ {
		h.Record(500_000)
	}
	h.Record(40_000_000)
	h.Record(40_000_000)
	require.Equal(t, int64(64), h.QuantileMs(0.99))
	require.Equal(t, int64(1), h.QuantileMs(0.5))
	require.Equal(t, int64(64), h.QuantileMs(1))

	// A rank that lands exactly on a bucket's last sample stays in that bucket: 99 samples
	// of 3 ms (bucket [2, 4)) and one of 10 ms: p99 is the 99th sample.
	var exact Histogram
	for i := 0; i < 99; i++ {
		exact.Record(3_000_000)
	}
	exact.Record(10_000_000)
	require.Equal(t, int64(4), exact.QuantileMs(0.99))
	require.Equal(t, int64(16), exact.QuantileMs(1))
}
