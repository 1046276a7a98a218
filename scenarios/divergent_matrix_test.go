package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
)

// divergentSeedsTested is how many seeds the tests run (about 300 a second).
const divergentSeedsTested = 300

// Every seed draws an episode within its bounds, and a few thousand seeds draw each reach
// (near, just past the checkpoint, far), damage of both versions' ops and the second crash.
func TestDivergentMatrixDraws(t *testing.T) {
	far, past, damaged, second := 0, 0, 0, 0
	for seed := uint64(1); seed <= 2000; seed++ {
		p := drawDivergent(seed)
		require.Equal(t, p, drawDivergent(seed), "seed %d draws the same episode twice", seed)
		require.True(t, p.a >= 1 && p.a <= divergentSetupOpsMax && p.k >= 1 && p.k <= divergentOpsMax && p.m >= p.k, "seed %d: %s", seed, p)
		require.Equal(t, p.pastCheckpoint, p.a+p.m > vsr.CheckpointInterval, "seed %d: %s", seed, p)
		require.Equal(t, p.far, p.m > p.k+vsr.ViewHeadersMax, "seed %d: %s", seed, p)
		require.True(t, p.crashAt >= 1 && p.crashAt <= divergentCrashIOMax && p.secondCrash <= 2, "seed %d: %s", seed, p)
		require.LessOrEqual(t, len(p.damage), 2)
		for _, d := range p.damage {
			require.True(t, d.op > p.a && d.op <= p.top() && d.kind != damageNone, "seed %d: %s", seed, p)
		}
		far, past = far+boolInt(p.far), past+boolInt(p.pastCheckpoint && !p.far)
		damaged, second = damaged+boolInt(len(p.damage) > 0), second+boolInt(p.secondCrash > 0)
	}
	for name, n := range map[string]int{"far": far, "past": past, "damaged": damaged, "second": second} {
		require.Greater(t, n, 300, "%s drawn in %d of 2000 seeds", name, n)
	}
}

// Seeds 1..divergentSeedsTested pass, and between them they reach every path the scenario
// is for: a crash inside the repair and one after it, damage on r0's stale entries and on
// the repair's new ones, the second crash, both reaches past the checkpoint, and r0's log
// truncated as it installs the newer log.
func TestDivergentMatrixSeedsPass(t *testing.T) {
	s, ok := Lookup("divergent_matrix")
	require.True(t, ok)
	reached := map[string]uint64{}
	for seed := uint64(1); seed <= divergentSeedsTested; seed++ {
		r := s.Run(Options{Seed: seed})
		require.Equal(t, Pass, r.Outcome, "seed %d (%s): %s", seed, r.Params, r.Reason)
		for _, name := range divergentReached {
			reached[name] += r.Counters["divergent_matrix."+name]
		}
	}
	for _, name := range divergentReached {
		if name != "damage.none_found" && name != "state_syncs" && name != "rot.not_ready" && name != "rot.installs.own" {
			require.Positive(t, reached[name], "no seed reached divergent_matrix.%s", name)
		}
	}
}

// divergentOwnCheckpointSeeds are seeds whose r0 takes its own checkpoint (not a state
// sync's) before a rot strikes it. Most seeds that reached it once did so because r0,
// restarted into a view change of a view that already ran, ignored its primary's
// heartbeats and forced an election it then led (fixed in the twenty-eighth session); it
// now joins the running view and state-syncs, and one seed in five hundred takes its own.
var divergentOwnCheckpointSeeds = []uint64{1075, 1204, 1482}

func TestDivergentMatrixRotsAnOwnCheckpoint(t *testing.T) {
	s, ok := Lookup("divergent_matrix")
	require.True(t, ok)
	for _, seed := range divergentOwnCheckpointSeeds {
		r := s.Run(Options{Seed: seed})
		require.Equal(t, Pass, r.Outcome, "seed %d (%s): %s", seed, r.Params, r.Reason)
		require.Positive(t, r.Counters["divergent_matrix.rot.installs.own"], "seed %d: r0 took no checkpoint of its own", seed)
	}
}

// The same seed gives the same trace, crash, damage and all.
func TestDivergentMatrixDeterministic(t *testing.T) {
	s, _ := Lookup("divergent_matrix")
	for _, seed := range []uint64{1, 3, 54} { // 54: far, held, r0 crashed in its repair
		require.Nil(t, CheckDeterminism(s.Run, Options{Seed: seed}), "seed %d", seed)
	}
}

// The judge's own check has teeth without the Suite: an execution of another prepare at a
// committed op is named, as r0's stale prepares would be if it executed them.
func TestDivergentMatrixJudgeNamesAnotherPrepare(t *testing.T) {
	run := newDivergentRun(Options{Seed: 1}, drawDivergent(1))
	run.onDivergentEvent(vsr.Event{Kind: vsr.EventCommit, Replica: 1, Op: 3, Checksum: [16]byte{1}})
	run.onDivergentEvent(vsr.Event{Kind: vsr.EventCommit, Replica: 2, Op: 3, Checksum: [16]byte{1}})
	require.Empty(t, run.broken)
	run.onDivergentEvent(vsr.Event{Kind: vsr.EventCommit, Replica: 0, Op: 3, Checksum: [16]byte{2}})
	require.Contains(t, run.broken, "replica 0 executed prepare")
	require.Contains(t, run.broken, "at op 3")
}

// The checkpoint variants (divergent_matrix_sync.go) are drawn only past the checkpoint, from
// their own stream: the other knobs keep their placements, and a few thousand seeds draw one
// and two rots, the crash on checkpoint I/O and the held heartbeats just past the checkpoint.
func TestDivergentMatrixSyncDraws(t *testing.T) {
	once, twice, crash, hold := 0, 0, 0, 0
	for seed := uint64(1); seed <= 2000; seed++ {
		p := drawDivergent(seed)
		if !p.pastCheckpoint {
			require.Equal(t, divergentSync{}, p.sync, "seed %d: %s", seed, p)
		}
		require.True(t, p.sync.rots <= 2 && p.sync.checkpointCrash <= divergentCheckpointCrashMax, "seed %d: %s", seed, p)
		require.True(t, p.sync.pastHold == 0 || !p.far, "seed %d: %s", seed, p)
		once, twice = once+boolInt(p.sync.rots == 1), twice+boolInt(p.sync.rots == 2)
		crash, hold = crash+boolInt(p.sync.checkpointCrash > 0), hold+boolInt(p.sync.pastHold > 0)
	}
	for name, n := range map[string]int{"once": once, "twice": twice, "crash": crash, "hold": hold} {
		require.Greater(t, n, 100, "%s drawn in %d of 2000 seeds", name, n)
	}
}
