package scenarios

import (
	"flag"
	"os"
	"runtime"
	"testing"
	"time"

	"vopr/internal/gctune"
)

// BenchmarkScenarios is the simulator's speed table (make bench): the swarm with every
// checker on and with the checkers off (their cost is the difference), each runbook scenario
// and the performance scenario, on seeds 1..b.N. Each reports simulated seconds per wall
// second, seeds per wall second and heap allocations per simulated second.
func BenchmarkScenarios(b *testing.B) {
	benches := []struct {
		name, scenario string
		unchecked      bool
	}{
		{"swarm/checkers_on", "swarm", false},
		{"swarm/checkers_off", "swarm", true},
		{"performance", "performance", false},
	}
	for _, name := range []string{"replica_crash", "quorum_lost", "view_change_storm", "replication_lag",
		"assertion_failure", "disk_full", "rolling_upgrade"} {
		benches = append(benches, struct {
			name, scenario string
			unchecked      bool
		}{name, name, false})
	}
	for _, bench := range benches {
		scenario, ok := Lookup(bench.scenario)
		if !ok {
			b.Fatalf("no scenario %s", bench.scenario)
		}
		b.Run(bench.name, func(b *testing.B) {
			benchmarkScenario(b, scenario, bench.unchecked)
		})
	}
}

func benchmarkScenario(b *testing.B, scenario Scenario, unchecked bool) {
	// The collector setting the vopr binary runs with (internal/gctune), unless GOGC is set.
	if os.Getenv("GOGC") == "" {
		defer gctune.Start()()
	}
	// Nor does it sample allocations for a heap profile: its linker turns the sampling off,
	// as nothing in it can write one (runtime.MemProfileRate is 0 there). A test binary
	// samples every 512 KB allocated, unwinding the allocation's deep callback stack: 2.3%
	// of a swarm seed's CPU, in every profile taken of this benchmark. Unless this run
	// writes a heap profile (-test.memprofile).
	if f := flag.Lookup("test.memprofile"); f == nil || f.Value.String() == "" {
		defer func(rate int) { runtime.MemProfileRate = rate }(runtime.MemProfileRate)
		runtime.MemProfileRate = 0
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var simNs int64
	start := time.Now()
	for i := 0; i < b.N; i++ {
		r := scenario.Run(Options{Seed: uint64(i + 1), Unchecked: unchecked})
		if r.Outcome != Pass {
			b.Fatalf("%s seed %d: %s: %s", scenario.Name, i+1, r.Outcome, r.Reason)
		}
		simNs += int64(r.SimTime)
	}
	wall := time.Since(start).Seconds()
	runtime.ReadMemStats(&after)
	simSeconds := float64(simNs) / 1e9
	b.ReportMetric(simSeconds/wall, "sim-s/s")
	b.ReportMetric(float64(b.N)/wall, "seeds/s")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/simSeconds, "allocs/sim-s")
}
