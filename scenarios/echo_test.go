package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/sim"
)

func echoScenario(t *testing.T) Scenario {
	s, ok := Lookup("echo")
	require.True(t, ok, "the echo scenario is registered")
	return s
}

func TestEchoIsRegisteredAndSaysItIsNotTheReplica(t *testing.T) {
	s := echoScenario(t)
	require.Contains(t, Names(), "echo")
	require.Contains(t, s.Summary, "not the replica")
	require.Contains(t, s.Runbook, "self-test")
	require.Contains(t, s.Params(1), `workload="simulator self-test: echo actors, not the replica"`,
		"the first line of a run says it drives the self-test actor")
	_, ok := Lookup("no-such-scenario")
	require.False(t, ok)
}

// The parameters are a function of the seed alone, stay in their documented ranges, and
// are what the run reports.
func TestEchoParamsAreDrawnFromTheSeed(t *testing.T) {
	s := echoScenario(t)
	distinct := map[string]bool{}
	for seed := uint64(0); seed < 50; seed++ {
		p := drawEchoParams(seed)
		require.Equal(t, p.String(), drawEchoParams(seed).String())
		require.Equal(t, p.String(), s.Params(seed))
		distinct[p.String()] = true

		require.GreaterOrEqual(t, p.nodes, 2)
		require.LessOrEqual(t, p.nodes, 6)
		require.Equal(t, p.nodes, p.world.NodeCount)
		require.Equal(t, p.nodes, p.world.DiskNodes)
		require.Len(t, p.world.Clocks, p.nodes)
		for _, c := range p.world.Clocks {
			require.LessOrEqual(t, c.DriftPPM, int64(1000))
			require.GreaterOrEqual(t, c.DriftPPM, int64(-1000))
		}
		opts := p.world.Network
		opts.NodeCount = p.nodes
		require.NoError(t, opts.Validate())
		require.NoError(t, p.world.Disk.Validate())
	}
	require.Len(t, distinct, 50, "every seed draws its own parameters")

	r := s.Run(Options{Seed: 9, TicksMax: 50})
	require.Equal(t, s.Params(9), r.Params)
	require.Equal(t, "echo", r.Scenario)
	require.Equal(t, uint64(9), r.Seed)
}

// A run passes on a handful of seeds, lasts exactly its tick budget, and its counters show
// the echo traffic flowing through the faulty network and disks.
func TestEchoPasses(t *testing.T) {
	s := echoScenario(t)
	total := map[string]uint64{}
	for seed := uint64(1); seed <= 6; seed++ {
		r := s.Run(Options{Seed: seed, TicksMax: 1500})
		require.Equal(t, Pass, r.Outcome, "seed %d: %s", seed, r.Reason)
		require.Empty(t, r.Reason)
		require.Equal(t, sim.Time(1500)*sim.Time(sim.TickInterval), r.SimTime, "seed %d", seed)
		require.NotZero(t, r.TraceHash)
		require.Equal(t, r.Trace.Count(), r.Events)
		for _, name := range r.CounterNames() {
			total[name] += r.Counters[name]
		}
	}
	for _, name := range []string{"echo.pings_sent", "echo.pongs_received", "echo.persisted", "net.sent",
		"net.delivered", "net.lost", "net.corrupted", "echo.corrupt_dropped"} {
		require.NotZero(t, total[name], "counter %s over 6 seeds", name)
	}
	require.LessOrEqual(t, total["echo.pongs_received"], total["net.delivered"])
}

// The default budget is used when TicksMax is zero.
func TestEchoDefaultTickBudget(t *testing.T) {
	r := echoScenario(t).Run(Options{Seed: 3})
	require.Equal(t, Pass, r.Outcome, r.Reason)
	require.Equal(t, sim.Time(echoTicksDefault)*sim.Time(sim.TickInterval), r.SimTime)
}

// The echo scenario injects what its summary promises: node crashes and restarts, and
// partitions, besides per-packet faults (TestEchoPasses).
func TestEchoCrashesAndRestartsNodes(t *testing.T) {
	s := echoScenario(t)
	kinds := map[string]int{}
	for seed := uint64(1); seed <= 6; seed++ {
		r := s.Run(Options{Seed: seed, TicksMax: 1500, TraceKeep: 1 << 20})
		require.Less(t, uint64(len(r.Trace.Kept)), uint64(1<<20), "the whole trace is kept")
		for _, rec := range r.Trace.Kept {
			if rec.Kind == "node" {
				kinds[rec.Text]++
			}
		}
		kinds["partition"] += int(r.Counters["net.dropped_partition"])
	}
	require.NotZero(t, kinds["crash"], "%v", kinds)
	require.NotZero(t, kinds["restart"], "%v", kinds)
	require.NotZero(t, kinds["partition"], "%v", kinds)
}

// A budget too small for any pong to come back is a reported liveness failure, not a pass
// and not a hang.
func TestEchoTooSmallBudgetIsALivenessFailure(t *testing.T) {
	r := echoScenario(t).Run(Options{Seed: 5, TicksMax: 1})
	require.Equal(t, Liveness, r.Outcome)
	require.Contains(t, r.Reason, "no pong")
	require.Equal(t, sim.Time(sim.TickInterval), r.SimTime)
}

func TestOutcomeNamesAndExitCodes(t *testing.T) {
	require.Equal(t, 0, int(Pass))
	require.Equal(t, 1, int(Correctness))
	require.Equal(t, 2, int(Liveness))
	require.Equal(t, 3, int(Nondeterminism))
	require.Equal(t, "liveness", Liveness.String())
	require.Equal(t, "nondeterminism", Nondeterminism.String())
}
