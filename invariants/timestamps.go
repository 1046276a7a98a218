package invariants

import (
	"vopr/cluster/vsr"
)

// NameCommitTimestamp checks prepare timestamps against what only the simulator knows, the
// clocks' true readings:
//
//   - Monotonic: along the canonical commit history every op's timestamp is strictly above
//     the previous op's (a primary stamps max(previous + 1, cluster time)).
//   - Bounded: when a primary creates a prepare, its timestamp lies within half the
//     clock-sync tolerance of what that primary's own wall clock reads at that instant, or
//     is a carry: at most one above the highest timestamp created before it.
//
// Why half the tolerance, and what it means for true time. The replica stamps realtime plus
// the offset its Marzullo estimate gives, and it stamps only while synchronised: the agreed
// region of a quorum's intervals overlaps its own interval [-tolerance/2, +tolerance/2], and
// the offset is clipped into that interval (vsr/clock_sync.go). So a fresh timestamp is
// never further than tolerance/2 from the primary's clock, whatever the clocks do; no
// network slack is needed because the clip does not depend on the samples' round trips.
//
// Inside the clock model -- the creating primary's clock within tolerance/2 of true time at
// that instant, the bound the replica's design assumes of a correct clock (two such clocks
// are within the tolerance of each other) -- the bound becomes the runbook's: the timestamp
// is within ClockToleranceNs (500 ms) of true time. The clock faults of the swarm
// (faults/kind.go) leave a clock inside the model or take it out: a drawn offset up to 1 s,
// a step up to 2 s, drift up to 2% (600 ms over a 30 s run) and a periodic error up to 200
// ms. Outside it (a primary whose clock is off but agrees with a quorum through wide,
// slow-network intervals) the true-time distance has no protocol bound, and only the
// clock-relative bound applies. The counters report how many prepares were created inside
// the model, so a batch shows how often the true-time reading is exercised.
//
// A carried timestamp (the previous one plus one, above the primary's clock) is legitimate:
// a primary whose clock is behind its predecessor's stamps must still stamp upwards.
// Carries come only from timestamps created earlier, all of which were checked themselves.
const NameCommitTimestamp = "commit_timestamp"

const clockHalfToleranceNs = vsr.ClockToleranceNs / 2

type timestamps struct {
	checked, inModel uint64
	late             uint64 // prepares first seen after their creation: bytes kept, timestamp not checked
}

// created checks the timestamp of a prepare its primary just created; maxBefore is the
// highest timestamp created before it.
func (t *timestamps) created(atNs int64, p Prepared, maxBefore int64) *Violation {
	t.checked++
	clockErr := p.ClockNs - p.TrueNs
	inModel := abs64(clockErr) <= clockHalfToleranceNs
	if inModel {
		t.inModel++
	}
	lo, hi := p.ClockNs-clockHalfToleranceNs, max(p.ClockNs+clockHalfToleranceNs, maxBefore+1)
	if p.Timestamp >= lo && p.Timestamp <= hi {
		return nil
	}
	model := "outside the clock model"
	switch {
	case inModel && abs64(p.Timestamp-p.TrueNs) > vsr.ClockToleranceNs:
		model = "inside the clock model, and beyond the 500 ms tolerance of true time"
	case inModel:
		model = "inside the clock model"
	}
	carry := "no earlier timestamp to carry"
	if maxBefore > 0 {
		carry = "or a carry up to " + formatSigned(maxBefore+1-p.ClockNs) + " from it (the highest earlier timestamp + 1)"
	}
	return violation(NameCommitTimestamp, p.Replica, p.Op, p.View, atNs,
		"prepare %s stamped %s from true time and %s from the primary's clock (clock error %s, %s); allowed: within %s of the clock, %s",
		short(p.Checksum), formatSigned(p.Timestamp-p.TrueNs), formatSigned(p.Timestamp-p.ClockNs),
		formatSigned(clockErr), model, formatNs(clockHalfToleranceNs), carry)
}

// commit checks that the canonical timestamps of op and its neighbours rise strictly.
func (t *timestamps) commit(atNs int64, e vsr.Event, canon *canonicalCommit) *Violation {
	rec := canon.record(e.Op)
	if rec == nil {
		return nil
	}
	fail := func(lower, upper uint64, a, b *commitRecord) *Violation {
		return violation(NameCommitTimestamp, e.Replica, e.Op, e.View, atNs,
			"canonical timestamps do not rise: op %d (prepare %s) is stamped %d, op %d (prepare %s) %d",
			lower, short(a.sum), a.timestamp, upper, short(b.sum), b.timestamp)
	}
	if e.Op > 1 {
		if prev := canon.record(e.Op - 1); prev != nil && prev.timestamp >= rec.timestamp {
			return fail(e.Op-1, e.Op, prev, rec)
		}
	}
	if next := canon.record(e.Op + 1); next != nil && next.timestamp <= rec.timestamp {
		return fail(e.Op, e.Op+1, rec, next)
	}
	return nil
}

func abs64(x int64) int64 { return max(x, -x) }

// formatSigned prints a signed duration with its sign.
func formatSigned(ns int64) string {
	if ns < 0 {
		return "-" + formatNs(-ns)
	}
	return "+" + formatNs(ns)
}
