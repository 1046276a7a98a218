package invariants

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
)

// clockSyncSuite is a suite of three replicas whose monotonic clocks all read *mono, with
// replica 0 holding two samples: from replica 1, whose clock is 350 ms behind, and from
// replica 2, 350 ms ahead, each over a zero round trip. Widened by half the tolerance, their
// intervals agree with replica 0's own ([-250, 250] ms) on two disjoint regions of two:
// [-250, -100] ms and [100, 250] ms. The first is the answer (offset -175 ms).
func clockSyncSuite(t *testing.T, mono *int64) (*Suite, vsr.Inspection) {
	s := NewSuite(3)
	s.SetMonotonic(func(int) int64 { return *mono })
	real := trueEpoch
	*mono = 5 * sec
	in := normal(0, vsr.RolePrimary, 1, 0, 0)
	for peer, off := range map[int]int64{1: -350 * ms, 2: 350 * ms} {
		h := vsr.Header{Command: vsr.CommandPong, Replica: uint8(peer), Op: uint64(*mono), Timestamp: real + off}
		s.OnPong(*mono, 0, h, *mono, real)
		in.ClockSamples |= 1 << peer
		in.ClockSampleAtNs[peer] = *mono
	}
	return s, in
}

// inspectTimes inspects replica 0 n times, a tick apart, as in.
func inspectTimes(s *Suite, mono *int64, in vsr.Inspection, n int) {
	for k := 0; k < n; k++ {
		*mono += tickNs
		s.OnInspect(*mono, 0, in)
	}
}

func TestClockSyncPassesTheFirstOfTwoEqualRegions(t *testing.T) {
	var mono int64
	s, in := clockSyncSuite(t, &mono)
	in.ClockSynchronized, in.ClockOffsetNs = true, -175*ms
	inspectTimes(s, &mono, in, 5)
	require.Nil(t, s.Violation())
	require.Equal(t, uint64(1), s.Counters()["invariants.clock_sync_checked"], "the same inputs are compared once")
}

// TestClockSyncFiresOnTheLastOfTwoEqualRegions: vsr.clock_sweep_takes_last_region's answer.
func TestClockSyncFiresOnTheLastOfTwoEqualRegions(t *testing.T) {
	var mono int64
	s, in := clockSyncSuite(t, &mono)
	in.ClockSynchronized, in.ClockOffsetNs = true, 175*ms
	inspectTimes(s, &mono, in, 4)
	v := s.Violation()
	require.NotNil(t, v)
	require.Equal(t, NameClockSync, v.Checker)
	require.Contains(t, v.Message, "must be synchronised with offset -175.000ms")
}

func TestClockSyncFiresOnAWrongVerdict(t *testing.T) {
	var mono int64
	s, in := clockSyncSuite(t, &mono)
	inspectTimes(s, &mono, in, 4) // unsynchronised
	require.NotNil(t, s.Violation())
	require.Equal(t, NameClockSync, s.Violation().Checker)
}

// TestClockSyncWaitsForASweep: a replica just out of an interruption (here a pause) has not
// swept yet: it is checked once its clock has run 30 ms since it was seen running.
func TestClockSyncWaitsForASweep(t *testing.T) {
	var mono int64
	s, in := clockSyncSuite(t, &mono)
	inspectTimes(s, &mono, in, 2)
	require.Nil(t, s.Violation())
	s.OnPaused(mono, 0) // seen paused at the next inspection
	inspectTimes(s, &mono, in, 4)
	require.Nil(t, s.Violation())
	inspectTimes(s, &mono, in, 1)
	require.NotNil(t, s.Violation())
}

// TestClockSyncAgesSamplesOut: once both samples are past their age limit by more than the
// stretch since the replica's last tick, only its own interval counts, short of a quorum;
// while one of them is within that stretch, either answer passes.
func TestClockSyncAgesSamplesOut(t *testing.T) {
	var mono int64
	s, in := clockSyncSuite(t, &mono)
	in.ClockSynchronized, in.ClockOffsetNs = true, -175*ms
	inspectTimes(s, &mono, in, 4)
	mono += vsr.ClockSampleAgeMaxNs - 65*ms
	inspectTimes(s, &mono, in, 3) // the last is 5 ms past the limit: maybe not swept yet
	require.Nil(t, s.Violation())
	in.ClockSynchronized = false
	s.OnInspect(mono, 0, in)
	require.Nil(t, s.Violation())
	in.ClockSynchronized = true
	inspectTimes(s, &mono, in, 2)
	require.NotNil(t, s.Violation(), "synchronised on samples 25 ms past their age limit")
}

// TestClockSyncFiresOnAnOffsetWithoutHalfTheRoundTrip: vsr.pong_offset_without_half_rtt's
// answer. Replica 0 hears replica 1 300 ms ahead over a 100 ms round trip: the sample is
// [250, 350] ms, widened [0, 600] ms, sharing [0, 250] ms with its own; a quorum of two in
// three, offset 125 ms. Leaving half the round trip out gives [200, 300] ms and 100 ms.
func TestClockSyncFiresOnAnOffsetWithoutHalfTheRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		offsetNs int64
		fires    bool
	}{{125 * ms, false}, {100 * ms, true}} {
		mono := 5 * sec
		s := NewSuite(3)
		s.SetMonotonic(func(int) int64 { return mono })
		h := vsr.Header{Command: vsr.CommandPong, Replica: 1, Op: uint64(mono - 100*ms), Timestamp: trueEpoch + 250*ms}
		s.OnPong(mono, 0, h, mono, trueEpoch)
		in := normal(0, vsr.RoleBackup, 1, 0, 0)
		in.ClockSamples, in.ClockSampleAtNs[1] = 1<<1, mono
		in.ClockSynchronized, in.ClockOffsetNs = true, tc.offsetNs
		inspectTimes(s, &mono, in, 4)
		require.Equal(t, tc.fires, s.Violation() != nil, "offset %d", tc.offsetNs)
	}
}

// TestClockSyncSkipsRefusedPongs: a pong the replica refuses is no sample, even delivered
// at the instant of one it took from the same peer (swarm 2027941114: an epoch notice's
// pong, echoing -1, came just after a real one). Taken for replica 1's sample, either
// refused pong below would give it an interval holding every other, and the answer would
// be replica 2's region (offset 175 ms); the sample the replica holds is the first pong.
func TestClockSyncSkipsRefusedPongs(t *testing.T) {
	for _, sent := range []int64{-1, 5*sec + 1} { // a notice; a round trip below 0
		for _, tc := range []struct {
			offsetNs int64
			fires    bool
		}{{-175 * ms, false}, {175 * ms, true}} {
			var mono int64
			s, in := clockSyncSuite(t, &mono)
			h := vsr.Header{Command: vsr.CommandPong, Replica: 1, Op: uint64(sent), Timestamp: trueEpoch}
			s.OnPong(mono, 0, h, mono, trueEpoch)
			in.ClockSynchronized, in.ClockOffsetNs = true, tc.offsetNs
			inspectTimes(s, &mono, in, 4)
			require.Equal(t, tc.fires, s.Violation() != nil, "sent %d, offset %d: %v", sent, tc.offsetNs, s.Violation())
		}
	}
}

// TestClockSyncMembershipChange: a sweep over the previous membership stands until the next
// sample; a sample taken after the change must have been swept over the new one.
func TestClockSyncMembershipChange(t *testing.T) {
	var mono int64
	s, in := clockSyncSuite(t, &mono)
	in.ClockSynchronized, in.ClockOffsetNs = true, -175*ms
	inspectTimes(s, &mono, in, 4)
	in.Outside = 1 << 1 // replica 1 leaves: replica 2's region is the answer, offset 175 ms
	inspectTimes(s, &mono, in, 2)
	require.Nil(t, s.Violation(), "the previous membership's sweep stands")
	h := vsr.Header{Command: vsr.CommandPong, Replica: 1, Op: uint64(mono), Timestamp: trueEpoch - 350*ms}
	s.OnPong(mono, 0, h, mono, trueEpoch)
	in.ClockSampleAtNs[1] = mono
	inspectTimes(s, &mono, in, 1)
	require.NotNil(t, s.Violation())
}

// TestClockSyncTwoMembershipChanges: every membership replaced since the replica's last
// sample may be the one its last sweep ran over, not only the last replaced (swarm
// 2028021600: replica 0 took replica 2's pong, heard epoch 2 remove replica 2, which kept its
// quorum's size, so no tick swept again, and epoch 3 remove replica 4 just before a tick).
// Five replicas; replica 0 holds samples from replica 1 (-300 ms), 2 (-450 ms) and 4
// (+200 ms), each over a zero round trip. Widened by half the tolerance, with its own
// [-250, 250] ms: all members agree 3 on [-250, -200] ms (offset -225 ms); without replica 2,
// 3 of 4 on [-50, -50] ms (-50 ms); without 2 and 4, 2 of 3 on [-250, -50] ms (-150 ms).
func TestClockSyncTwoMembershipChanges(t *testing.T) {
	mono := 5 * sec
	s := NewSuite(5)
	s.SetMonotonic(func(int) int64 { return mono })
	in := normal(0, vsr.RolePrimary, 1, 0, 0)
	pong := func(peer int, off int64) {
		h := vsr.Header{Command: vsr.CommandPong, Replica: uint8(peer), Op: uint64(mono), Timestamp: trueEpoch + off}
		s.OnPong(mono, 0, h, mono, trueEpoch)
		in.ClockSamples |= 1 << peer
		in.ClockSampleAtNs[peer] = mono
	}
	pong(1, -300*ms)
	pong(2, -450*ms)
	pong(4, 200*ms)
	in.ClockSynchronized, in.ClockOffsetNs = true, -225*ms
	inspectTimes(s, &mono, in, 4)
	require.Nil(t, s.Violation())
	in.Outside = 1 << 2 // epoch 2: the quorum stays 3, no tick sweeps again
	inspectTimes(s, &mono, in, 2)
	require.Nil(t, s.Violation())
	in.Outside = 1<<2 | 1<<4 // epoch 3, seen before the replica's next tick
	inspectTimes(s, &mono, in, 1)
	require.Nil(t, s.Violation(), "the sweep over the membership before both changes stands")
	require.Equal(t, uint64(3), s.Counters()["invariants.clock_sync_checked"], "one comparison per membership")
	inspectTimes(s, &mono, in, 1)
	require.Nil(t, s.Violation(), "maybe not ticked since epoch 3")
	inspectTimes(s, &mono, in, 1) // 20 ms: it ticked under epoch 3, its quorum 2, and swept
	v := s.Violation()
	require.NotNil(t, v)
	require.Contains(t, v.Message, "must be synchronised with offset -150.000ms")
}

// TestClockSyncSameQuorumPriorStands: a sweep over a membership replaced by one whose quorum
// has the same size stands past the replica's ticks, until its next sample (the replica's
// cache, tolerated); the test above has one replaced by a smaller quorum, swept at a tick.
func TestClockSyncSameQuorumPriorStands(t *testing.T) {
	var mono int64
	s, in := clockSyncSuite(t, &mono)
	in.ClockSynchronized, in.ClockOffsetNs = true, -175*ms
	inspectTimes(s, &mono, in, 4)
	in.Outside = 1 << 1 // replica 1 leaves, 3 active members to 2: the quorum stays 2
	inspectTimes(s, &mono, in, 10)
	require.Nil(t, s.Violation(), "the previous membership's sweep stands")
	h := vsr.Header{Command: vsr.CommandPong, Replica: 2, Op: uint64(mono), Timestamp: trueEpoch + 350*ms}
	s.OnPong(mono, 0, h, mono, trueEpoch)
	in.ClockSampleAtNs[2] = mono
	inspectTimes(s, &mono, in, 1)
	require.NotNil(t, s.Violation())
}

// TestClockSyncMembershipsPastKept: more changes of membership than are kept without a
// sample leave the replica unchecked until it takes one.
func TestClockSyncMembershipsPastKept(t *testing.T) {
	var mono int64
	s, in := clockSyncSuite(t, &mono)
	in.ClockSynchronized, in.ClockOffsetNs = true, -175*ms
	inspectTimes(s, &mono, in, 4)
	for k := 0; k <= clockSyncPriorsKept; k++ {
		in.Outside = uint16(k+1) << 3 // slots past the three: every membership answers -175 ms
		inspectTimes(s, &mono, in, 1)
	}
	require.Nil(t, s.Violation())
	in.ClockOffsetNs = 175 * ms // no membership's answer, but the oldest was not kept
	inspectTimes(s, &mono, in, 3)
	require.Nil(t, s.Violation())
	require.NotZero(t, s.Counters()["invariants.clock_sync_unmatched"])
	h := vsr.Header{Command: vsr.CommandPong, Replica: 1, Op: uint64(mono), Timestamp: trueEpoch - 350*ms}
	s.OnPong(mono, 0, h, mono, trueEpoch)
	in.ClockSampleAtNs[1] = mono
	inspectTimes(s, &mono, in, 1)
	require.NotNil(t, s.Violation())
}

// TestAgreedRegionAgreesWithCounting holds agreedRegion to a count at every point of small
// random closed intervals with integer ends, integer and half-integer (between 15 and 16 an
// interval ending at 15 and one starting at 16 share nothing): the most intervals at one
// point, and the first run of points that many share.
func TestAgreedRegionAgreesWithCounting(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 2000; trial++ {
		var intervals [][2]int64
		for n := 1 + rng.IntN(7); n > 0; n-- {
			lo := rng.Int64N(40)
			intervals = append(intervals, [2]int64{lo, lo + rng.Int64N(15)})
		}
		best, lo, hi, closed := 0, int64(0), int64(0), false
		for x := int64(0); x < 120; x++ { // in halves
			n := 0
			for _, iv := range intervals {
				if 2*iv[0] <= x && x <= 2*iv[1] {
					n++
				}
			}
			switch {
			case n > best:
				best, lo, hi, closed = n, x, x, false
			case n == best && !closed:
				hi = x // the first run goes on
			default:
				closed = true
			}
		}
		agree, gotLo, gotHi := agreedRegion(intervals)
		require.Equal(t, [3]int64{int64(best), lo / 2, hi / 2}, [3]int64{int64(agree), gotLo, gotHi}, "%v", intervals)
	}
}

// TestClockSyncUnsyncStreak: vsr.clock_unsync_ticks_accumulate's replica keeps its run of
// unsynchronised ticks once synchronised again. Five unsynchronised ticks, one an inspection
// (the run grows with the count), then synchronised: the count stands still, and by the
// third inspection since, the run must be 0.
func TestClockSyncUnsyncStreak(t *testing.T) {
	for _, keeps := range []bool{false, true} {
		var mono int64
		s, in := clockSyncSuite(t, &mono)
		held := in.ClockSamples
		in.ClockSamples = 0 // none yet: unsynchronised
		for k := 1; k <= 5; k++ {
			in.Metrics.ClockUnsyncTicks, in.ClockUnsyncStreak = uint64(k), k
			inspectTimes(s, &mono, in, 1)
		}
		require.Nil(t, s.Violation(), "the run grows with the count")
		in.ClockSamples, in.ClockSynchronized, in.ClockOffsetNs = held, true, -175*ms
		for k := 0; k < 3; k++ {
			in.ClockUnsyncStreak = 0
			if keeps || k == 0 { // just synchronised by a pong: no tick yet
				in.ClockUnsyncStreak = 5
			}
			inspectTimes(s, &mono, in, 1)
		}
		require.Equal(t, keeps, s.Violation() != nil, "keeps %v: %v", keeps, s.Violation())
	}
	var mono int64
	s, in := clockSyncSuite(t, &mono)
	in.Metrics.ClockUnsyncTicks, in.ClockUnsyncStreak = 4, 4
	inspectTimes(s, &mono, in, 1)
	in.Metrics.ClockUnsyncTicks, in.ClockUnsyncStreak = 5, 7
	inspectTimes(s, &mono, in, 1)
	require.NotNil(t, s.Violation(), "the run grew by more than the count")
	require.Contains(t, s.Violation().Message, "went from 4 to 7")
}

// TestClockSyncFindAmbiguous: two different pongs of one peer delivered at the instant the
// replica took its sample leave the sample unknown (no pong found, so unchecked); the same
// pong twice (a replay) and a single pong are found.
func TestClockSyncFindAmbiguous(t *testing.T) {
	var r clockSyncReplica
	put := func(p clockPong) {
		r.pongs[1][r.next[1]] = p
		r.next[1] = (r.next[1] + 1) % clockSyncPongsKept
	}
	put(clockPong{set: true, mono: 100, lo: -5, hi: 5})
	p, ok := r.find(1, 100)
	require.True(t, ok)
	require.Equal(t, int64(-5), p.lo)
	put(clockPong{set: true, mono: 100, lo: -5, hi: 5})
	_, ok = r.find(1, 100)
	require.True(t, ok, "the same pong twice is no ambiguity")
	put(clockPong{set: true, mono: 100, lo: -9, hi: 1})
	_, ok = r.find(1, 100)
	require.False(t, ok, "two different pongs at one instant")
	_, ok = r.find(1, 99)
	require.False(t, ok)
}
