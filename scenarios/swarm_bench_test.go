package scenarios

import (
	"testing"
	"time"
)

// BenchmarkSwarm runs swarm seeds with every checker on, and with the checkers off, so that
// their cost is visible: seeds per wall second and simulated seconds per wall second.
func BenchmarkSwarm(b *testing.B) {
	for _, bench := range []struct {
		name      string
		unchecked bool
	}{{"checkers_on", false}, {"checkers_off", true}} {
		b.Run(bench.name, func(b *testing.B) {
			var simNs int64
			start := time.Now()
			for i := 0; i < b.N; i++ {
				r := runSwarm(Options{Seed: uint64(i + 1), Unchecked: bench.unchecked})
				if r.Outcome != Pass {
					b.Fatalf("seed %d: %s: %s", i+1, r.Outcome, r.Reason)
				}
				simNs += int64(r.SimTime)
			}
			wall := time.Since(start).Seconds()
			b.ReportMetric(float64(b.N)/wall, "seeds/s")
			b.ReportMetric(float64(simNs)/1e9/wall, "sim-s/s")
		})
	}
}
