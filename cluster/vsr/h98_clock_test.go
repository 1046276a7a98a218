package vsr

import (
	"fmt"
	"math"
	"testing"

	"pgregory.net/rapid"
)

// h98's review of clock synchronisation (clock_sync.go) against a brute-force model sharing no
// code with it: each pong gives the closed interval of offsets consistent with the round trip
// (the peer read its clock at some moment of it), a sample counts while it is at most
// ClockSampleAgeMaxNs old and its replica a member other than us, and every interval
// (ours, [0,0], included) is widened by half the tolerance. The clock is synchronised iff
// the greatest number of intervals covering one point is a quorum and the agreed region (the
// lowest covered that many times) overlaps our own interval; its offset is a point of both.
// The verdict a tick leaves is the one a sweep from scratch gives.
//
// Ties: when two disjoint regions share the greatest coverage (a sample of a long round trip
// covers both), the lowest is the agreed one, whichever holds our own clock: a replica whose
// clock agrees with a quorum in the higher region is unsynchronised, its mirror image in the
// lower one synchronised. The model found it when it asked only for some point of our
// interval covered most; reported, not changed (the cluster's time is ambiguous there, and
// an unsynchronised verdict costs liveness only).

type h98Clock struct{ mono, real int64 }

func (c *h98Clock) Monotonic() int64 { return c.mono }
func (c *h98Clock) Realtime() int64  { return c.real }

type h98Sample struct {
	lo, hi int64 // offsets consistent with the round trip
	at     int64
}

func TestH98ClockAgreesWithBruteForce(t *testing.T) {
	const half = ClockToleranceNs / 2
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, ReplicasMax).Draw(t, "replicas")
		me := rapid.IntRange(0, n-1).Draw(t, "me")
		outsideOf := func(label string) uint16 {
			return uint16(rapid.IntRange(0, 1<<n-1).Draw(t, label)) &^ (1 << me)
		}
		clock := &h98Clock{mono: 1_000_000_000_000, real: 5_000_000_000_000}
		r := &Replica{replica: me, count: n, outside: outsideOf("outside"), clock: clock}
		samples := map[int]h98Sample{}
		var trace []string

		check := func() {
			member := func(i int) bool { return i < n && r.outside&(1<<i) == 0 }
			active := 0
			for i := 0; i < n; i++ {
				if member(i) {
					active++
				}
			}
			quorum := active/2 + 1
			intervals := [][2]int64{{-half, half}}
			for i, s := range samples {
				if i != me && member(i) && clock.mono-s.at <= ClockSampleAgeMaxNs {
					intervals = append(intervals, [2]int64{s.lo - half, s.hi + half})
				}
			}
			cover := func(p int64) int {
				c := 0
				for _, iv := range intervals {
					if iv[0] <= p && p <= iv[1] {
						c++
					}
				}
				return c
			}
			most := 0
			for _, iv := range intervals {
				most = max(most, cover(iv[0]), cover(iv[1]))
			}
			// The agreed region is the lowest of greatest coverage: from the lowest point
			// covered most to the first end of an interval covering it (no interval opens
			// inside it: coverage would exceed the greatest).
			lowest := int64(math.MaxInt64)
			for _, iv := range intervals {
				if cover(iv[0]) == most {
					lowest = min(lowest, iv[0])
				}
			}
			end := int64(math.MaxInt64)
			for _, iv := range intervals {
				if iv[0] <= lowest && lowest <= iv[1] {
					end = min(end, iv[1])
				}
			}
			ours := lowest <= half && end >= -half
			want := most >= quorum && ours
			got := r.clockSync.synchronized
			if got != want {
				t.Fatalf("synchronized %v, model %v (most %d, quorum %d, intervals %v); after %v",
					got, want, most, quorum, intervals, trace)
			}
			if got {
				if off := r.clockSync.offsetNs; off < -half || off > half || cover(off) != most {
					t.Fatalf("offset %d outside our interval or the agreed region (most %d, intervals %v); after %v",
						off, most, intervals, trace)
				}
			}
		}

		steps := rapid.IntRange(1, 60).Draw(t, "steps")
		for step := 0; step < steps; step++ {
			switch action := rapid.SampledFrom([]string{"pong", "pong", "advance", "tick", "membership"}).Draw(t, "action"); action {
			case "pong":
				peer := rapid.IntRange(0, n-1).Draw(t, "peer")
				// Offsets on a grid of quarter tolerances, give or take a nanosecond: touching
				// and tied intervals are common.
				offset := int64(rapid.IntRange(-8, 8).Draw(t, "grid"))*half/2 + int64(rapid.IntRange(-1, 1).Draw(t, "jitter"))
				rtt := 2 * rapid.SampledFrom([]int64{0, 1, half / 2, half, ClockSampleAgeMaxNs / 2,
					ClockSampleAgeMaxNs/2 + 1}).Draw(t, "half rtt")
				sent := clock.mono - rtt
				// The peer read its clock at the round trip's start: its realtime minus ours then.
				peerTime := clock.real - rtt + offset
				trace = append(trace, fmt.Sprintf("pong(%d, offset %d, rtt %d)", peer, offset, rtt))
				r.onPong(Message{Header: Header{Command: CommandPong, Replica: uint8(peer), Op: uint64(sent), Timestamp: peerTime}})
				if peer != me && rtt <= ClockSampleAgeMaxNs {
					// The peer's reading lies anywhere in the trip: every offset from T-R (read at
					// its end) to T-R+rtt (at its start) is consistent.
					base := peerTime - clock.real
					samples[peer] = h98Sample{lo: base, hi: base + rtt, at: clock.mono}
					check() // a pong refused leaves the verdict to the next tick
				}
			case "advance":
				d := rapid.SampledFrom([]int64{1, half, ClockSampleAgeMaxNs / 3, ClockSampleAgeMaxNs / 2, ClockSampleAgeMaxNs}).Draw(t, "advance")
				clock.mono += d
				clock.real += d
				trace = append(trace, fmt.Sprintf("advance(%d)", d))
			case "tick":
				trace = append(trace, "tick")
				r.clockSync.tick(r)
				check()
			case "membership":
				r.outside = outsideOf("new outside")
				trace = append(trace, fmt.Sprintf("outside(%b)", r.outside))
				r.clockSync.update(r) // as adopt does
				check()
			}
		}
	})
}
