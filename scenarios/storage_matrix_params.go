package scenarios

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"vopr/sim"
)

// The placements of the storage_matrix scenarios: which copies of the committed ops are
// damaged and how, which replicas lag and which stay down. storage_matrix.go runs them.

// matrixOps is how many ops are committed before the damage: a register and three puts.
const matrixOps = 4

// matrixPlacements3 is the number of placements of the 3-replica matrix: each of the
// 3 x matrixOps copies intact or damaged.
const matrixPlacements3 = 1 << (3 * matrixOps)

// damageKind is what the harness does to a copy of an op.
type damageKind uint8

const (
	damageNone    damageKind = iota
	damageCorrupt            // a bit flipped in a sector (sim.Disk.CorruptSector)
	damageLatent             // a sector that cannot be read (sim.Disk.LatentSectorError)
)

// copyDamage is the damage drawn for one (replica, op) copy.
type copyDamage struct {
	kind damageKind
	// body: the entry's last sector rather than its first (the one with the entry header).
	// An entry of one sector (the register op) has no other: both land on it.
	body bool
	// identity: the entry's redundant record is damaged too (the same kind of damage), so
	// recovery knows the op existed but not which prepare it held (PAR's identity loss).
	identity bool
}

func (d copyDamage) String() string {
	kind, where := "corrupt", "hdr"
	if d.kind == damageLatent {
		kind = "latent"
	}
	if d.body {
		where = "body"
	}
	if d.identity {
		where += "+record"
	}
	return kind + "@" + where
}

// downMode is when a replica starts again after the damage.
type downMode struct {
	late       bool // it starts delayTicks after the others
	never      bool // it never starts again
	delayTicks int
}

// matrixParams is one seed's placement.
//
// Invariants: len(heads) == len(damage) == len(down) == replicas; heads[r] <= matrixOps, and
// at least a quorum of replicas have every op (a lagging replica never holds the primary's
// place in the set that committed them); damage[r][op-1] is damageNone for op > heads[r].
type matrixParams struct {
	name     string
	replicas int
	// placement names the placement: the damage bitmask of the 3-replica matrix (seed-1
	// modulo matrixPlacements3), or the 5-replica matrix's mask over its copies.
	placement uint64
	heads     []int          // the ops each replica received: matrixOps, or fewer if it lags
	damage    [][]copyDamage // [replica][op-1]
	down      []downMode
	views     *viewSplit // storage_matrix_views: the log views apart; nil otherwise
}

func (p matrixParams) quorum() int { return p.replicas/2 + 1 }

// committedOps is the number of ops committed before the damage: every op, but for
// storage_matrix_views's lone shape, whose last op never commits before it.
func (p matrixParams) committedOps() int {
	if p.views != nil && p.views.lone {
		return matrixOps - 1
	}
	return matrixOps
}

// intact reports whether replica r holds an undamaged copy of op.
func (p matrixParams) intact(r, op int) bool {
	return op <= p.heads[r] && p.damage[r][op-1].kind == damageNone
}

// recoverable: every op keeps an intact copy on some replica (PAR's condition for a
// cluster that can recover every committed op).
func (p matrixParams) recoverable() bool { return p.intactOn(func(int) bool { return true }) }

// expectAvailable: the replicas that eventually run are a quorum and hold an intact copy of
// every op between them; only then must the cluster recover every op and take new writes.
func (p matrixParams) expectAvailable() bool {
	if p.views != nil {
		return p.viewsExpectAvailable()
	}
	running := 0
	for r := range p.replicas {
		if !p.down[r].never {
			running++
		}
	}
	return running >= p.quorum() && p.intactOn(func(r int) bool { return !p.down[r].never })
}

func (p matrixParams) intactOn(on func(r int) bool) bool {
	for op := 1; op <= p.committedOps(); op++ {
		found := false
		for r := range p.replicas {
			found = found || (on(r) && p.intact(r, op))
		}
		if !found {
			return false
		}
	}
	return true
}

// damagedCopies counts the damaged copies.
func (p matrixParams) damagedCopies() int {
	n := 0
	for r := range p.replicas {
		for op := 1; op <= p.heads[r]; op++ {
			if p.damage[r][op-1].kind != damageNone {
				n++
			}
		}
	}
	return n
}

func (p matrixParams) class() string {
	if p.recoverable() {
		return "recoverable"
	}
	return "unrecoverable"
}

func (p matrixParams) String() string {
	var damaged, lag, down []string
	for r := range p.replicas {
		if p.heads[r] < matrixOps {
			lag = append(lag, fmt.Sprintf("R%d:head=%d", r, p.heads[r]))
		}
		for op := 1; op <= p.heads[r]; op++ {
			if d := p.damage[r][op-1]; d.kind != damageNone {
				damaged = append(damaged, fmt.Sprintf("R%d/op%d:%s", r, op, d))
			}
		}
		switch d := p.down[r]; {
		case d.never:
			down = append(down, fmt.Sprintf("R%d:never", r))
		case d.late:
			down = append(down, fmt.Sprintf("R%d+%s", r, sim.Duration(d.delayTicks)*sim.TickInterval))
		}
	}
	expect := "unavailable"
	if p.expectAvailable() {
		expect = "available"
	}
	return fmt.Sprintf("class=%s damaged=%s down=%s expect=%s lagging=%s placement=%#x replicas=%d%s",
		p.class(), listOrNone(damaged), listOrNone(down), expect, listOrNone(lag), p.placement, p.replicas, p.views)
}

func listOrNone(items []string) string {
	if len(items) == 0 {
		return "none"
	}
	return strings.Join(items, ",")
}

// drawMatrix3 is the placement of seed k of the 3-replica matrix: bit i of (k-1) modulo
// matrixPlacements3 damages op i%matrixOps+1 of replica i/matrixOps, so seeds 1..4096 are
// every placement once. The kind of each damage and the replicas that stay down come from
// the seed's stream (seeds above 4096 repeat the placements with other draws).
func drawMatrix3(seed uint64) matrixParams {
	const replicas = 3
	rng := sim.Stream(seed, "storage_matrix")
	p := matrixParams{name: "storage_matrix", replicas: replicas, placement: (seed - 1) % matrixPlacements3}
	p.drawPlacement3(rng)
	return p
}

// drawPlacement3 draws what a 3-replica placement does with the copies p.placement's bits
// damage: every replica holds every op, the damage kinds, the replicas down and the identity
// losses, in that order (storage_matrix's seeds draw as they always did).
func (p *matrixParams) drawPlacement3(rng *rand.Rand) {
	p.heads = []int{matrixOps, matrixOps, matrixOps}
	p.damage = drawDamageKinds(rng, p.replicas)
	for i := range p.replicas * matrixOps {
		if p.placement&(1<<i) == 0 {
			p.damage[i/matrixOps][i%matrixOps].kind = damageNone
		}
	}
	p.down = drawDown(rng, p.replicas)
	drawIdentityLoss(rng, p.damage)
}

// drawIdentityLoss takes the identity of about one damaged copy in four: its record is
// damaged too. It draws for every copy, after every other draw of the placement, so the
// placements of earlier versions keep their damage, kinds and replicas down.
func drawIdentityLoss(rng *rand.Rand, damage [][]copyDamage) {
	for r := range damage {
		for op := range damage[r] {
			lost := rng.IntN(4) == 0
			damage[r][op].identity = lost && damage[r][op].kind != damageNone
		}
	}
}

// drawDamageKinds draws the damage of every copy (all of them, whether damaged or not, so
// that a copy's draw never depends on the others).
func drawDamageKinds(rng *rand.Rand, replicas int) [][]copyDamage {
	damage := make([][]copyDamage, replicas)
	for r := range damage {
		damage[r] = make([]copyDamage, matrixOps)
		for op := range damage[r] {
			damage[r][op] = copyDamage{kind: damageCorrupt + damageKind(rng.IntN(2)), body: rng.IntN(2) == 0}
		}
	}
	return damage
}

// drawDown picks the replicas that stay down while the others recover: none (1/2), one
// (3/8) or two (1/8), each starting 0.5-3 s after the others; the first of them never starts
// again with probability 1/4.
func drawDown(rng *rand.Rand, replicas int) []downMode {
	down := make([]downMode, replicas)
	count := [8]int{0, 0, 0, 0, 1, 1, 1, 2}[rng.IntN(8)]
	never := rng.IntN(4) == 0
	for i, r := range rng.Perm(replicas)[:count] {
		down[r] = downMode{late: true, delayTicks: 50 + rng.IntN(251), never: never && i == 0}
	}
	return down
}

// drawMatrix5 is a placement of the 5-replica matrix, sampled (there are
// matrix5Placements(), far too many to enumerate): none (1/4), one (1/4) or two (1/2) of
// replicas 1-4 lag, having received only ops 1..h, h in 0..3 (replica 0, the primary that prepares
// the ops, never lags; a quorum always has every op). Then each op keeps 0 (1/8), 1 (5/8) or
// 2 or more (1/4) intact copies among the replicas that have it, the others damaged: a
// single intact copy, next to damaged and lagging ones, is where protocol-aware recovery
// goes wrong. About 60% of the placements drawn are recoverable.
func drawMatrix5(seed uint64) matrixParams {
	const replicas = 5
	rng := sim.Stream(seed, "storage_matrix5")
	p := matrixParams{name: "storage_matrix5", replicas: replicas, heads: make([]int, replicas)}
	for r := range p.heads {
		p.heads[r] = matrixOps
	}
	lagging := [4]int{0, 1, 2, 2}[rng.IntN(4)]
	for _, i := range rng.Perm(replicas - 1)[:lagging] {
		p.heads[i+1] = rng.IntN(matrixOps)
	}
	p.damage = drawDamageKinds(rng, replicas)
	for op := 1; op <= matrixOps; op++ {
		var holders []int
		for r := range replicas {
			if p.heads[r] >= op {
				holders = append(holders, r)
			} else {
				p.damage[r][op-1].kind = damageNone // no copy to damage
			}
		}
		intact := [8]int{0, 1, 1, 1, 1, 1, 2, 2}[rng.IntN(8)]
		if intact == 2 {
			intact += rng.IntN(len(holders) - 1)
		}
		for i, h := range rng.Perm(len(holders)) {
			if i < intact {
				p.damage[holders[h]][op-1].kind = damageNone
			}
		}
	}
	for r := range replicas {
		for op := 1; op <= p.heads[r]; op++ {
			if p.damage[r][op-1].kind != damageNone {
				p.placement |= 1 << (r*matrixOps + op - 1)
			}
		}
	}
	p.down = drawDown(rng, replicas)
	drawIdentityLoss(rng, p.damage)
	return p
}

// matrix5Placements counts the placements of the 5-replica matrix: for every set of at most
// two lagging replicas among replicas 1-4 and every head 0..3 of each, every copy that
// exists intact or damaged.
func matrix5Placements() uint64 {
	total := uint64(0)
	for mask := 0; mask < 1<<4; mask++ { // the lagging replicas among 1-4
		lagging := 0
		for i := range 4 {
			lagging += mask >> i & 1
		}
		if lagging > 2 {
			continue
		}
		for heads := 0; heads < 1<<(2*lagging); heads++ { // 2 bits of head per lagging replica
			copies := 5 * matrixOps
			for i := range lagging {
				copies -= matrixOps - (heads >> (2 * i) & 3)
			}
			total += 1 << copies
		}
	}
	return total
}
