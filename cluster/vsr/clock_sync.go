package vsr

import (
	"math"

	"vopr/cluster/checksum"
)

// clockSync estimates the cluster's time from ping/pong samples (Marzullo's algorithm over
// a quorum's intervals) and decides whether this replica's realtime clock agrees with it
// within ClockToleranceNs. Only a synchronised primary timestamps operations: a replica with
// a wrong wall clock must not stamp the log.
type clockSync struct {
	samples      [ReplicasMax]clockSample
	synchronized bool
	offsetNs     int64 // add to our realtime to get the cluster's time
	unsyncTicks  int
	// The last sweep's inputs stand until stableUntil (monotonic): no sample was taken since
	// (onPong sweeps again) and none of those it counted ages out before then; samples it
	// left out only age further. Until then a tick's sweep would give the same result.
	swept       bool
	sweptQuorum int
	stableUntil int64
}

type clockSample struct {
	valid    bool
	offsetNs int64 // peer realtime minus ours, at the round trip's midpoint
	errorNs  int64 // half the round trip: the sample's uncertainty
	atMono   int64
}

func (r *Replica) onPingTimeout() {
	r.ping.start(r.rand)
	if r.isStandby() {
		return // a standby keeps no clock samples: it never timestamps
	}
	h := r.header(CommandPing)
	h.Timestamp = r.clock.Monotonic()
	r.sendToOthers(Encode(h, nil))
}

func (r *Replica) onPing(m Message) {
	h := r.header(CommandPong)
	h.Op = uint64(m.Header.Timestamp) // echo the sender's monotonic time
	h.Timestamp = r.clock.Realtime()
	r.bus.SendToReplica(int(m.Header.Replica), Encode(h, nil))
}

func (r *Replica) onPong(m Message) {
	now := r.clock.Monotonic()
	sent := int64(m.Header.Op)
	rtt := now - sent
	if rtt < 0 || sent < 0 || rtt > ClockSampleAgeMaxNs || int(m.Header.Replica) == r.replica {
		return // not a reply to any ping of ours
	}
	offset := m.Header.Timestamp + rtt/2 - r.clock.Realtime()
	r.clockSync.samples[m.Header.Replica] = clockSample{valid: true, offsetNs: offset, errorNs: rtt / 2, atMono: now}
	r.clockSync.update(r)
}

func (c *clockSync) tick(r *Replica) {
	if now := r.clock.Monotonic(); !c.swept || now > c.stableUntil || c.sweptQuorum != r.quorum() {
		c.update(r)
	}
	if !c.synchronized {
		c.unsyncTicks++
		r.metrics.ClockUnsyncTicks++
	} else {
		c.unsyncTicks = 0
	}
}

// update runs Marzullo's algorithm over our own interval and the fresh samples' intervals,
// each widened by half the tolerance (two clocks each within it of the truth are within the
// tolerance of each other).
func (c *clockSync) update(r *Replica) {
	const half = ClockToleranceNs / 2
	now := r.clock.Monotonic()
	// At most ReplicasMax+1 intervals: sorted on the stack, by insertion (this runs on every
	// tick and every pong; sort.Slice allocated each time).
	var space [2 * (ReplicasMax + 1)]clockEdge
	edges := append(space[:0], clockEdge{-half, +1}, clockEdge{half, -1})
	c.swept, c.sweptQuorum, c.stableUntil = true, r.quorum(), math.MaxInt64
	for i := range c.samples {
		s := &c.samples[i]
		if !s.valid || i == r.replica || !r.isMember(i) || now-s.atMono > ClockSampleAgeMaxNs {
			continue
		}
		c.stableUntil = min(c.stableUntil, s.atMono+ClockSampleAgeMaxNs) // counted while now <= this
		edges = append(edges, clockEdge{s.offsetNs - s.errorNs - half, +1}, clockEdge{s.offsetNs + s.errorNs + half, -1})
	}
	for i := 1; i < len(edges); i++ {
		for j := i; j > 0 && edges[j].before(edges[j-1]); j-- {
			edges[j], edges[j-1] = edges[j-1], edges[j]
		}
	}
	best, count := 0, 0
	var lo, hi int64
	for i, e := range edges {
		count += e.delta
		if count > best && i+1 < len(edges) {
			best, lo, hi = count, e.at, edges[i+1].at
		}
	}
	was := c.synchronized
	// Synchronised: a quorum agrees, and the agreed region overlaps our own interval.
	c.synchronized = best >= r.quorum() && lo <= half && hi >= -half
	if c.synchronized {
		c.offsetNs = (max(lo, -half) + min(hi, half)) / 2
	}
	if was && !c.synchronized {
		r.emit(EventClockUnsynchronized, r.op, checksum.Sum{}, "clock unsynchronized")
	}
}

// clockEdge is an end of an interval in Marzullo's sweep.
type clockEdge struct {
	at    int64
	delta int // +1 opens an interval, -1 closes it
}

// before orders edges by position, opens before closes at the same position: touching
// intervals agree.
func (e clockEdge) before(o clockEdge) bool {
	if e.at != o.at {
		return e.at < o.at
	}
	return e.delta > o.delta
}

// primaryTimestamp returns the timestamp of the next prepare: the cluster's time, never
// behind the previous op's timestamp. It fails while the clock is unsynchronised.
func (r *Replica) primaryTimestamp() (int64, bool) {
	if !r.clockSync.synchronized {
		return 0, false
	}
	return max(r.lastTimestamp+1, r.clock.Realtime()+r.clockSync.offsetNs), true
}
