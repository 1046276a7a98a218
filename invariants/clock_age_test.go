package invariants

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
)

// clockAgeSuite: replica 0 of three took replica 1's and replica 2's pongs at 5 s over zero
// round trips (clockSyncSuite), then was paused; at 17 s it resumes and reads, at once, a
// pong of replica 1 answering a ping it sent at 5 s: a round trip of 12 s, beyond the 10 s
// bound. Replica 1's clock reads true time; replica 0's is 3 s behind.
func clockAgeSuite(t *testing.T, mono *int64) (*Suite, vsr.Inspection, int64) {
	s, in := clockSyncSuite(t, mono)
	in.ClockSynchronized, in.ClockOffsetNs = true, -175*ms
	inspectTimes(s, mono, in, 4)
	require.Nil(t, s.Violation())
	sent := *mono
	s.OnPaused(*mono, 0)
	*mono = sent + 12*sec
	h := vsr.Header{Command: vsr.CommandPong, Replica: 1, Op: uint64(sent), Timestamp: trueEpoch + 12*sec}
	s.OnPong(*mono, 0, h, *mono, trueEpoch+12*sec-3*sec)
	return s, in, *mono
}

// TestClockAgeFiresOnAStaleSample: vsr.pong_age_unchecked's answer. The replica took the
// 12 s pong (its sample of replica 1 is dated at its delivery): the inspection fails it, just
// resumed as it is (the verdict is not checked yet, the sample is).
func TestClockAgeFiresOnAStaleSample(t *testing.T) {
	var mono int64
	s, in, at := clockAgeSuite(t, &mono)
	in.ClockSampleAtNs[1] = at
	s.OnInspect(mono, 0, in)
	v := s.Violation()
	require.NotNil(t, v)
	require.Equal(t, NameClockSync, v.Checker)
	require.Contains(t, v.Message, "sample from replica 1")
	require.Contains(t, v.Message, "round trip was 12")
}

// TestClockAgePassesARefusal: a replica that refused the 12 s pong still holds its 5 s
// sample of replica 1 (or none, once it aged out): nothing to fail, now or later.
func TestClockAgePassesARefusal(t *testing.T) {
	var mono int64
	s, in, _ := clockAgeSuite(t, &mono)
	inspectTimes(s, &mono, in, 2)
	require.Nil(t, s.Violation())
	require.Equal(t, uint64(1), s.Counters()["invariants.clock_sync_stale_pongs"])
	in.ClockSamples, in.ClockSynchronized = 0, false
	inspectTimes(s, &mono, in, 5)
	require.Nil(t, s.Violation())
}

// TestClockAgePassesATakeablePongAtTheSameInstant: a backlog read at once may hold a stale
// pong and a fresh one of the same peer: a sample dated then may be the fresh one. An
// epoch notice's pong (echoing -1) is no stale one either.
func TestClockAgePassesATakeablePongAtTheSameInstant(t *testing.T) {
	var mono int64
	s, in, at := clockAgeSuite(t, &mono)
	fresh := vsr.Header{Command: vsr.CommandPong, Replica: 1, Op: uint64(at - 20*ms), Timestamp: trueEpoch + 12*sec - 10*ms}
	s.OnPong(mono, 0, fresh, mono, trueEpoch+12*sec-3*sec)
	notice := vsr.Header{Command: vsr.CommandPong, Replica: 2, Op: ^uint64(0), Timestamp: trueEpoch}
	s.OnPong(mono, 0, notice, mono, trueEpoch+12*sec-3*sec)
	in.ClockSampleAtNs[1] = at
	s.OnInspect(mono, 0, in)
	require.Nil(t, s.Violation())
}
