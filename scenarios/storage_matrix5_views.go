package scenarios

import (
	"math/bits"
	"math/rand/v2"

	"vopr/sim"
)

// storage_matrix5_views is storage_matrix_views with five replicas (quorum 3, so n - quorum
// + 1 = 3 offers name an op no do_view_change names). The log-view states are richer:
//
//   - one straggler (a third of the seeds) or two (a third) among R1-R4, each knowing or not
//     (half each) that H committed, while the other four or three (R0 restarted among them)
//     start a view without them: two stragglers that do not know are n - quorum replicas
//     holding H, as many as can miss a commit, and their offers of H are one short of a
//     proof;
//   - the lone shape (a third): H never commits, R0 is cut off, R1 is elected for view 1 by
//     a quorum of R2-R4 and none of them hears its start_view: R1 alone holds log view 1.
//
// The damage is drawn over the five replicas as drawMatrix5 draws it (each op keeps 0, 1 or
// more intact copies, around the recoverable boundary), with H's identity lost more often,
// and in half the seeds on most copies of the newest log view (then all of them lose it in
// six seeds of ten); the replicas down as storage_matrix's. Every copy exists (no replica
// lags behind H): a replica that denies H would change what offers prove, and the judge's
// expectation stays the one viewSplit.names derives (viewsExpectAvailable).
func init() {
	register(Scenario{
		Name:    "storage_matrix5_views",
		Runbook: "none (PAR targeted corruption)",
		Summary: "PAR's matrix with 5 replicas and log views apart: one or two stragglers hold the last op (each knowing it committed or not) while the other three or four start a view without them, or the last op never commits and R1 alone holds the newer log view; copies damaged around the recoverable boundary (identity lost often on the last op), everything restarts; no committed op may be lost, and placements the newest log view can name must recover",
		Params:  func(seed uint64) string { return drawMatrix5Views(seed).String() },
		Run:     runMatrix5Views,
	})
}

// runMatrix5Views runs seed's placement and counts its shape: matrix.views.shape.<shape>,
// with .expect_available and .available under it.
func runMatrix5Views(o Options) Result {
	p := drawMatrix5Views(o.Seed)
	r := runMatrix(o, p, matrixKnobs{})
	shape := "matrix.views.shape." + p.views.shape()
	r.Counters[shape] = 1
	r.Counters[shape+".expect_available"] = r.Counters["matrix.expect_available"]
	r.Counters[shape+".available"] = r.Counters["matrix.available"]
	r.Counters[shape+"."+r.Outcome.String()] = 1
	return r
}

// shape names the placement's log-view shape: lone, or the stragglers (1 or 2) and how many
// of them know H committed.
func (v *viewSplit) shape() string {
	if v.lone {
		return "lone"
	}
	names := [3][3]string{{}, {"one", "one_knows"}, {"two", "two_one_knows", "two_both_know"}}
	return names[bits.OnesCount8(v.stragglers)][bits.OnesCount8(v.knows)]
}

// drawMatrix5Views is seed k's placement of storage_matrix5_views, from its own stream.
func drawMatrix5Views(seed uint64) matrixParams {
	return drawMatrix5ViewsFrom(sim.Stream(seed, "storage_matrix5_views"), "storage_matrix5_views")
}

// drawMatrix5ViewsFrom draws a placement of storage_matrix5_views from rng, for the scenario
// named (storage_matrix5_forgotten draws its base placement from its own stream).
func drawMatrix5ViewsFrom(rng *rand.Rand, name string) matrixParams {
	const replicas = 5
	p := matrixParams{name: name, replicas: replicas, heads: make([]int, replicas)}
	for r := range p.heads {
		p.heads[r] = matrixOps
	}
	v := &viewSplit{wide: true}
	switch rng.IntN(3) {
	case 0:
		v.lone = true
	default:
		count := 1 + rng.IntN(2)
		for _, i := range rng.Perm(replicas - 1)[:count] {
			v.stragglers |= 1 << uint(i+1)
			if rng.IntN(2) == 0 {
				v.knows |= 1 << uint(i+1)
			}
		}
	}
	p.views = v
	p.damage = drawDamageKinds(rng, replicas)
	for op := 1; op <= matrixOps; op++ { // drawMatrix5's intact copies, every replica a holder
		intact := [8]int{0, 1, 1, 1, 1, 1, 2, 2}[rng.IntN(8)]
		if intact == 2 {
			intact += rng.IntN(replicas - 1)
		}
		for i, r := range rng.Perm(replicas) {
			if i < intact {
				p.damage[r][op-1].kind = damageNone
			}
		}
	}
	p.down = drawDown(rng, replicas)
	drawIdentityLoss(rng, p.damage)
	for r := range replicas { // H's identity: half the time it is damaged
		d := &p.damage[r][matrixOps-1]
		d.identity = d.kind != damageNone && (d.identity || rng.IntN(3) == 0)
	}
	corner := rng.IntN(2) == 0
	for r := range replicas {
		// The corner the shapes are for, in half the seeds: the newest log view lost H's
		// identity (each of its replicas' copies, seven times in eight: with three or four
		// of them, all lose it about as often as storage_matrix_views's two, three times in
		// four each), so that a new primary must name H from elsewhere or wait.
		lost := rng.IntN(8) != 0
		kind := damageCorrupt + damageKind(rng.IntN(2))
		if !corner || !v.newest(r) || !lost {
			continue
		}
		d := &p.damage[r][matrixOps-1]
		if d.kind == damageNone {
			d.kind = kind
		}
		d.identity = true
	}
	for r := range replicas {
		for op := 1; op <= matrixOps; op++ {
			if p.damage[r][op-1].kind != damageNone {
				p.placement |= 1 << (r*matrixOps + op - 1)
			}
		}
	}
	return p
}
