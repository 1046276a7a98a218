package scenarios

import (
	"fmt"

	"vopr/cluster/vsr"
	"vopr/sim"
)

// Exact stamps under perfect clocks. A clock sample's interval, [offset - rtt/2, offset +
// rtt/2] with offset = peer's realtime + rtt/2 - ours (vsr/clock_sync.go), holds the true
// offset between the two clocks whenever the peer read its clock between our ping and its
// pong, which it always does. When every clock reads true time, the true offset is 0: every
// sample's interval holds 0, so every interval widened by half the tolerance holds the
// replica's own interval [-half, +half], the region Marzullo's sweep picks is that interval,
// and the offset is exactly 0 (a rounding of rtt/2 moves an end by 1 ns, which the midpoint's
// truncation drops). A primary then stamps exactly what its clock reads, or carries (the
// previous timestamp + 1). commit_timestamp allows any stamp within half the tolerance of the
// clock, a bound a biased estimate never leaves (the offset is clipped into it): this rule is
// stricter where it is sound, and holds a sample computed with the round trip miscounted (a
// bias of half of it, which a slow or asymmetric network makes large) to account.
//
// Sound only while every clock the samples came from read true time when they were taken:
// the rule applies once every member's clock has been exact (no offset, step, drift or
// periodic error) at every tick for exactWindow, as long as any sample the replica may hold
// (ClockSampleAgeMaxNs old at most) and the ping it answers (sent at most ClockSampleAgeMaxNs
// before) go back, with a second to spare.
const exactWindow = sim.Duration(2*vsr.ClockSampleAgeMaxNs) + sim.Second

// exactStamps watches the clocks and the stamps of created prepares.
type exactStamps struct {
	observed    bool     // observe has run: only a run that observes every tick is checked
	observedAt  sim.Time // its last run
	imperfectAt sim.Time // the last tick a clock was seen inexact, or observe was not run
	imperfect   bool     // imperfectAt is set
	maxStamp    int64    // the highest timestamp created so far
	lastView    uint32   // the last prepare checked (a created prepare goes to every peer)
	lastOp      uint64
}

// observe records whether every member's clock reads true time now. It runs once a tick,
// after the nemesis and the harness may have changed a clock and before the cluster runs on;
// a tick it missed (a scenario's own loop, which may change clocks unseen) counts as inexact.
// The clocks of a run are exact until its first tick (the nemesis has not run), so the first
// call covers the time before it.
func (e *exactStamps) observe(c *sim.Cluster) {
	now := c.Loop.Now()
	if e.observed && sim.Duration(now-e.observedAt) > sim.TickInterval {
		e.imperfect, e.imperfectAt = true, now
	}
	e.observed, e.observedAt = true, now
	for i := 0; i < c.MemberCount(); i++ {
		clock := c.Nodes[i].Clock
		o := clock.Options()
		if o.DriftPPM != 0 || o.PeriodicErrorNs != 0 || clock.ErrorNs() != 0 {
			e.imperfect, e.imperfectAt = true, now
			return
		}
	}
}

// applies reports whether the rule holds at now: every clock exact at every tick for
// exactWindow, observed up to the last tick.
func (e *exactStamps) applies(now sim.Time) bool {
	return e.observed && sim.Duration(now-e.observedAt) <= sim.TickInterval &&
		(!e.imperfect || sim.Duration(now-e.imperfectAt) > exactWindow)
}

// created checks the stamp of a prepare its primary just created: h, stamped while its clock
// read clockNs, at now. It returns a violation, or "".
func (e *exactStamps) created(h vsr.Header, clockNs int64, now sim.Time) string {
	if h.View == e.lastView && h.Op == e.lastOp {
		return ""
	}
	e.lastView, e.lastOp = h.View, h.Op
	maxBefore := e.maxStamp
	e.maxStamp = max(e.maxStamp, h.Timestamp)
	if !e.applies(now) || h.Timestamp == clockNs || h.Timestamp <= maxBefore+1 {
		return ""
	}
	return fmt.Sprintf("clock sync: replica %d stamped op %d of view %d %s from its clock, though every clock has "+
		"read true time at every tick since the run began or for the last %s (its offset must be 0: a stamp is its "+
		"clock or the highest earlier timestamp + 1, %s from it)",
		h.Replica, h.Op, h.View, sim.Duration(h.Timestamp-clockNs), exactWindow, sim.Duration(maxBefore+1-clockNs))
}

// checkExactStamp holds a prepare its sender just created (h, decoded by onPrepare) to
// exactStamps.
func (run *swarmRun) checkExactStamp(from int, h vsr.Header) {
	if run.broken != "" {
		return
	}
	run.broken = run.exact.created(h, run.c.Nodes[from].Clock.Realtime(), run.c.Loop.Now())
}
