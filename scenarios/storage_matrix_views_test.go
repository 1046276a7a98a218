package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The views matrix's expectation, by hand: the straggler's intact copy of H makes the
// placement recoverable, but only a replica of the new log view can name H.
func TestMatrixViewsExpectations(t *testing.T) {
	p := drawMatrixViews(10) // H's identity lost on both replicas of the new log view
	require.Equal(t, uint8(1<<2), p.views.stragglers)
	none := []downMode{{}, {}, {}}
	p.down = none
	require.True(t, p.recoverable(), "the straggler holds H intact")
	require.False(t, p.expectAvailable(), "nobody of the new log view can name H")
	p.damage[1][matrixOps-1].identity = false // R1's H damaged, its identity kept
	require.True(t, p.expectAvailable())
	p.down = []downMode{{}, {late: true, never: true}, {}}
	require.False(t, p.expectAvailable(), "the replica that names H never comes back")
	p.down = []downMode{{}, {late: true, delayTicks: 100}, {}}
	require.True(t, p.expectAvailable(), "it comes back late")
	p.down = []downMode{{}, {}, {late: true, never: true}}
	require.False(t, p.expectAvailable(), "the only intact copy of H never comes back")
	p.down = none
	p.damage[1][matrixOps-1].identity = true // nobody of the new log view names H again
	p.views.knows = p.views.stragglers
	require.True(t, p.expectAvailable(), "a straggler that knows H committed names it")

	lone := drawMatrixViews(29) // R1 alone in log view 1
	require.True(t, lone.views.lone)
	for r := range lone.damage {
		for op := range lone.damage[r] {
			lone.damage[r][op] = copyDamage{}
		}
	}
	lone.down = none
	require.True(t, lone.expectAvailable())
	lone.damage[viewsLone][1] = copyDamage{kind: damageLatent, identity: true}
	require.False(t, lone.expectAvailable(), "R1's log wins, and it cannot name op 2")
	lone.down = []downMode{{}, {late: true, never: true}, {}}
	require.True(t, lone.expectAvailable(), "without R1, R0 and R2 share log view 0 and name op 2")
}

// Seed 1: R1 (new log view) lost H's identity, R0 (new log view) holds H intact and starts
// 1.7 s late, R2 is the straggler with H's identity lost too. R1 and R2's do_view_changes
// make the view without R0's: the new primary has commit number H and no header for it, and
// must name H by offers before it starts the view (primaryNameCommitted). A primary that
// starts with H unnamed leaves a hole no replica can fill, even once R0 is back (mutant
// vsr.name_committed_stops_below_commit_max fails this seed: liveness).
func TestMatrixViewsSeed1NamesCommittedHead(t *testing.T) {
	s, ok := Lookup("storage_matrix_views")
	require.True(t, ok)
	r := s.Run(Options{Seed: 1})
	require.Equal(t, Pass, r.Outcome, r.Reason)
	require.Equal(t, uint64(1), r.Counters["matrix.views.split"])
	require.Zero(t, r.Counters["matrix.views.lone"])
	require.Equal(t, uint64(1), r.Counters["matrix.expect_available"])
	require.Equal(t, uint64(1), r.Counters["matrix.available"])
}

// Seed 93, the straggler that knows: R1 heard that H committed before it was cut off, and
// holds H intact; R0 and R2 (the new log view) lost H's identity, R0 starts 2 s late. R2 and
// R1's do_view_changes make the view: the chosen log (R2's) lacks H, and the merge takes R1's
// header of H, of an older log view but at its commit number. A merge that takes older log
// views' headers only below their senders' commit numbers leaves H unnamed, and the view
// waits (mutant vsr.merge_older_log_view_stops_below_commit fails this seed: liveness).
func TestMatrixViewsSeed93MergesAStragglersCommittedHead(t *testing.T) {
	p := drawMatrixViews(93)
	require.True(t, p.views.knowing(1))
	require.True(t, p.expectAvailable())
	r := runMatrix(Options{Seed: 93}, p, matrixKnobs{})
	require.Equal(t, Pass, r.Outcome, r.Reason)
	require.Equal(t, uint64(1), r.Counters["matrix.views.knows"])
	require.Equal(t, uint64(1), r.Counters["matrix.available"])
}

// Seed 29 is the lone shape: H never committed, R1 alone holds log view 1, R2 voted for it
// and stayed in log view 0. The setup reaches that state, and nothing committed is lost.
func TestMatrixViewsLoneShape(t *testing.T) {
	p := drawMatrixViews(29)
	require.True(t, p.views.lone)
	require.Equal(t, matrixOps-1, p.committedOps())
	r := runMatrix(Options{Seed: 29}, p, matrixKnobs{})
	require.Equal(t, Pass, r.Outcome, r.Reason)
	require.Equal(t, uint64(1), r.Counters["matrix.views.split"])
	require.Equal(t, uint64(1), r.Counters["matrix.views.lone"])
}

// Seed 10: H's identity is lost on both replicas of the new log view and intact only on the
// straggler. Its offer alone proves nothing (another prepare of H could have committed in
// log view 1 as far as anyone can tell), so the view waits: the placement is not expected to
// recover, and a judge that expects it must fail it (the liveness judge has teeth here).
func TestMatrixViewsJudgeFailsAnUnnamedHead(t *testing.T) {
	requireJudgeHasTeeth(t, 10, drawMatrixViews(10))
}

// requireJudgeHasTeeth: placement p of seed is not expected to recover and passes as drawn,
// and a judge told to expect every placement to recover fails it for liveness.
func requireJudgeHasTeeth(t *testing.T, seed uint64, p matrixParams) {
	t.Helper()
	require.False(t, p.expectAvailable())
	require.Equal(t, Pass, runMatrix(Options{Seed: seed}, p, matrixKnobs{}).Outcome)
	r := runMatrix(Options{Seed: seed}, p, matrixKnobs{expectEvery: true})
	require.Equal(t, Liveness, r.Outcome, r.Reason)
	require.Contains(t, r.Reason, "not recovered")
}
