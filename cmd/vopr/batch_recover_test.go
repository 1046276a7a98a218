package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/scenarios"
)

// TestRunRecoveredTurnsAPanicIntoTheSeedsFailure: a seed whose run panics is that seed's
// correctness failure, naming the panic; a campaign's other seeds go on (seed 2027733892's
// harness panic took a whole 6,000-seed campaign down with it).
func TestRunRecoveredTurnsAPanicIntoTheSeedsFailure(t *testing.T) {
	s := scenarios.Scenario{Name: "boom", Run: func(o scenarios.Options) scenarios.Result {
		if o.Seed == 7 {
			panic("start while running")
		}
		return scenarios.Result{Scenario: "boom", Seed: o.Seed, Outcome: scenarios.Pass}
	}}
	r := runRecovered(s, scenarios.Options{Seed: 7})
	require.Equal(t, scenarios.Correctness, r.Outcome)
	require.Equal(t, uint64(7), r.Seed)
	require.Contains(t, r.Reason, "harness crash: panic: start while running")
	require.Equal(t, scenarios.Pass, runRecovered(s, scenarios.Options{Seed: 8}).Outcome)
}
