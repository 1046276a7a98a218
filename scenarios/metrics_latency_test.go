package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/checksum"
	"vopr/cluster/vsr"
	"vopr/sim"
)

// latencyScene is a primary (node 0, replica 0 of 3, view 1) whose witness saw op 11
// prepared at 1 ms, its own vote at 4 ms and replica 2's at 13 ms (the quorum: 12 ms of
// latency, bucket [8, 16) ms) and its execution at 13 ms.
type latencyScene struct {
	w   *latencyWitness
	r   *vsr.Replica
	now int64
	in  vsr.Inspection
}

func newLatencyScene(t *testing.T) *latencyScene {
	s := &latencyScene{r: &vsr.Replica{}}
	s.w = &latencyWitness{mono: func(int) int64 { return s.now }, active: func() int { return 3 }}
	s.in = vsr.Inspection{Status: vsr.StatusNormal, Role: vsr.RolePrimary, View: 1, Op: 10, CommitMax: 10}
	s.in.Metrics.CommitLatency.Buckets[2], s.in.Metrics.CommitLatency.Count = 5, 5 // before the witness: not held
	require.Empty(t, s.w.inspect(0, s.r, &s.in))
	require.NotNil(t, s.w.following(0), "an idle primary begins a tenure")
	sum := checksum.Sum{}
	sum[0] = 11
	at := func(ms int64) { s.now = ms * int64(sim.Millisecond) }
	at(1)
	s.w.prepared(0, vsr.Header{Replica: 0, View: 1, Op: 11, Checksum: sum})
	s.w.prepared(0, vsr.Header{Replica: 0, View: 1, Op: 11, Checksum: sum}) // to the next peer: the same instant
	at(4)
	s.w.event(0, vsr.Event{Kind: vsr.EventVoteSelf, View: 1, Op: 11, Checksum: sum})
	at(7)
	s.w.voted(0, 1, 0, 0, 11, sum)                                          // replica 1's vote of view 0: not counted
	s.w.voted(0, 1, 1, 0, 11, checksum.Sum{1})                              // for another prepare: not counted
	s.w.prepared(0, vsr.Header{Replica: 0, View: 1, Op: 11, Checksum: sum}) // a resend: not the prepare instant
	at(13)
	s.w.voted(0, 2, 1, 0, 11, sum)
	s.w.event(0, vsr.Event{Kind: vsr.EventCommit, View: 1, Op: 11, Checksum: sum})
	s.in.Op, s.in.CommitMax = 11, 11
	return s
}

// reported inspects the primary with the sample of op 11 in bucket k (-1: none).
func (s *latencyScene) reported(k int) string {
	in := s.in
	if k >= 0 {
		in.Metrics.CommitLatency.Buckets[k]++
		in.Metrics.CommitLatency.Count++
	}
	return s.w.inspect(0, s.r, &in)
}

// The witness holds the histogram's samples to the latencies it measured: the right bucket
// passes; a bucket low (the p99 reported half of what it is), a bucket high, or no sample
// for the committed op fail.
func TestLatencyWitnessHoldsTheHistogram(t *testing.T) {
	require.Equal(t, 4, latencyBucket(12*int64(sim.Millisecond)))
	require.Equal(t, 0, latencyBucket(int64(sim.Millisecond)-1))
	require.Equal(t, 1, latencyBucket(int64(sim.Millisecond)))
	require.Equal(t, 15, latencyBucket(3600*int64(sim.Second)))

	require.Empty(t, newLatencyScene(t).reported(4))
	require.Contains(t, newLatencyScene(t).reported(3),
		"metrics: replica 0's commit latency histogram puts 1 of the 1 ops it committed as primary of view 1 since op 10 under 8 ms, "+
			"but by the harness's measurement (prepare to quorum, on its clock) at least 0 and at most 0 of them took that little")
	require.Contains(t, newLatencyScene(t).reported(5), "under 16 ms")
	require.Contains(t, newLatencyScene(t).reported(-1), "counted 0 samples since op 10, but it committed 1 ops as primary of view 1")

	// Without the vote that made the quorum the lower bound is lost (0 ms): any bucket up to
	// the execution's passes. A status event ends the tenure: nothing more is held.
	s := newLatencyScene(t)
	s.w.tenures[0].ops[0].quorumNs = 0
	require.Empty(t, s.reported(0))
	s = newLatencyScene(t)
	s.w.event(0, vsr.Event{Kind: vsr.EventStatus, Text: "view_change"})
	require.Nil(t, s.w.following(0))
	require.Empty(t, s.reported(3))
}

// An op committed that the witness never saw prepared (a prepare created with no peer to
// send it to) ends the tenure rather than fail; a later op prepared past a gap does too.
func TestLatencyWitnessUnseenPrepare(t *testing.T) {
	s := newLatencyScene(t)
	s.in.Op, s.in.CommitMax = 12, 12
	require.Empty(t, s.reported(4))
	require.Nil(t, s.w.following(0))

	s = newLatencyScene(t)
	s.w.prepared(0, vsr.Header{Replica: 0, View: 1, Op: 13})
	require.Nil(t, s.w.following(0))
}

// The performance scenario holds the replicas' histograms to its measurement: one filed a
// bucket low, as a Record that stops shifting a step early would file it, fails the run.
func TestPerformanceLatencyReportedLow(t *testing.T) {
	low := func(h *vsr.Histogram) {
		for k := 1; k < len(h.Buckets); k++ {
			h.Buckets[k-1] += h.Buckets[k]
			h.Buckets[k] = 0
		}
	}
	r := runPerformance(Options{Seed: 1}, performanceKnobs{reported: low})
	require.Equal(t, Correctness, r.Outcome, r.Reason)
	require.Contains(t, r.Reason, "commit latency histogram puts")
}
