package scenarios

import (
	"fmt"

	"vopr/cluster/vsr"
	"vopr/sim"
)

// divergent_matrix's boundary variant: damage at the boundary between r0's stale entries (its
// own prepares of an older view) and the newer log's entries its repair wrote above them, the
// identity of the damaged op lost (entry and record), with the crash inside that repair.
// Recovery must then see that no link through the damaged op is checked, and forget the
// stale entries below it (unverifiedBelowBreak): read as one log, the stale op below a new one
// breaks the hash chain, or is executed as committed. The plain draws met this only by chance
// (two seeds in 3,000 killed catalog mutant vsr.recovery_hidden_break_polarity, both far, the
// damage on op a+k with the disk holding its new entry above a stale a+k-1, and a crash
// mid-repair). A quarter of the seeds, drawn from their own stream ("divergent_boundary"),
// aim the crash and the damage there; the other seeds keep their episodes unchanged.

// divergentBoundaryCrashMax bounds which of r0's completions on its log's files after the
// heal the crash strikes at. A far r0 writes nothing to its log while it walks the chain down
// to its stale entries: once the walk reaches them it rewrites the range bottom up, a record,
// an entry and their syncs an op, so the first dozen completions cut that rewrite after a
// few ops, new entries above stale ones.
const divergentBoundaryCrashMax = 12

// The held heartbeats of a boundary seed last divergentBoundaryHoldTicksMin..Max (1.5-3 s,
// as the two seeds that found the class): without them r0 state-syncs to the others'
// checkpoint before its repair walks down to its stale entries.
const (
	divergentBoundaryHoldTicksMin = 150
	divergentBoundaryHoldTicksMax = 300
)

// divergentBoundary is a seed's draw of the variant (zero: none).
type divergentBoundary struct {
	on bool
	// after is r0's completion on a log file after the heal the first crash strikes at
	// (instead of crashAt, which counts every completion).
	after int
	// newSide: the damage (entry and record) lands on the lowest op with a new entry above
	// the highest stale entry left on disk at the crash; otherwise on that stale entry.
	newSide bool
	copyDamage
	// other: the other side's entry is damaged too (its body sector, its record kept).
	other bool
}

func (b divergentBoundary) String() string {
	side := "stale"
	if b.newSide {
		side = "new"
	}
	return fmt.Sprintf("boundary=log_io%d/%s:%s/other=%t", b.after, side, b.copyDamage, b.other)
}

// withDivergentBoundary draws the variant of p's seed from its own stream, every draw made
// whatever the earlier ones gave, and returns p with it. A boundary seed is far (the class
// lives where r0 installs a log whose headers begin above its stale suffix and repairs that
// suffix along the chain, top down, keeping it on disk meanwhile), with the primary's
// messages held, and without the held heartbeats of a seed just past the checkpoint. Seeds
// whose crash counts only checkpoint I/O (sync.checkpointCrash) keep that crash and take no
// boundary.
func withDivergentBoundary(seed uint64, p divergentParams) divergentParams {
	rng := sim.Stream(seed, "divergent_boundary")
	b := divergentBoundary{on: rng.IntN(4) == 0, after: 1 + rng.IntN(divergentBoundaryCrashMax)}
	b.newSide, b.kind, b.body = rng.IntN(2) == 0, damageCorrupt+damageKind(rng.IntN(2)), rng.IntN(2) == 0
	b.identity, b.other = true, rng.IntN(2) == 0
	farM := p.k + vsr.ViewHeadersMax + 1 + rng.IntN(divergentPastMax)
	hold := divergentBoundaryHoldTicksMin + rng.IntN(divergentBoundaryHoldTicksMax-divergentBoundaryHoldTicksMin+1)
	if !b.on || p.sync.checkpointCrash > 0 {
		return p
	}
	if !p.far {
		p.pastCheckpoint, p.far, p.m = true, true, farM
	}
	p.holdTicks, p.sync.pastHold, p.boundary = max(p.holdTicks, hold), 0, b
	return p
}

// aimBoundary replaces the drawn damage, once the boundary's crash struck in the repair, with damage at the
// boundary the disk holds: s, the highest op of a+1..a+k whose only intact entry is r0's own
// stale prepare, and the lowest op above it with another (new) entry. With no stale entry
// left, the lowest new one.
func (run *divergentRun) aimBoundary() {
	b := run.p.boundary
	if !b.on || !run.struck {
		return
	}
	s, above := 0, 0
	for op := run.p.a + run.p.k; op > run.p.a && s == 0; op-- {
		if e, ok := run.entryOf(op, false); ok && op < len(run.stale) && e.prepare == run.stale[op] {
			s = op
		}
	}
	for op := max(s, run.p.a) + 1; op <= run.p.top() && above == 0; op++ {
		if e, ok := run.entryOf(op, false); ok && (op >= len(run.stale) || e.prepare != run.stale[op]) {
			above = op
		}
	}
	stale := divergentDamage{op: s, stale: true, copyDamage: b.copyDamage}
	fresh := divergentDamage{op: above, copyDamage: b.copyDamage}
	target, other := fresh, stale
	if !b.newSide && s > 0 {
		target, other = stale, fresh
	}
	if target.op == 0 {
		run.counts["divergent_matrix.boundary.none_found"]++
		return
	}
	run.p.damage = []divergentDamage{target}
	if b.other && other.op > 0 {
		other.identity, other.body = false, true
		run.p.damage = append(run.p.damage, other)
	}
	side := "new"
	if target.stale {
		side = "stale"
	}
	run.counts["divergent_matrix.boundary.aimed"]++
	run.counts["divergent_matrix.boundary.aimed."+side]++
	run.note("boundary: highest stale entry on disk op %d, lowest new above it op %d: damage aimed at %s", s, above, target)
}
