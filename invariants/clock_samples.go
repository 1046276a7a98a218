package invariants

import (
	"sort"

	"vopr/cluster/vsr"
)

// clockSamples is the checker's own record of the clock samples a replica can hold: every
// pong delivered to it intact, as the replica measures it at that instant (the peer's
// realtime plus half the round trip, against its own realtime; the round trip from the
// monotonic time the pong echoes). A replica keeps the latest sample it accepted from each
// peer, for at most vsr.ClockSampleAgeMaxNs; this record keeps every pong of that window, a
// superset of what the replica can be using, since it may ignore some (clockSampleWindowNs).
//
// What it proves. A sample of offset o and error e stands for the interval
// [o-e-half, o+e+half] (half: half the tolerance), and the replica's own interval is
// [-half, +half]; the replica's cluster-time offset is the middle of the region most of
// them agree on, clipped to its own interval (vsr/clock_sync.go: Marzullo's algorithm).
// If every sample's o+e <= 0, every interval ends at or below +half and begins at or below
// -half, so the region does too: the offset is <= 0, and the primary stamps at most its own
// clock (or a carry, the previous timestamp + 1). If every o-e >= 0, the offset is >= 0 and
// the stamp is at least its clock. This holds whatever the clocks truly read: it is the
// arithmetic of the replica's own samples, so a stamp on the wrong side is a wrong use of
// them (an offset applied with the wrong sign, an estimate that moves away from the
// clocks it heard).
type clockSamples struct {
	byReplica []pongLog // per replica, the pongs delivered to it
	// pausedAt holds, per replica, the last instant it was seen paused (0: never). A paused
	// replica does not tick, so the offset it computed before the pause stands until its
	// first tick after it, though samples aged out in between: stamps that soon after a
	// pause are not checked (pauseSettleNs).
	pausedAt []int64
}

// pauseSettleNs is how long after a replica was last seen paused its stamps go unchecked:
// past its first tick after the pause, with room to spare.
const pauseSettleNs = 50_000_000

// paused records that replica was seen paused at atNs.
func (c *clockSamples) paused(atNs int64, replica int) {
	for len(c.pausedAt) <= replica {
		c.pausedAt = append(c.pausedAt, 0)
	}
	c.pausedAt[replica] = atNs
}

// clockSampleWindowNs is how far back the pongs a replica may be using go: its samples'
// age limit, plus a second for the offset it computed last, which stands until its next
// tick's sweep although a sample aged out in between (ten milliseconds on, unless it was
// paused: pausedAt).
const clockSampleWindowNs = vsr.ClockSampleAgeMaxNs + 1_000_000_000

// heardPong is one pong as its receiver measured it.
type heardPong struct {
	atMono int64 // the receiver's monotonic time at delivery
	hi, lo int64 // o+e and o-e: the sample's offset plus and minus its error
}

// pongLog is the pongs delivered to one replica, oldest first, with what lets side answer
// without a walk over them (it runs for every prepare a primary creates). Pongs are numbered
// from 1 in delivery order. While their monotonic times ascend (they do, except across a
// restart, whose clock may start lower), the pongs inside a window are a suffix of the
// log, and its samples all lie on one side of 0 if the last pong that does not is before it.
type pongLog struct {
	pongs   []heardPong
	dropped int // pongs[i] is pong number dropped+1+i
	// lastHigh and lastLow are the numbers of the last pong with hi > 0 and with lo < 0,
	// lastDescent of the last pong whose monotonic time is below its predecessor's (0: none).
	lastHigh, lastLow, lastDescent int
}

// pong records a pong h delivered intact to replica, whose monotonic and realtime clocks
// read mono and real at that instant.
func (c *clockSamples) pong(replica int, h vsr.Header, mono, real int64) {
	if int(h.Replica) == replica {
		return
	}
	rtt := mono - int64(h.Op) // h.Op echoes the ping's monotonic send time
	offset := h.Timestamp + rtt/2 - real
	for len(c.byReplica) <= replica {
		c.byReplica = append(c.byReplica, pongLog{})
	}
	l := &c.byReplica[replica]
	keep := 0 // drop what aged out of every window from here on
	for keep < len(l.pongs) && mono-l.pongs[keep].atMono > clockSampleWindowNs {
		keep++
	}
	l.dropped += keep
	p := heardPong{atMono: mono, hi: offset + rtt/2, lo: offset - rtt/2}
	number := l.dropped + len(l.pongs[keep:]) + 1
	if n := len(l.pongs); n > 0 && p.atMono < l.pongs[n-1].atMono {
		l.lastDescent = number
	}
	if p.hi > 0 {
		l.lastHigh = number
	}
	if p.lo < 0 {
		l.lastLow = number
	}
	l.pongs = append(l.pongs[keep:], p)
}

// side reports the sign the replica's clock offset must have, given the pongs it heard
// in the window before its monotonic time mono: -1 (at most 0), +1 (at least 0), or 0
// when the samples do not settle it. With none the offset is 0, both at once: it reports
// -1 and the caller checks both sides then (bothSides).
func (c *clockSamples) side(replica int, mono int64) (sign int, bothSides bool) {
	allBelow, allAbove := true, true
	if replica < len(c.byReplica) {
		allBelow, allAbove = c.byReplica[replica].sides(mono)
	}
	switch {
	case allBelow && allAbove:
		return -1, true
	case allBelow:
		return -1, false
	case allAbove:
		return +1, false
	}
	return 0, false
}

// sides reports whether every pong in the window before mono has hi <= 0 (allBelow) and
// whether every one has lo >= 0 (allAbove).
func (l *pongLog) sides(mono int64) (allBelow, allAbove bool) {
	inWindow := func(p heardPong) bool { return mono-p.atMono <= clockSampleWindowNs }
	if l.lastDescent > l.dropped+1 { // a restart's clock among them: not a suffix, walk
		allBelow, allAbove = true, true
		for _, p := range l.pongs {
			if !inWindow(p) {
				continue // too old for the replica to count (a restart's clock counts too)
			}
			allBelow = allBelow && p.hi <= 0
			allAbove = allAbove && p.lo >= 0
		}
		return allBelow, allAbove
	}
	first := l.dropped + 1 + sort.Search(len(l.pongs), func(i int) bool { return inWindow(l.pongs[i]) })
	return l.lastHigh < first, l.lastLow < first
}

// offsetSide checks the side of its own clock a primary stamped p on, against the pongs it
// heard (clockSamples); maxBefore is the highest timestamp created before p, the highest a
// carry can come from. mono is the primary's monotonic clock at creation.
func (c *clockSamples) offsetSide(atNs int64, p Prepared, mono, maxBefore int64) *Violation {
	if p.Replica < len(c.pausedAt) && c.pausedAt[p.Replica] > 0 && atNs-c.pausedAt[p.Replica] <= pauseSettleNs {
		return nil
	}
	sign, both := c.side(p.Replica, mono)
	if sign == 0 {
		return nil
	}
	if sign < 0 && p.Timestamp > max(p.ClockNs, maxBefore+1) {
		return violation(NameCommitTimestamp, p.Replica, p.Op, p.View, atNs,
			"prepare %s stamped %s from the primary's clock, though every clock sample it heard in the last %s puts the cluster's time at or behind its own (the offset must be <= 0; the highest earlier timestamp + 1 is %s from its clock)",
			short(p.Checksum), formatSigned(p.Timestamp-p.ClockNs), formatNs(clockSampleWindowNs), formatSigned(maxBefore+1-p.ClockNs))
	}
	if (sign > 0 || both) && p.Timestamp < p.ClockNs {
		return violation(NameCommitTimestamp, p.Replica, p.Op, p.View, atNs,
			"prepare %s stamped %s from the primary's clock, though every clock sample it heard in the last %s puts the cluster's time at or ahead of its own (the offset must be >= 0)",
			short(p.Checksum), formatSigned(p.Timestamp-p.ClockNs), formatNs(clockSampleWindowNs))
	}
	return nil
}
