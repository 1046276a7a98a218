package scenarios

import (
	"fmt"
	"math/rand/v2"

	"vopr/cluster/vsr"
	"vopr/sim"
)

// The placements of divergent_matrix: how many ops each side writes, where the old primary's
// repair is cut by a crash and which of its entries are damaged then. divergent_matrix.go
// runs them.

const (
	// divergentSetupOpsMax bounds the ops committed everywhere before the divergence (the
	// register included).
	divergentSetupOpsMax = 4
	// divergentOpsMax bounds the old primary's own ops, and so its divergent clients.
	divergentOpsMax = 4
	// divergentMoreMax is how many more ops than the old primary's the others may commit.
	divergentMoreMax = 4
	// divergentPastMax spreads the others' head past the first checkpoint (op 64) over
	// 65..64+divergentPastMax, or past r0's window of headers over as many ops: enough to
	// reach it, cheap to commit.
	divergentPastMax = 8
	// The held heartbeats of a far seed last divergentHoldTicksMin..divergentHoldTicksMax
	// (0.5-3 s: some repair rounds, or the whole repair).
	divergentHoldTicksMin = 50
	divergentHoldTicksMax = 300
	// divergentCrashIOMax bounds which of the old primary's I/O completions after the heal
	// the crash strikes at: its repair of a few ops takes about that many.
	divergentCrashIOMax = 40
)

// divergentDamage is one damaged sector of the old primary's disk, drawn before the run: the
// entries it may land on are known only at the crash.
type divergentDamage struct {
	// op is the op whose entry is damaged; if the disk holds no entry of it at the crash,
	// the next op above that has one (wrapping to the lowest of the range).
	op int
	// stale prefers the old primary's own (divergent) prepare of op when the disk holds
	// both it and another; otherwise the newest other.
	stale bool
	copyDamage
}

func (d divergentDamage) String() string {
	version := "new"
	if d.stale {
		version = "stale"
	}
	return fmt.Sprintf("op%d/%s:%s", d.op, version, d.copyDamage)
}

// divergentParams is one seed's episode.
//
// Invariants: 1 <= a <= divergentSetupOpsMax; 1 <= k <= divergentOpsMax; m >= k, a+m >
// vsr.CheckpointInterval iff pastCheckpoint, m > k+vsr.ViewHeadersMax iff far (far implies
// pastCheckpoint); 1 <= crashAt <= divergentCrashIOMax; every
// damage's op is in a+1..a+max(k,m); secondCrash is 0 (none), 1 or 2.
type divergentParams struct {
	a, k, m int // ops committed everywhere, the old primary's own, the others' after it
	// pastCheckpoint: the others' head is past op 64, the first checkpoint (a quarter of the
	// seeds just past it, 65..72). far: past it by more than a start_view's window of
	// headers (vsr.ViewHeadersMax) above r0's head (another quarter): r0 installs a log whose
	// headers begin above its stale suffix, keeps that suffix on disk unverified and repairs
	// it along the hash chain, top down (the swarm's far divergent episode).
	pastCheckpoint, far bool
	// holdTicks (half the far seeds, 0 otherwise): once r0 has installed the newer log, the
	// primary's messages to it are held that long (a clog), so its heartbeats, whose
	// checkpoint would send r0 to state sync at once, come late, and r0 repairs its stale
	// suffix along the chain from the other backup first.
	holdTicks   int
	crashAt     int // the old primary's I/O completion after the heal it crashes at
	damage      []divergentDamage
	secondCrash int // the completion after its restart it crashes at again; 0 for none
	// sync: the checkpoint variants (divergent_matrix_sync.go), drawn from their own stream.
	sync divergentSync
	// boundary: the boundary variant (divergent_boundary.go), drawn from its own stream.
	boundary divergentBoundary
	// lead: the lead variant (divergent_lead.go), drawn from its own stream: r0 comes back
	// as the primary of a view change.
	lead bool
}

// top is the highest op of the two versions: the damage's range ends there.
func (p divergentParams) top() int { return p.a + max(p.k, p.m) }

func (p divergentParams) String() string {
	var damage []string
	for _, d := range p.damage {
		damage = append(damage, d.String())
	}
	second := "none"
	if p.secondCrash > 0 {
		second = fmt.Sprintf("io%d", p.secondCrash)
	}
	s := fmt.Sprintf("a=%d crash_at=io%d damage=%s far=%t hold=%s k=%d m=%d past_checkpoint=%t second_crash=%s %s",
		p.a, p.crashAt, listOrNone(damage), p.far, sim.Duration(p.holdTicks)*sim.TickInterval, p.k, p.m, p.pastCheckpoint,
		second, p.sync)
	if p.boundary.on {
		s += " " + p.boundary.String()
	}
	if p.lead {
		s += " lead=true"
	}
	return s
}

// drawDivergent is the episode of seed: every draw is made, in a fixed order, whatever the
// earlier ones gave, so that one knob's draw never shifts another's.
func drawDivergent(seed uint64) divergentParams {
	rng := sim.Stream(seed, "divergent_matrix")
	p := divergentParams{a: 1 + rng.IntN(divergentSetupOpsMax), k: 1 + rng.IntN(divergentOpsMax)}
	p.m = p.k + rng.IntN(divergentMoreMax+1)
	reach := rng.IntN(4)
	pastM, farM := vsr.CheckpointInterval+1-p.a+rng.IntN(divergentPastMax), p.k+vsr.ViewHeadersMax+1+rng.IntN(divergentPastMax)
	hold := divergentHoldTicksMin + rng.IntN(divergentHoldTicksMax-divergentHoldTicksMin+1)
	if rng.IntN(2) == 0 && reach == 1 {
		p.holdTicks = hold
	}
	switch reach {
	case 0:
		p.pastCheckpoint, p.m = true, pastM
	case 1:
		p.pastCheckpoint, p.far, p.m = true, true, farM
	}
	p.crashAt = 1 + rng.IntN(divergentCrashIOMax)
	damaged, count := rng.IntN(2) == 0, 1+rng.IntN(2)
	for i := range 2 {
		d := drawDivergentDamage(rng, p)
		if damaged && i < count {
			p.damage = append(p.damage, d)
		}
	}
	if second := 1 + rng.IntN(2); rng.IntN(4) == 0 {
		p.secondCrash = second
	}
	p.sync = drawDivergentSync(seed, p)
	return withDivergentLead(seed, withDivergentBoundary(seed, p))
}

// drawDivergentDamage draws one damaged sector: half of them among the old primary's own ops
// and the one above (where its stale entries and the repair's first rewrites lie, which a
// uniform draw over a range past the checkpoint would rarely reach), the others anywhere in
// a+1..top; a quarter with their record (identity lost), as storage_matrix's.
func drawDivergentDamage(rng *rand.Rand, p divergentParams) divergentDamage {
	near, anywhere := p.a+1+rng.IntN(p.k+1), p.a+1+rng.IntN(p.top()-p.a)
	d := divergentDamage{op: anywhere, stale: rng.IntN(2) == 0}
	if rng.IntN(2) == 0 {
		d.op = min(near, p.top())
	}
	d.kind, d.body, d.identity = damageCorrupt+damageKind(rng.IntN(2)), rng.IntN(2) == 0, rng.IntN(4) == 0
	return d
}
