package invariants

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
)

// pongAt is a pong from peer whose realtime read peerReal when it answered a ping replica
// sent at monotonic time sentMono.
func pongAt(peer uint8, sentMono, peerReal int64) vsr.Header {
	return vsr.Header{Command: vsr.CommandPong, Replica: peer, Op: uint64(sentMono), Timestamp: peerReal}
}

// TestClockSamplesOffsetSide: replica 0 heard both peers' clocks 300 ms behind its own (20 ms
// round trips): a stamp above its clock that is no carry fires (an offset applied with the
// wrong sign); below its clock, or a carry, passes. Heard ahead, a stamp below its clock
// fires. Mixed samples settle nothing; samples older than the window do not count, and with
// none the stamp must be the clock (or a carry).
func TestClockSamplesOffsetSide(t *testing.T) {
	const real, mono = 100 * sec, 50 * sec
	prepared := func(ts int64) Prepared {
		return Prepared{Replica: 0, Op: 7, View: 2, Timestamp: ts, ClockNs: real}
	}
	var c clockSamples
	c.pong(0, pongAt(1, mono-20*ms, real-300*ms), mono, real)
	c.pong(0, pongAt(2, mono-20*ms, real-310*ms), mono, real)
	c.pong(0, pongAt(0, mono-20*ms, real+900*ms), mono, real) // its own: ignored
	v := c.offsetSide(1, prepared(real+150*ms), mono, real-sec)
	require.NotNil(t, v, "stamped ahead of its clock though every sample is behind")
	require.Equal(t, NameCommitTimestamp, v.Checker)
	require.Contains(t, v.Message, "stamped +150.000ms from the primary's clock")
	require.Nil(t, c.offsetSide(1, prepared(real-150*ms), mono, real-sec))
	require.Nil(t, c.offsetSide(1, prepared(real+150*ms), mono, real+150*ms-1), "a carry")

	var ahead clockSamples
	ahead.pong(0, pongAt(1, mono-40*ms, real+200*ms), mono, real)
	require.NotNil(t, ahead.offsetSide(1, prepared(real-100*ms), mono, 0))
	require.Nil(t, ahead.offsetSide(1, prepared(real+100*ms), mono, 0))

	var mixed clockSamples
	mixed.pong(0, pongAt(1, mono-20*ms, real+200*ms), mono, real)
	mixed.pong(0, pongAt(2, mono-20*ms, real-200*ms), mono, real)
	require.Nil(t, mixed.offsetSide(1, prepared(real+240*ms), mono, 0))
	require.Nil(t, mixed.offsetSide(1, prepared(real-240*ms), mono, 0))

	wide := clockSamples{}
	wide.pong(0, pongAt(1, mono-400*ms, real-100*ms), mono, real) // a 400 ms round trip: ±200 ms
	require.Nil(t, wide.offsetSide(1, prepared(real+240*ms), mono, 0), "the sample's error spans 0")

	later := mono + clockSampleWindowNs + ms
	require.NotNil(t, c.offsetSide(1, prepared(real-150*ms), later, 0), "no sample left: the offset is 0")
	require.Nil(t, c.offsetSide(1, prepared(real), later, 0))
}
