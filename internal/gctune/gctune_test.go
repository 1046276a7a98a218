package gctune

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPercentForGivesTheHeapItsHeadroomWithinBounds(t *testing.T) {
	require.Equal(t, PercentMax, PercentFor(0))
	require.Equal(t, PercentMax, PercentFor(1<<20), "a small heap gets the most room")
	require.Equal(t, PercentMax, PercentFor(Headroom/4))
	require.Equal(t, 200, PercentFor(Headroom/2))
	require.Equal(t, PercentMin, PercentFor(Headroom))
	require.Equal(t, PercentMin, PercentFor(1<<34), "never below the runtime's default")
}

func gogc() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}

// TestStartFollowsTheLiveHeapAndStopRestores holds a live heap of four times the headroom
// and waits for a collection's cleanup to lower the percentage to PercentMin; stop then
// restores what Start found.
func TestStartFollowsTheLiveHeapAndStopRestores(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(77))
	stop := Start()
	require.Equal(t, PercentMax, gogc())
	live := make([]byte, 4*Headroom)
	for i := range live {
		live[i] = byte(i)
	}
	deadline := time.Now().Add(10 * time.Second)
	for gogc() != PercentMin && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	require.Equal(t, PercentMin, gogc(), "a live heap of %d bytes", len(live))
	runtime.KeepAlive(live)
	stop()
	require.Equal(t, 77, gogc())
	runtime.GC()
	time.Sleep(10 * time.Millisecond)
	require.Equal(t, 77, gogc(), "a cleanup after stop changed the setting")
}
