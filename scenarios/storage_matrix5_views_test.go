package scenarios

import (
	"math/bits"
	"testing"

	"github.com/stretchr/testify/require"
)

// clearDamage leaves every copy of p intact and every replica running.
func clearDamage(p *matrixParams) {
	for r := range p.damage {
		for op := range p.damage[r] {
			p.damage[r][op] = copyDamage{}
		}
	}
	p.down = make([]downMode, p.replicas)
}

// lostIdentity damages replica r's copy of op past its record.
func lostIdentity(p *matrixParams, r, op int) {
	p.damage[r][op-1] = copyDamage{kind: damageLatent, identity: true}
}

// The five-replica expectation by hand, straggler shape: R3 does not know H committed, R4
// does; R0-R2 are the newest log view.
func TestMatrix5ViewsStragglerExpectations(t *testing.T) {
	p := drawMatrix5Views(25)
	require.Equal(t, uint8(1<<3|1<<4), p.views.stragglers)
	require.Equal(t, uint8(1<<4), p.views.knows)
	clearDamage(&p)
	require.True(t, p.expectAvailable())
	for r := range 3 {
		lostIdentity(&p, r, matrixOps)
	}
	require.True(t, p.expectAvailable(), "R4 knows H committed: the merge takes its header")
	lostIdentity(&p, 4, matrixOps)
	require.False(t, p.expectAvailable(), "R3's offer of H is one of the three a proof needs, and no one else names it")
	p.damage[4][matrixOps-1].identity = false // R4's copy damaged, its record intact
	require.True(t, p.expectAvailable(), "R4 names H, R3 holds it intact")
	p.down[4] = downMode{late: true, never: true}
	require.False(t, p.expectAvailable(), "the only replica that names H never comes back")

	clearDamage(&p)
	for r := range 3 {
		lostIdentity(&p, r, 2)
	}
	lostIdentity(&p, 4, 2)
	require.True(t, p.expectAvailable(), "R3's durable commit is H-1: the merge takes its header of op 2")
	p.views.wide = false
	require.False(t, p.expectAvailable(), "storage_matrix_views's narrower expectation counts no straggler that does not know")
}

// The lone shape by hand: R1 alone in log view 1, H never committed.
func TestMatrix5ViewsLoneExpectations(t *testing.T) {
	p := drawMatrix5Views(7)
	require.True(t, p.views.lone)
	require.Equal(t, matrixOps-1, p.committedOps())
	clearDamage(&p)
	require.True(t, p.expectAvailable())
	lostIdentity(&p, viewsLone, matrixOps)
	require.True(t, p.expectAvailable(), "R0, R2-R4 offer H: three offers name it")
	lostIdentity(&p, 0, matrixOps)
	lostIdentity(&p, 2, matrixOps)
	require.False(t, p.expectAvailable(), "two offers of H prove nothing, and R1's log wins while it runs")
	p.down[viewsLone] = downMode{late: true, never: true}
	require.True(t, p.expectAvailable(), "without R1, log view 0 names H (R3, R4)")

	clearDamage(&p)
	for r := 1; r < p.replicas; r++ {
		lostIdentity(&p, r, 2)
	}
	require.False(t, p.expectAvailable(), "R0, cut off as view 0's primary, never persisted commit 3: it names no op by the merge")
	p.damage[3][1].identity = false
	require.True(t, p.expectAvailable(), "R3's durable commit 3 names op 2")
}

// Seed 47: R1 (does not know) and R3 (knows, starts 2.6 s late) are the stragglers; R0, R2
// and R4 of the newest log view all lost H's identity. Until R3 is back, the primary has
// commit number H from the newest log view and no header for it, and must wait for a name
// (primaryNameCommitted): mutant vsr.name_committed_stops_below_commit_max starts the view
// with H a hole and fails this seed. Seed 224: R2 knows and holds H damaged (its record
// intact), R3 does not know and holds it intact, R0, R1, R4 lost its identity: only the
// merge of R2's header (older log view, at its commit number) names H, and mutant
// vsr.merge_older_log_view_stops_below_commit fails it.
func TestMatrix5ViewsStragglersNameH(t *testing.T) {
	for _, seed := range []uint64{47, 224} {
		p := drawMatrix5Views(seed)
		require.True(t, p.expectAvailable(), "seed %d", seed)
		require.Equal(t, 2, bits.OnesCount8(p.views.stragglers))
		r := runMatrix5Views(Options{Seed: seed})
		require.Equal(t, Pass, r.Outcome, "seed %d: %s", seed, r.Reason)
		require.Equal(t, uint64(1), r.Counters["matrix.views.split"])
		require.Equal(t, uint64(1), r.Counters["matrix.views.knows"])
		require.Equal(t, uint64(1), r.Counters["matrix.available"])
		require.Equal(t, uint64(1), r.Counters["matrix.views.shape.two_one_knows.available"])
	}
}

// Seed 7, the lone shape: R1 lost H's identity, and R2-R4 offer it (three: n - quorum + 1).
// The setup reaches the shape (R1 alone in log view 1, durably), and H is named and the
// cluster recovers.
func TestMatrix5ViewsLoneNamedByOffers(t *testing.T) {
	p := drawMatrix5Views(7)
	require.True(t, p.damage[viewsLone][matrixOps-1].identity)
	require.True(t, p.expectAvailable())
	r := runMatrix5Views(Options{Seed: 7})
	require.Equal(t, Pass, r.Outcome, r.Reason)
	require.Equal(t, uint64(1), r.Counters["matrix.views.split"])
	require.Equal(t, uint64(1), r.Counters["matrix.views.lone"])
	require.Equal(t, uint64(1), r.Counters["matrix.available"])
}

// Seed 4 (lone) is not expected to recover, and does not: a judge that expects it must fail
// it.
func TestMatrix5ViewsJudgeHasTeeth(t *testing.T) {
	requireJudgeHasTeeth(t, 4, drawMatrix5Views(4))
}
