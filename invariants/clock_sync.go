package invariants

import "vopr/cluster/vsr"

// NameClockSync is the reference model of a replica's clock synchronisation.
//
// At each inspection of a running active replica, the checker recomputes the replica's
// verdict and offset from the clock samples it holds (ClockSamples: which peers, taken at
// which monotonic instants) and compares them with the replica's. Each sample is rebuilt
// from the pong the checker saw delivered to the replica at that instant, not from the
// replica's memory: its round trip is the receiver's monotonic time minus the ping time the
// pong echoes, its error half of that, its offset the peer's realtime plus half the round
// trip (the peer read its clock, on average, half-way) minus the receiver's realtime. The
// agreement is the checker's own reading of Marzullo's algorithm (agreedRegion); the
// verdict is the runbook's: a majority of the active members' intervals (the replica's own
// included) agree, and the agreed region reaches the replica's own interval.
//
// What is exact and what is not. The replica sweeps its samples on every pong and at its
// ticks, so its state is that of a sweep between its last tick and the inspection: a
// sample that ages out in that stretch may or may not have been counted (every such subset
// is tried, oldest out first). After a change of membership the sweep over the previous one
// is accepted until the replica takes a sample: the replica re-sweeps at a tick only when
// its quorum's size changed, so a removal that keeps it (3 active members to 2) leaves the
// removed member's sample counted until the next pong (swarm 2027910200: replica 2 counted
// removed replica 0's sample for 385 ms, offset +86.7 ms instead of +99.7 ms; a flaw of the
// replica's cache, tolerated here, bounded by the next pong or ageing out). Every membership
// replaced since the replica last took a sample is such a candidate, not only the last one,
// until the replica has ticked under one whose quorum has another size (it swept then): a
// change that keeps the quorum's size, then one that changes it after the replica's last
// tick, leave the sweep over the membership before both standing until that tick (swarm
// 2028021600: replica 0, unpaused, took replica 2's pong then heard epoch 2 remove replica 2,
// 5 active members to 4, and epoch 3 remove replica 4 1 ms before its next tick; its offset,
// -69.0 ms, was epoch 1's). With the same
// samples and the same instant, the offset is the same arithmetic: it may differ by the
// 1 ns of a midpoint's rounding. An offset is compared only while synchronised: when not,
// the replica keeps the last one, unused.
const NameClockSync = "clock_sync"

// clockSyncPongsKept is how many pongs per peer the checker keeps for each replica: the
// replica holds the last it accepted, which is the last kept unless the ones after it came
// while it took no messages (those it refuses for their round trip are not kept: pong).
const clockSyncPongsKept = 8

// clockAmbiguousNs is how long before an inspection the replica's last sweep may have run:
// a tick is every 10 ms of its monotonic clock, an inspection every 10 ms of true time; two
// ticks bound both, with drifts of a few thousand ppm.
const clockAmbiguousNs = 2 * tickNs

// clockSyncSettleNs is how long (on its monotonic clock) a replica must have been seen
// running, unpaused, active and taking messages, at consecutive inspections, before it is
// checked: a tick in that state has swept its samples (a replica just out of recovery has
// never swept; one just unpaused ticks 10 ms later). Time, not a number of inspections: a
// scenario may inspect more than once between two ticks.
const clockSyncSettleNs = 3 * tickNs

type clockSync struct {
	replicas []clockSyncReplica
	// checked counts inspections compared; unmatched those skipped because a sample the
	// replica holds was not among the pongs the checker kept; stalePongs the pongs delivered
	// with a round trip beyond the sample age bound (each one a sample a replica must refuse).
	checked, unmatched, stalePongs uint64
}

type clockSyncReplica struct {
	pongs   [vsr.ReplicasMax][clockSyncPongsKept]clockPong // per peer, a ring
	next    [vsr.ReplicasMax]int
	running bool  // seen checkable at the last inspection
	since   int64 // its monotonic time at the first of those inspections in a row
	paused  bool  // seen paused (or down) at this inspection: it did not tick
	seen    bool
	outside uint16 // the membership seen last
	// The memberships replaced since the replica last took a sample, each once, other than
	// the current one, by the time they were last replaced, oldest first: its last sweep may
	// have run over any of them. lostM: the replacement time of the newest one dropped for
	// want of room, which leaves the replica unchecked until a sample after it.
	priors  [clockSyncPriorsKept]clockPrior
	nPriors int
	lostM   int64
	// The last inspection's count of unsynchronised ticks (Metrics.ClockUnsyncTicks) and
	// streak (ClockUnsyncStreak), and the monotonic time of the inspection it last moved at.
	unsyncTicks uint64
	unsyncRun   int
	stillSince  int64
	// The inputs and verdict of the last comparison: the same again need not be recomputed
	// until a sample ages (quietUntil, monotonic).
	last       clockSyncInputs
	quietUntil int64
	// The pongs it must refuse for their round trip (clock_age.go), per peer, a ring.
	stale     [vsr.ReplicasMax][clockStaleKept]stalePong
	staleNext [vsr.ReplicasMax]int
	anyStale  bool
}

// clockSyncPriorsKept is how many replaced memberships the checker keeps for each replica
// (a change of membership is a committed reconfiguration: a few at most between two pongs).
const clockSyncPriorsKept = 4

// clockPrior is a membership the replica left, and its monotonic time when that was seen.
type clockPrior struct {
	outside   uint16
	replacedM int64
}

// clockSyncInputs is what a comparison depends on, besides the time.
type clockSyncInputs struct {
	samples  uint16
	at       [vsr.ReplicasMax]int64
	outside  uint16
	priors   [clockSyncPriorsKept]clockPrior
	nPriors  int
	synced   bool
	offsetNs int64
}

type clockPong struct {
	set    bool
	mono   int64 // the receiver's monotonic time at delivery
	lo, hi int64 // offset - error, offset + error
}

func (c *clockSync) replica(i int) *clockSyncReplica {
	for len(c.replicas) <= i {
		c.replicas = append(c.replicas, clockSyncReplica{})
	}
	return &c.replicas[i]
}

// pong records a pong delivered intact to replica to, whose clocks read mono and real.
func (c *clockSync) pong(to int, h vsr.Header, mono, real int64) {
	from := int(h.Replica)
	if from < 0 || from >= vsr.ReplicasMax || from == to {
		return
	}
	sent := int64(h.Op) // the pong echoes the ping's monotonic send time
	rtt := mono - sent
	if sent >= 0 && rtt > clockRoundTripMaxNs {
		c.replica(to).refusedStale(from, mono, rtt) // held to it: clock_age.go
		c.stalePongs++
	}
	if sent < 0 || rtt < 0 || rtt > vsr.ClockSampleAgeMaxNs {
		// Not a sample: the ping was no clock request of the replica's (an epoch notice
		// echoes -1) or the round trip is out of bounds, and the replica refuses it. Kept, it
		// could shadow in find the sample the replica took at the same instant (swarm
		// 2027941114: a notice's pong delivered just after a real one).
		return
	}
	half := rtt / 2
	offset := h.Timestamp + half - real
	r := c.replica(to)
	r.pongs[from][r.next[from]] = clockPong{set: true, mono: mono, lo: offset - half, hi: offset + half}
	r.next[from] = (r.next[from] + 1) % clockSyncPongsKept
}

// interrupted tells that the replica may not have ticked since the last inspection (paused,
// isolated, recovering, down): it is not checked until it has run again for a while.
func (c *clockSync) interrupted(replica int) {
	r := c.replica(replica)
	r.running, r.paused = false, true
}

// inspect compares the replica's clock state with the model's. count is the number of
// active slots; mono the replica's monotonic clock now.
func (c *clockSync) inspect(atNs int64, replica, count int, in *vsr.Inspection, mono int64) *Violation {
	r := c.replica(replica)
	// Membership is followed at every inspection: a replica may change it while not checked
	// (a message held over a pause) and sweep over the old one last.
	if !r.seen {
		r.seen, r.outside = true, in.Outside
	} else if in.Outside != r.outside {
		r.replaced(mono, in.Outside)
	}
	if r.anyStale {
		if v := r.staleSample(atNs, replica, in); v != nil {
			return v
		}
	}
	if r.paused || replica >= count || in.Isolated || in.CheckpointLost || in.Joining || in.Removed ||
		(in.Status != vsr.StatusNormal && in.Status != vsr.StatusViewChange) {
		r.running, r.paused = false, false
		return nil
	}
	if r.nPriors > 0 || r.lostM != 0 {
		r.dropPriors(in)
	}
	if !r.running {
		r.since = mono
	}
	if v := r.unsyncStreak(atNs, replica, in, mono); v != nil {
		return v
	}
	if r.running = true; mono-r.since < clockSyncSettleNs {
		return nil
	}
	if r.nPriors > 0 && mono-max(r.since, r.priors[r.nPriors-1].replacedM) >= clockAmbiguousNs {
		// It has ticked under the current membership: a sweep over one whose quorum has
		// another size was redone then.
		quorum := activeOf(in.Outside, count)/2 + 1
		r.keepPriors(func(p clockPrior) bool { return activeOf(p.outside, count)/2+1 == quorum })
	}
	inputs := clockSyncInputs{samples: in.ClockSamples, at: in.ClockSampleAtNs, outside: in.Outside,
		priors: r.priors, nPriors: r.nPriors, synced: in.ClockSynchronized, offsetNs: in.ClockOffsetNs}
	if inputs == r.last && mono < r.quietUntil {
		return nil // nothing changed, and no sample reached its age limit
	}
	if r.lostM != 0 {
		c.unmatched++ // a membership the last sweep may have run over was not kept
		return nil
	}
	var samples [vsr.ReplicasMax]clockPong
	for i := range samples {
		if in.ClockSamples&(1<<uint(i)) == 0 {
			continue
		}
		p, ok := r.find(i, in.ClockSampleAtNs[i])
		if !ok {
			c.unmatched++
			return nil
		}
		samples[i] = p
	}
	c.checked++
	r.last, r.quietUntil = inputs, mono+clockAmbiguousNs
	// The current membership first, then those it replaced, newest first. The message gives
	// what a sweep now over the current one finds.
	var memberships [clockSyncPriorsKept + 1]uint16
	memberships[0] = in.Outside
	for k := 0; k < r.nPriors; k++ {
		memberships[1+k] = r.priors[r.nPriors-1-k].outside
	}
	var want clockVerdict
	for m, outside := range memberships[:1+r.nPriors] {
		cutoffs, k := ageCutoffs(&samples, outside, mono)
		for j, cutoff := range cutoffs[:k] {
			v := marzulloVerdict(&samples, outside, count, cutoff)
			if m == 0 && j == 0 {
				want = v
			}
			if v.synced == in.ClockSynchronized && (!v.synced || abs64(v.offsetNs-in.ClockOffsetNs) <= 1) {
				r.quietUntil = quietUntil(&samples, outside, mono)
				return nil
			}
		}
	}
	return violation(NameClockSync, replica, in.Op, in.View, atNs,
		"the replica reports its clock %s with offset %s; over its own interval and the %d members' clock samples it "+
			"holds (rebuilt from the pongs delivered to it), Marzullo's algorithm finds %d of %d intervals agreeing on "+
			"[%s, %s], so it must be %s%s",
		syncWord(in.ClockSynchronized), formatSigned(in.ClockOffsetNs), want.samples, want.agree, want.samples+1,
		formatSigned(want.lo), formatSigned(want.hi), syncWord(want.synced), offsetWords(want))
}

// replaced records the change of the replica's membership to outside, seen at mono.
func (r *clockSyncReplica) replaced(mono int64, outside uint16) {
	old := r.outside
	r.keepPriors(func(p clockPrior) bool { return p.outside != old && p.outside != outside })
	if r.nPriors == clockSyncPriorsKept {
		r.lostM = r.priors[0].replacedM
		r.keepPriors(func(p clockPrior) bool { return p.replacedM > r.lostM })
	}
	r.priors[r.nPriors], r.outside = clockPrior{old, mono}, outside
	r.nPriors++
}

// dropPriors forgets the memberships replaced before the replica's newest sample was taken:
// it swept at that pong, over a later membership. A sample taken at the instant a
// replacement was seen may have come before it: that membership stays.
func (r *clockSyncReplica) dropPriors(in *vsr.Inspection) {
	newest := int64(-1 << 63)
	for i := range in.ClockSampleAtNs {
		if in.ClockSamples&(1<<uint(i)) != 0 {
			newest = max(newest, in.ClockSampleAtNs[i])
		}
	}
	r.keepPriors(func(p clockPrior) bool { return p.replacedM >= newest })
	if r.lostM != 0 && r.lostM < newest {
		r.lostM = 0
	}
}

// keepPriors keeps the replaced memberships that keep holds for, in order; the slots after
// them are zeroed (the priors are compared in clockSyncInputs).
func (r *clockSyncReplica) keepPriors(keep func(clockPrior) bool) {
	n := 0
	for _, p := range r.priors[:r.nPriors] {
		if keep(p) {
			r.priors[n], n = p, n+1
		}
	}
	clear(r.priors[n:r.nPriors])
	r.nPriors = n
}

// activeOf is the number of active members of membership outside among count slots.
func activeOf(outside uint16, count int) int {
	n := 0
	for i := 0; i < count; i++ {
		if outside&(1<<uint(i)) == 0 {
			n++
		}
	}
	return n
}

func syncWord(synced bool) string {
	if synced {
		return "synchronised"
	}
	return "unsynchronised"
}

func offsetWords(v clockVerdict) string {
	if !v.synced {
		return ""
	}
	return " with offset " + formatSigned(v.offsetNs)
}

// unsyncStreak holds the replica's run of unsynchronised ticks to its count of them, both
// kept by the replica; in is checkable, and r.running tells whether the last inspection was.
// Each unsynchronised tick adds one to both, a synchronised one zeroes the run: the run
// either grew by what the count did, or restarted after a synchronised tick (it is at most
// what the count grew). A replica ticks every 10 ms of its clock: if the count has stood
// still for clockSyncSettleNs, one of the ticks since was synchronised and none was not:
// the run is 0.
func (r *clockSyncReplica) unsyncStreak(atNs int64, replica int, in *vsr.Inspection, mono int64) *Violation {
	count, run := in.Metrics.ClockUnsyncTicks, in.ClockUnsyncStreak
	lastCount, lastRun := r.unsyncTicks, r.unsyncRun
	r.unsyncTicks, r.unsyncRun = count, run
	if !r.running || count != lastCount {
		r.stillSince = mono
	}
	if !r.running {
		return nil
	}
	grew := count - lastCount
	switch {
	case count < lastCount || (run != lastRun+int(grew) && uint64(run) > grew):
		return violation(NameClockSync, replica, in.Op, in.View, atNs,
			"its run of unsynchronised ticks went from %d to %d while its count of them went from %d to %d: "+
				"a run grows with the count, or restarts after a synchronised tick",
			lastRun, run, lastCount, count)
	case mono-r.stillSince >= clockSyncSettleNs && run != 0:
		return violation(NameClockSync, replica, in.Op, in.View, atNs,
			"its run of unsynchronised ticks is %d, though its count of them (%d) has not moved for %s of its "+
				"clock, over which it ticked: a synchronised tick ends the run",
			run, count, formatNs(mono-r.stillSince))
	}
	return nil
}

// find returns the pong from peer the replica took at monotonic time at. Two different pongs
// of that peer delivered at that instant (a paused node's backlog: swarm seed
// 754605522279698020, two pongs of replica 1 around an epoch change) leave it unknown which
// one the replica kept: none is returned, and the inspection goes unchecked, as when the
// pong is no longer kept.
func (r *clockSyncReplica) find(peer int, at int64) (clockPong, bool) {
	var found clockPong
	for k := 1; k <= clockSyncPongsKept; k++ { // newest first: a restarted clock may repeat
		p := r.pongs[peer][(r.next[peer]-k+clockSyncPongsKept)%clockSyncPongsKept]
		if !p.set || p.mono != at {
			continue
		}
		if found.set && (p.lo != found.lo || p.hi != found.hi) {
			return clockPong{}, false
		}
		found = p
	}
	return found, found.set
}

// counted reports whether sample i counts in a sweep over membership outside.
func counted(samples *[vsr.ReplicasMax]clockPong, i int, outside uint16) bool {
	return samples[i].set && outside&(1<<uint(i)) == 0
}

// ageCutoffs lists the oldest monotonic times a sample may have been taken at to count in
// the replica's last sweep: it ran at most clockAmbiguousNs ago, so a sample that reached
// its age limit since may or may not count. Each cutoff counts a different set.
func ageCutoffs(samples *[vsr.ReplicasMax]clockPong, outside uint16, mono int64) (cutoffs [vsr.ReplicasMax + 1]int64, n int) {
	cutoffs[0], n = mono-vsr.ClockSampleAgeMaxNs, 1 // a sweep now: every sample older is out
	for i := range samples {
		age := mono - samples[i].mono
		if counted(samples, i, outside) && age > vsr.ClockSampleAgeMaxNs && age <= vsr.ClockSampleAgeMaxNs+clockAmbiguousNs {
			cutoffs[n], n = samples[i].mono, n+1 // a sweep before it aged out: it and every younger one count
		}
	}
	return cutoffs, n
}

// quietUntil is the monotonic time until which the same samples give the same verdict: the
// first instant a counted sample comes within clockAmbiguousNs of its age limit (never, while
// one is past it by less than clockAmbiguousNs: the replica may sweep it out any tick).
func quietUntil(samples *[vsr.ReplicasMax]clockPong, outside uint16, mono int64) int64 {
	until := int64(1<<63 - 1)
	for i := range samples {
		if counted(samples, i, outside) && mono-samples[i].mono <= vsr.ClockSampleAgeMaxNs+clockAmbiguousNs {
			until = min(until, samples[i].mono+vsr.ClockSampleAgeMaxNs-clockAmbiguousNs)
		}
	}
	return until
}

// clockVerdict is what a correct replica concludes from its samples.
type clockVerdict struct {
	synced         bool
	offsetNs       int64
	samples, agree int   // the peers' intervals counted, and how many intervals agree
	lo, hi         int64 // the agreed region
}

// marzulloVerdict computes the verdict over the samples of the members (not in outside)
// taken at or after cutoff, and the replica's own interval, each widened by half the
// tolerance (two clocks each within half of it of the truth are within it of each other).
func marzulloVerdict(samples *[vsr.ReplicasMax]clockPong, outside uint16, count int, cutoff int64) clockVerdict {
	const half = vsr.ClockToleranceNs / 2
	var space [vsr.ReplicasMax + 1][2]int64
	intervals := append(space[:0], [2]int64{-half, half})
	for i := range samples {
		if counted(samples, i, outside) && samples[i].mono >= cutoff {
			intervals = append(intervals, [2]int64{samples[i].lo - half, samples[i].hi + half})
		}
	}
	agree, lo, hi := agreedRegion(intervals)
	active := activeOf(outside, count)
	v := clockVerdict{samples: len(intervals) - 1, agree: agree, lo: lo, hi: hi}
	v.synced = agree >= active/2+1 && lo <= half && hi >= -half
	if v.synced {
		v.offsetNs = (max(lo, -half) + min(hi, half)) / 2 // the middle of what it shares with ours
	}
	return v
}

// agreedRegion is Marzullo's answer over closed intervals: the most intervals that share a
// point, and the lowest stretch of points they share. The most-shared point can always be
// taken at some interval's start (moving left from any point to the nearest start loses
// none), so it tries every start; the stretch from the lowest such start runs until the
// first of the intervals holding it ends (none can begin inside it: that point would be
// shared by one more).
func agreedRegion(intervals [][2]int64) (agree int, lo, hi int64) {
	for _, a := range intervals {
		n, end := 0, int64(1<<63-1)
		for _, b := range intervals {
			if b[0] <= a[0] && a[0] <= b[1] {
				n, end = n+1, min(end, b[1])
			}
		}
		if n > agree || (n == agree && a[0] < lo) {
			agree, lo, hi = n, a[0], end
		}
	}
	return agree, lo, hi
}
