package scenarios

import (
	"fmt"

	"vopr/sim"
)

// storage_matrix5_forgotten is storage_matrix5_views's lone shape aimed at one corner of PAR:
// the offer of a replica whose log install forgot a faulty entry of known identity.
//
// R1 is alone in log view 1 (the lone shape: H never committed, R0 cut off, R1 elected by
// R2-R4 and its start_view lost) and lost H's identity (entry and record damaged): its log,
// which wins every view change it joins, has no header for H. Of log view 0, exactly
// n - quorum + 1 = 3 replicas know which prepare of H they hold: one intact, two damaged
// with their records intact (faulty, of known identity: no body); the fourth lost H's
// identity too. Nobody can deny H (every replica holds it), so H is named only by three
// agreeing offers, every one of them needed.
//
// The intact replica starts late (2 to 3 s). Meanwhile nobody running holds H's body, so the
// two faulty replicas cannot repair it by checksum, and as primaries of the view changes
// that time out they install R1's log, which forgets H in memory (forgetGaps: log.forget
// keeps the identity their records gave, and the faulty mark). Once the intact replica is
// back, the view change completes only if they offer the identity of an entry their log
// forgot (heldIdentity); a replica that withholds it (mutant
// vsr.held_identity_drops_forgotten_faulty) leaves two offers, one short of a proof, and the
// cluster waits for ever.
//
// Ops 1..3 are damaged as storage_matrix5_views draws them (from this scenario's own
// stream): the judge (viewsExpectAvailable, which counts H's three offers) expects the
// placement to recover whenever they are recoverable, and every placement is held to the
// safety judge. storage_matrix5_views reaches the corner when its draws line up (3 of its
// first 300 seeds); this scenario aims at it in every seed.
func init() {
	register(Scenario{
		Name:    "storage_matrix5_forgotten",
		Runbook: "none (PAR targeted corruption)",
		Summary: "PAR's 5-replica lone shape (R1 alone in the newer log view, H lost there) with H's identity held by exactly three replicas of log view 0: one intact that starts late, two faulty with their records, whose log installs forget H meanwhile; a view change must count the offers of faulty entries its replicas' logs forgot; placements whose ops 1..3 are recoverable must recover",
		Params:  func(seed uint64) string { return drawMatrix5Forgotten(seed).String() },
		Run:     runMatrix5Forgotten,
	})
}

// runMatrix5Forgotten runs seed's placement; a failure names the corner.
func runMatrix5Forgotten(o Options) Result {
	p := drawMatrix5Forgotten(o.Seed)
	r := runMatrix(o, p, matrixKnobs{})
	if r.Outcome != Pass {
		r.Reason = "forgotten identity (H named by exactly three offers of log view 0, two of them from faulty entries of known identity " +
			"that the offering replicas' log installs forgot while the intact copy was down): " + r.Reason
	}
	shape := "matrix.views.shape.lone_forgotten"
	r.Counters[shape] = 1
	r.Counters[shape+".expect_available"] = r.Counters["matrix.expect_available"]
	r.Counters[shape+".available"] = r.Counters["matrix.available"]
	r.Counters[shape+"."+r.Outcome.String()] = 1
	return r
}

// drawMatrix5Forgotten is seed k's placement: storage_matrix5_views's, from this scenario's
// own stream, turned into the lone shape with H's damage and the late replica set as above.
func drawMatrix5Forgotten(seed uint64) matrixParams {
	rng := sim.Stream(seed, "storage_matrix5_forgotten")
	p := drawMatrix5ViewsFrom(rng, "storage_matrix5_forgotten")
	p.views = &viewSplit{wide: true, lone: true, forgotten: true}
	h := matrixOps - 1
	damaged := func(identity bool) copyDamage {
		return copyDamage{kind: damageCorrupt + damageKind(rng.IntN(2)), body: rng.IntN(2) == 0, identity: identity}
	}
	p.damage[viewsLone][h] = damaged(true)
	var others []int
	for r := range p.replicas {
		if r != viewsLone {
			others = append(others, r)
		}
	}
	order := rng.Perm(len(others))
	for i, j := range order {
		switch r := others[j]; i {
		case 0: // the intact copy
			p.damage[r][h] = copyDamage{}
		case 1, 2: // faulty, of known identity
			p.damage[r][h] = damaged(false)
		default: // identity lost past its record, as on R1
			p.damage[r][h] = damaged(true)
		}
	}
	p.down = make([]downMode, p.replicas)
	p.down[others[order[0]]] = downMode{late: true, delayTicks: 200 + rng.IntN(101)}
	p.placement = 0
	for r := range p.replicas {
		for op := 1; op <= matrixOps; op++ {
			if p.damage[r][op-1].kind != damageNone {
				p.placement |= 1 << (r*matrixOps + op - 1)
			}
		}
	}
	return p
}

// forgottenString is the viewSplit's part of Params for this scenario.
func forgottenString() string { return fmt.Sprintf(" lone=R%d forgotten", viewsLone) }
