package faults

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/sim"
)

// divergentRun is a quiet cluster whose nemesis has only the divergent episode on, starting
// one about every second when none is under way (the primary isolation's own rate is all but
// zero: it only switches the episode's kind on).
func divergentRun(t *testing.T, replicas int, seed uint64, o NemesisOptions) *aimedRun {
	t.Helper()
	o.PrimaryIsolationProbability = 1e-12
	run := newAimedRun(t, replicas, seed, o)
	run.n.ArmDivergent(sim.Stream(seed, "nemesis/divergent"))
	require.NotNil(t, run.n.divergent.r, "the episode is off")
	run.n.Install(run.c)
	run.n.divergent.probability = 0.01 // an episode about every second when none is under way
	return run
}

// stepUntil steps the run until done or ticks have passed; it reports whether done.
func stepUntil(run *aimedRun, ticks int, done func() bool) bool {
	for tick := 0; tick < ticks; tick++ {
		run.c.RunFor(sim.TickInterval)
		run.n.Step(run.c)
		if done() {
			return true
		}
	}
	return false
}

// TestNemesisDivergentReachesBothVersions: the episode makes an old primary hold a suffix of
// its own while the others commit different prepares at those ops, then runs a view change
// between the two versions, the new primary cut off, which completes.
func TestNemesisDivergentReachesBothVersions(t *testing.T) {
	for _, replicas := range []int{3, 5} {
		run := divergentRun(t, replicas, 60, NemesisOptions{ReplicaStabilityTicks: 10})
		marks := run.n.Marks()
		reached := stepUntil(run, 6000, func() bool { return marks.Count(MarkDivergentClash) >= 2 })
		require.True(t, reached, "%d replicas: versions=%d clash=%d, actions %s", replicas,
			marks.Count(MarkDivergentVersions), marks.Count(MarkDivergentClash), run.n.CountsString())
		require.Positive(t, run.n.Counts()[ActionDivergentClash])
		require.Empty(t, run.c.Failures())
		run.n.Heal(run.c)
		requireAllConnected(t, run.c)
		requireProgress(t, run.c)
	}
}

// TestNemesisDivergentDamagesAndDelays: with correlated damage and crashes at I/O points on,
// the clashes damage one version, clog one replica's paths (its do_view_change comes late)
// and crash the old primary after it cuts its suffix.
func TestNemesisDivergentDamagesAndDelays(t *testing.T) {
	run := divergentRun(t, 3, 61, NemesisOptions{ReplicaStabilityTicks: 10, DiskCorrelatedProbability: 1e-12,
		CrashAtIOProbability: 1e-12})
	marks := run.n.Marks()
	reached := stepUntil(run, 12000, func() bool {
		return marks.Count(MarkDivergentDamaged) > 0 && marks.Count(MarkDivergentLateDVC) > 0 &&
			marks.Count(MarkDivergentCrashAfterCut) > 0
	})
	require.True(t, reached, "damaged=%d late_dvc=%d crash_after_cut=%d, actions %s",
		marks.Count(MarkDivergentDamaged), marks.Count(MarkDivergentLateDVC), marks.Count(MarkDivergentCrashAfterCut),
		run.n.CountsString())
	t.Logf("actions %s", run.n.CountsString())
	run.n.Heal(run.c)
	requireProgress(t, run.c)
}

// TestNemesisDivergentOwnStream: without the primary isolation's kind, or with f = 0, the
// episode is off and draws nothing.
func TestNemesisDivergentOwnStream(t *testing.T) {
	run := newAimedRun(t, 3, 62, NemesisOptions{})
	run.n.ArmDivergent(sim.Stream(62, "nemesis/divergent"))
	require.Nil(t, run.n.divergent.r)
	one := newAimedRun(t, 1, 62, NemesisOptions{PrimaryIsolationProbability: 0.5})
	one.n.ArmDivergent(sim.Stream(62, "nemesis/divergent"))
	require.Nil(t, one.n.divergent.r)
}

// TestNemesisDivergentFar: a far episode lets the old primary rejoin only once the others
// are a window of headers past it, and crashes it at a log sync of its repair.
func TestNemesisDivergentFar(t *testing.T) {
	run := divergentRun(t, 3, 63, NemesisOptions{ReplicaStabilityTicks: 10, CrashAtIOProbability: 1e-12})
	marks := run.n.Marks()
	reached := stepUntil(run, 30000, func() bool {
		return marks.Count(MarkDivergentFar) > 0 && marks.Count(MarkDivergentCrashInRepair) > 0
	})
	require.True(t, reached, "far=%d crash_in_repair=%d, actions %s", marks.Count(MarkDivergentFar),
		marks.Count(MarkDivergentCrashInRepair), run.n.CountsString())
	t.Logf("actions %s", run.n.CountsString())
	run.n.Heal(run.c)
	requireProgress(t, run.c)
}

// TestNemesisDivergentHeadIdentity: with correlated damage on, clashes take the identity of
// the new log's head on the next view's primary (the shape that makes a primary-elect hear
// offers of different prepares of one op), and the cluster still commits after the heal.
func TestNemesisDivergentHeadIdentity(t *testing.T) {
	for seed := uint64(70); seed < 80; seed++ {
		run := divergentRun(t, 3, seed, NemesisOptions{ReplicaStabilityTicks: 10, DiskCorrelatedProbability: 1e-12})
		if !stepUntil(run, 6000, func() bool { return strings.Contains(run.out.String(), " head identity op ") }) {
			continue
		}
		require.Positive(t, run.n.Marks().Count(MarkDivergentDamaged))
		stepUntil(run, 500, func() bool { return false })
		require.Empty(t, run.c.Failures())
		run.n.Heal(run.c)
		requireProgress(t, run.c)
		return
	}
	t.Fatal("no identity loss at the head of a clash in 10 seeds")
}
