package scenarios

import (
	"fmt"
	"slices"

	"vopr/cluster/vsr"
	"vopr/sim"
)

// armLongPause draws the long pause (faults/nemesis_long_pause.go: one replica, sometimes the
// primary, stopped for 10 to 40 s, in half of those with its wall clock off when it resumes)
// from its own stream, and returns the fault phase's length with room for it. Seeds that do
// not draw it keep faultTicks, and their traces.
func (run *swarmRun) armLongPause(seed uint64, faultTicks int) int {
	return run.nemesis.ArmLongPause(sim.Stream(seed, "swarm/long_pause"), faultTicks)
}

// clockTruth holds every replica's clock verdict to what the true clocks allow. A replica
// counts as synchronised only if a quorum's intervals agree and the agreed region reaches its
// own (vsr/clock_sync.go), so with a quorum of two or more some sample interval reaches its
// own interval: |o| <= e + tolerance, for a sample of offset o and error e. A sample is honest
// about the clocks it compared (the true offset, peer minus self, lies within e of o: the
// peer read its clock inside the round trip), and the replica takes no sample whose round
// trip exceeds vsr.ClockSampleAgeMaxNs, nor keeps one older than that. So while a replica
// reports synchronised, its clock error and some other replica's, as they were at some
// instant of the last two sample ages, are within ClockSampleAgeMaxNs (two half round trips)
// plus the tolerance of each other, give or take the monotonic clocks' drift. The check
// keeps each node's clock error range per second over that span (clockTruthBuckets), and
// fails a replica that reports synchronised while no other node's range came within
// clockTruthGapNs of its own: a clock far off (after a long pause, a resumed VM's stale
// clock: faults/nemesis_long_pause.go) agreed with nothing it could have sampled. Paused,
// crashed or just resumed replicas are not checked: the verdict of a stopped process stands
// until its first tick after it, a tick period on its monotonic clock after it resumed.
type clockTruth struct {
	ranges    [][clockTruthBuckets]errRange // per node, a ring of per-second ranges
	second    int64                         // the newest bucket's second
	upMono    []int64                       // per node, its monotonic clock when first seen running again
	wasUp     []bool                        // per node, it was running at the last inspection
	lo, hi    []int64                       // per node, the window's range (refreshed per inspection)
	checked   uint64                        // synchronised verdicts compared with the clocks
	violation string
}

type errRange struct {
	lo, hi int64
	seen   bool
}

const (
	// clockTruthBuckets spans two sample ages (a sample at most that old, of a round trip at
	// most that long, both on a monotonic clock up to 5% slow) and the bucket in progress.
	clockTruthBuckets = 2*(vsr.ClockSampleAgeMaxNs/1_000_000_000) + 3
	// clockTruthGapNs: two half round trips and the tolerance, the round trips measured on a
	// monotonic clock that may run up to sim.DriftPPMMax fast or slow (5%), and a second of
	// slack for the realtime drift within a round trip.
	clockTruthGapNs = vsr.ClockSampleAgeMaxNs + vsr.ClockSampleAgeMaxNs/20 + vsr.ClockToleranceNs + int64(sim.Second)
)

// observe records every node's clock error and status at instant now (once per inspection).
func (t *clockTruth) observe(c *sim.Cluster, now int64) {
	second := now / int64(sim.Second)
	// Within one second the ring changes only by this instant's errors joining the newest
	// bucket, so each window grows by them alone; a new second clears buckets and rescans.
	rescan := t.ranges == nil || t.second != second
	if t.ranges == nil {
		t.ranges = make([][clockTruthBuckets]errRange, len(c.Nodes))
		t.upMono, t.lo, t.hi = make([]int64, len(c.Nodes)), make([]int64, len(c.Nodes)), make([]int64, len(c.Nodes))
		t.wasUp = make([]bool, len(c.Nodes))
	}
	for s := max(t.second+1, second-clockTruthBuckets+1); s <= second && t.second != second; s++ {
		for i := range t.ranges {
			t.ranges[i][s%clockTruthBuckets] = errRange{}
		}
	}
	t.second = second
	for i, node := range c.Nodes {
		up := node.Status() == sim.NodeUp
		if up && !t.wasUp[i] {
			t.upMono[i] = node.Clock.Monotonic()
		}
		t.wasUp[i] = up
		e := node.Clock.ErrorNs()
		b := &t.ranges[i][second%clockTruthBuckets]
		if !b.seen {
			*b = errRange{lo: e, hi: e, seen: true}
		}
		b.lo, b.hi = min(b.lo, e), max(b.hi, e)
		if !rescan {
			t.lo[i], t.hi[i] = min(t.lo[i], e), max(t.hi[i], e)
			continue
		}
		t.lo[i], t.hi[i] = e, e
		for _, r := range t.ranges[i] {
			if r.seen {
				t.lo[i], t.hi[i] = min(t.lo[i], r.lo), max(t.hi[i], r.hi)
			}
		}
	}
}

// check holds replica i's verdict in in, at instant now, to the clocks; it returns the
// first violation (and keeps it).
func (t *clockTruth) check(c *sim.Cluster, i int, in *vsr.Inspection, now int64) string {
	if t.violation != "" || !in.ClockSynchronized || t.ranges == nil || c.Nodes[i].Status() != sim.NodeUp ||
		c.Nodes[i].Clock.Monotonic()-t.upMono[i] < int64(sim.TickInterval) {
		return t.violation
	}
	t.checked++
	for j := range c.Nodes {
		if j != i && t.lo[j] <= t.hi[i]+clockTruthGapNs && t.hi[j] >= t.lo[i]-clockTruthGapNs {
			return ""
		}
	}
	// Only now the membership, which inspects every replica (read first, for every verdict,
	// it was a tenth of the swarm's CPU).
	active, _ := c.Members()
	if !slices.Contains(active, i) || len(active) < 2 || membersOf(in.Outside, c.ReplicaCount()) < 2 {
		return "" // a lone replica needs no sample (by the cluster's or its own count); a standby keeps none
	}
	t.violation = fmt.Sprintf("clock_truth: replica %d reports its clock synchronised while it is %s off true time "+
		"(%s to %s over the last %d s), and no other node's clock came within %s of it then: no sample it may hold "+
		"agrees with it", i, sim.Duration(c.Nodes[i].Clock.ErrorNs()), sim.Duration(t.lo[i]), sim.Duration(t.hi[i]),
		clockTruthBuckets, sim.Duration(clockTruthGapNs))
	return t.violation
}

// membersOf counts the replicas below count that outside leaves in the configuration.
func membersOf(outside uint16, count int) int {
	n := 0
	for i := 0; i < count; i++ {
		if outside&(1<<uint(i)) == 0 {
			n++
		}
	}
	return n
}
