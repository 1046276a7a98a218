package invariants

import "vopr/cluster/vsr"

// The age bound of a clock sample, part of clock_sync.
//
// A sample's error is half its round trip: a pong answered seconds ago (a peer or the
// replica itself paused, a partition healing, a path holding messages) stands for an
// interval so wide that any clock agrees with it, and a replica that took it could count as
// synchronised, and stamp the log, while its clock is far off. So the replica refuses a pong
// whose round trip exceeds the sample age bound (a sample older than that is out in any
// case: a pong that slow carries one already too old to count). The checker records, per
// peer, the last pongs delivered to each replica with such a round trip (measured by the
// checker from the ping time the pong echoes and the receiver's monotonic clock at
// delivery), and fails any inspection at which the replica holds a sample of that peer
// taken at the instant one of them was delivered, unless a pong it may take (the round
// trip within the bound) was delivered from that peer at the same instant: that one may be
// the sample.
//
// The bound: clockRoundTripMaxNs reads vsr.ClockSampleAgeMaxNs, the replica's configured
// sample age limit (config.go). It is a number of the contract (how old a clock sample may
// be and still count), not code of the replica's clock synchronisation, which the checker
// does not call; DESIGN.md names the tolerance (500 ms) but not this age, so the replica's
// configuration is where it is set.
const clockRoundTripMaxNs = vsr.ClockSampleAgeMaxNs

// clockStaleKept is how many pongs of too long a round trip the checker keeps per peer for
// each replica: a resumed replica's backlog holds a few from each peer (one per ping it sent
// before it stopped, a ping every few hundred milliseconds but answered only while the
// path was open), and the sample the replica holds is one of the last.
const clockStaleKept = 8

// stalePong is a pong whose round trip exceeded the bound, delivered at the receiver's
// monotonic time mono.
type stalePong struct {
	set       bool
	mono, rtt int64
}

// refusedStale records a pong from peer, delivered at mono with round trip rtt beyond the
// bound: the replica must not take it.
func (r *clockSyncReplica) refusedStale(peer int, mono, rtt int64) {
	r.stale[peer][r.staleNext[peer]] = stalePong{set: true, mono: mono, rtt: rtt}
	r.staleNext[peer] = (r.staleNext[peer] + 1) % clockStaleKept
	r.anyStale = true
}

// staleSample fails the replica if a clock sample it holds is a pong it had to refuse for its
// round trip (see above).
func (r *clockSyncReplica) staleSample(atNs int64, replica int, in *vsr.Inspection) *Violation {
	for peer := range in.ClockSampleAtNs {
		if in.ClockSamples&(1<<uint(peer)) == 0 {
			continue
		}
		at := in.ClockSampleAtNs[peer]
		var stale stalePong
		for _, p := range r.stale[peer] {
			if p.set && p.mono == at {
				stale = p
			}
		}
		if !stale.set {
			continue
		}
		if r.tookAt(peer, at) {
			continue // a pong it may take came at that instant too: that may be the sample
		}
		return violation(NameClockSync, replica, in.Op, in.View, atNs,
			"it holds a clock sample from replica %d taken when its monotonic clock read %s, from the pong delivered "+
				"then, whose round trip was %s, beyond the %s a sample may be old: a sample that slow has an error of %s, "+
				"which agrees with any clock, and must be refused",
			peer, formatNs(at), formatNs(stale.rtt), formatNs(clockRoundTripMaxNs), formatNs(stale.rtt/2))
	}
	return nil
}

// tookAt reports whether a pong from peer the replica may take (its round trip within the
// bound) was delivered to it at monotonic time at, among those kept.
func (r *clockSyncReplica) tookAt(peer int, at int64) bool {
	for _, p := range r.pongs[peer] {
		if p.set && p.mono == at {
			return true
		}
	}
	return false
}
