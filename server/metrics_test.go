package server

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The lag is read from when the known commit number first passed the replica's executed op.
func TestCommitTimelineLag(t *testing.T) {
	var tl commitTimeline
	t0 := time.Unix(1000, 0)
	tl.observe(t0, 5)
	tl.observe(t0.Add(100*time.Millisecond), 5) // no rise: not a sample
	tl.observe(t0.Add(200*time.Millisecond), 9)
	tl.observe(t0.Add(300*time.Millisecond), 12)
	now := t0.Add(time.Second)
	require.Equal(t, time.Duration(0), tl.lag(now, 12), "caught up")
	require.Equal(t, 700*time.Millisecond, tl.lag(now, 9), "op 10 committed at +300 ms")
	require.Equal(t, 800*time.Millisecond, tl.lag(now, 5), "op 6 committed at +200 ms")
	require.Equal(t, time.Second, tl.lag(now, 0), "behind the oldest sample")
}

// The timeline stays bounded.
func TestCommitTimelineBounded(t *testing.T) {
	var tl commitTimeline
	t0 := time.Unix(1000, 0)
	for i := 1; i <= 3*lagSamplesMax; i++ {
		tl.observe(t0.Add(time.Duration(i)*time.Millisecond), uint64(i))
	}
	require.Len(t, tl.commits, lagSamplesMax)
	require.Equal(t, uint64(2*lagSamplesMax+1), tl.commits[0])
}
