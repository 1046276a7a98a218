package invariants

import (
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"vopr/cluster/vsr"
)

// TestClockSamplesSidesMatchAWalk holds side (a search of the window's suffix) to a walk
// over every pong kept, on deliveries whose monotonic times mostly ascend and now and then
// start again lower (a restart), queried at times before, inside and past the window.
func TestClockSamplesSidesMatchAWalk(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var c clockSamples
		mono := int64(10 * sec)
		for i := range rapid.IntRange(1, 200).Draw(t, "pongs") {
			if rapid.IntRange(0, 30).Draw(t, "restart") == 0 {
				mono = rapid.Int64Range(0, mono).Draw(t, "restartMono")
			} else {
				mono += rapid.Int64Range(0, 2*sec).Draw(t, "step")
			}
			rtt := rapid.Int64Range(0, 200*ms).Draw(t, "rtt")
			peerReal := rapid.Int64Range(-300*ms, 300*ms).Draw(t, "peerReal")
			c.pong(0, vsr.Header{Command: vsr.CommandPong, Replica: uint8(1 + i%2), Op: uint64(mono - rtt), Timestamp: peerReal}, mono, 0)
			query := mono + rapid.Int64Range(-clockSampleWindowNs, 2*clockSampleWindowNs).Draw(t, "query")
			wantBelow, wantAbove := true, true
			for _, p := range c.byReplica[0].pongs {
				if query-p.atMono > clockSampleWindowNs {
					continue
				}
				wantBelow = wantBelow && p.hi <= 0
				wantAbove = wantAbove && p.lo >= 0
			}
			gotBelow, gotAbove := c.byReplica[0].sides(query)
			require.Equal(t, [2]bool{wantBelow, wantAbove}, [2]bool{gotBelow, gotAbove}, "pong %d, query %d", i, query)
		}
	})
}
