package mutants

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSummaryFigures(t *testing.T) {
	outcomes := []Outcome{
		{Mutant: Mutant{ID: "a.killed_fast"}, Status: Killed, SeedsToKill: 2, Class: "correctness: durability"},
		{Mutant: Mutant{ID: "a.killed_slow"}, Status: Killed, SeedsToKill: 40},
		{Mutant: Mutant{ID: "a.killed_mid"}, Status: Killed, SeedsToKill: 10},
		{Mutant: Mutant{ID: "a.hung", Generated: true}, Status: Hang},
		{Mutant: Mutant{ID: "a.survivor"}, Status: Survived, SeedsRun: 300},
		{Mutant: Mutant{ID: "gen.a.survivor", Generated: true}, Status: Survived, SeedsRun: 300},
		{Mutant: Mutant{ID: "a.stale"}, Status: Stale, Detail: "stale: gone"},
		{Mutant: Mutant{ID: "a.broken"}, Status: BuildError, Detail: "x.go:1: syntax error"},
	}
	s := summarize(outcomes)
	require.Equal(t, 8, s.Mutants)
	require.Equal(t, 4, s.Killed) // a hang is killed, by the wall clock
	require.Equal(t, 1, s.Hangs)
	require.Equal(t, 2, s.Survived)
	require.InDelta(t, 4.0/6, s.KillRate, 1e-9)
	require.Equal(t, 10.0, s.MedianSeeds)
	require.Equal(t, 40, s.WorstSeeds)
	require.Equal(t, []string{"a.survivor", "gen.a.survivor"}, s.Survivors)
	require.Equal(t, []string{"a.stale"}, s.StaleIDs)
	require.Equal(t, 1, s.BuildErrors)
	require.Equal(t, [4]int{3, 4, 1, 2}, [4]int{s.HandKilled, s.HandRun, s.GenKilled, s.GenRun})

	m, w := median([]int{4, 1, 3, 2})
	require.Equal(t, 2.5, m)
	require.Equal(t, 4, w)

	r := Report{Seeds: 300, FirstSeed: 1, Jobs: 2}
	for _, o := range outcomes {
		r.add(o)
	}
	md := r.Markdown()
	require.Contains(t, md, "kill rate: **4 of 6 (67%)**")
	require.Contains(t, md, "| `a.killed_fast` |")
	require.Contains(t, md, "## Survivors")
	require.Contains(t, md, "## Stale mutants")
	var back Report
	require.NoError(t, json.Unmarshal(r.JSON(), &back))
	require.Equal(t, r.Summary, back.Summary)
}

// A seed's failure class is scenarios.FailureSignature's, and a process crash is its own.
func TestSeedResultSignature(t *testing.T) {
	inv := seedResult{Outcome: "correctness", Reason: "invariant acked_survive violated: replica 1, op 7"}
	require.Equal(t, "correctness: invariant acked_survive violated", inv.signature())
	stop := seedResult{Outcome: "correctness",
		Reason: "replica 2 fail-stopped at 1.5s (assertion=true): commit_number <= op_number"}
	require.Equal(t, "correctness: fail-stopped (assertion=true): commit_number <= op_number", stop.signature())
	crash := seedResult{Outcome: "crash", Reason: "harness crash: panic: boom"}
	require.True(t, crash.failed())
	require.Equal(t, "crash: harness crash: panic: boom", crash.signature())
	require.False(t, seedResult{Outcome: "pass"}.failed())
}

// Resuming keeps a previous report's verdicts for unchanged catalog entries (not its errors)
// and its baseline, and refuses a report of other seeds.
func TestResumeKeepsVerdictsAndBaseline(t *testing.T) {
	m := Mutant{ID: "a.m", File: "cluster/x.go", Search: "a", Replace: "b"}
	prev := &Report{Seeds: 300, FirstSeed: 1, BaselineRun: true, BaselineScenarios: []string{"swarm"},
		Baseline: []BaselineFailure{{Scenario: "swarm", Seed: 9, Class: "liveness: x"}},
		Outcomes: []Outcome{{Mutant: m, Status: Killed}, {Mutant: Mutant{ID: "a.err"}, Status: Failed}}}
	c := &campaign{cfg: Config{Seeds: 300, FirstSeed: 1, Baseline: true}, known: map[string]map[uint64]string{}}
	kept, err := c.resume(prev)
	require.NoError(t, err)
	require.Contains(t, kept, "a.m")
	require.NotContains(t, kept, "a.err", "an error is run again")
	require.Equal(t, "liveness: x", c.known["swarm"][9])
	require.Equal(t, []string{"swarm"}, c.report.BaselineScenarios)
	require.True(t, sameEdit(kept["a.m"].Mutant, m))
	edited := m
	edited.Replace = "c"
	require.False(t, sameEdit(kept["a.m"].Mutant, edited), "an edited mutant is run again")
	c.cfg.Seeds = 100
	_, err = c.resume(prev)
	require.ErrorContains(t, err, "resume")
}

// The campaign reads vopr's JSON report (an object with the seeds under "results") and the
// bare list older binaries wrote.
func TestParseResults(t *testing.T) {
	for _, data := range []string{
		`{"command": "swarm", "results": [{"seed": 3, "outcome": "liveness", "reason": "x"}]}`,
		`[{"seed": 3, "outcome": "liveness", "reason": "x"}]`,
	} {
		results, err := parseResults([]byte(data))
		require.NoError(t, err)
		require.Equal(t, []seedResult{{Seed: 3, Outcome: "liveness", Reason: "x"}}, results)
	}
	_, err := parseResults([]byte(`{"command": "swarm"}`))
	require.Error(t, err)
}
