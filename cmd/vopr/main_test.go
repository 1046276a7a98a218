package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
	"vopr/faults"
	"vopr/internal/coverage"
	"vopr/invariants"
	"vopr/report"
	"vopr/scenarios"
	"vopr/sim"
)

// vopr runs the command line in-process and returns its exit code and output.
func vopr(args ...string) (code int, stdout, stderr string) {
	args = withEcho(args)
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// withEcho runs the CLI mechanics tests on the cheap echo scenario unless a test names a
// scenario: they test flags, seeds and output, not the replica (the cluster scenario has its
// own tests in package scenarios).
func withEcho(args []string) []string {
	if len(args) == 0 || (args[0] != "run" && args[0] != "replay" && args[0] != "check-determinism") {
		return args
	}
	for _, a := range args {
		if a == "--scenario" {
			return args
		}
	}
	at := 1 // after the command: a trailing flag without its value must stay trailing
	if args[0] == "replay" {
		at = 2 // after the SEED
	}
	if len(args) < at {
		return args
	}
	out := append([]string(nil), args[:at]...)
	out = append(out, "--scenario", "echo")
	return append(out, args[at:]...)
}

func echo(t *testing.T) scenarios.Scenario {
	s, ok := scenarios.Lookup("echo")
	require.True(t, ok)
	return s
}

const seedForms = "expected a decimal u64 (42), 0x-prefixed hex (0x2a) or a 40-hex-digit git commit"

// Bad input is a clear error with exit 64, never a silent default (DESIGN.md section 1.4).
func TestUsageErrorsExit64NamingTheAcceptedForms(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"run", "--seed", "zz"}, seedForms},
		{[]string{"run", "--seed", "-1"}, seedForms},
		{[]string{"run", "--seed", "0xZZ"}, seedForms},
		{[]string{"run", "--seed", ""}, seedForms},
		{[]string{"run", "--seed", "18446744073709551616"}, seedForms},
		{[]string{"replay", "zz"}, seedForms},
		{[]string{"replay", ""}, seedForms},
		{[]string{"check-determinism", "--seed", ""}, seedForms},
		{[]string{"check-determinism", "--seed", "0x"}, seedForms},
		{[]string{"replay"}, "expected a SEED first"},
		{[]string{"frobnicate"}, "expected one of run, replay, list, check-determinism, swarm, merge, gate, shrink, version"},
		{[]string{"frobnicate"}, "seeds: decimal u64, 0x-prefixed hex, or a 40-hex-digit git commit"},
		{[]string{"run", "--bogus"}, "accepted flags: --html, --json, --log, --mutation, --scenario, --seed, --seeds, --ticks-max, --trace"},
		{[]string{"replay", "1", "--bogus"}, "accepted flags: --html, --log, --mutation, --scenario, --ticks-max"},
		{[]string{"check-determinism", "--json", "x"}, "accepted flags: --scenario, --seed, --seeds, --ticks-max"},
		{[]string{"run", "--seed"}, "flag needs an argument"},
		{[]string{"run", "--scenario", "nope"}, `unknown scenario "nope": expected one of ` + fmt.Sprint(scenarios.Names())},
		{[]string{"check-determinism", "--scenario", "nope"}, "expected one of " + fmt.Sprint(scenarios.Names())},
		{[]string{"replay", "1", "--scenario", "nope"}, "expected one of " + fmt.Sprint(scenarios.Names())},
		{[]string{"run", "--log", "loud"}, "expected none, short or full"},
		{[]string{"run", "--seeds", "-1"}, "expected a seed count >= 1"},
		{[]string{"run", "--ticks-max", "-1"}, "expected a positive tick count"},
		{[]string{"run", "--seed", "1", "extra"}, `unexpected argument "extra"`},
		{[]string{"list", "bogus"}, "expected scenarios, faults, invariants, marks or mutations"},
		{[]string{"list", "scenarios", "faults"}, "expected at most one of scenarios, faults, invariants, marks"},
	}
	for _, c := range cases {
		code, stdout, stderr := vopr(c.args...)
		require.Equal(t, exitUsage, code, "%q: %s", c.args, stderr)
		require.Contains(t, stderr, c.want, "%q", c.args)
		require.True(t, strings.HasPrefix(stderr, "vopr: "), "%q: %s", c.args, stderr)
		require.Empty(t, stdout, "%q: nothing runs on a usage error", c.args)
	}
}

// The swarm runs a batch on parallel jobs, prints the summary in seed order whatever the
// job count, and writes JUnit and JSON.
func TestSwarmRunsABatchInSeedOrder(t *testing.T) {
	dir := t.TempDir()
	junit, js := filepath.Join(dir, "r.xml"), filepath.Join(dir, "r.json")
	code, one, stderr := vopr("swarm", "--scenario", "echo", "--seed", "5", "--seeds", "4", "--jobs", "1", "--ticks-max", "200")
	require.Equal(t, exitPass, code, stderr)
	code, two, _ := vopr("swarm", "--scenario", "echo", "--seed", "5", "--seeds", "4", "--jobs", "3", "--ticks-max", "200",
		"--junit", junit, "--json", js)
	require.Equal(t, exitPass, code)
	wallAndRate := regexp.MustCompile(`(?m)^(\d+\s+\d+\s+\d+\s+\d+\s+\d+\s+\S+)\s+\S+\s+\S+$`)
	strip := func(s string) string { // the first line (jobs), wall time and rate vary; everything else must not
		lines := strings.Split(strings.TrimSpace(s), "\n")
		return wallAndRate.ReplaceAllString(strings.Join(lines[1:], "\n"), "$1")
	}
	require.Equal(t, strip(one), strip(two))
	require.Contains(t, two, "seeds     passed")
	data, err := os.ReadFile(junit)
	require.NoError(t, err)
	require.Contains(t, string(data), `<testsuite name="vopr" tests="4" failures="0">`)
	require.Contains(t, string(data), `name="seed=8"`)
	_, err = os.ReadFile(js)
	require.NoError(t, err)
	code, _, stderr = vopr("swarm", "--scenario", "echo", "--shard", "3/2")
	require.Equal(t, exitUsage, code)
	require.Contains(t, stderr, "expected I/N")
}

var (
	firstLine = regexp.MustCompile(`^seed=(\d+) scenario=echo workload="simulator self-test: echo actors, not the replica" nodes=\d `)
	passLine  = regexp.MustCompile(`(?m)^seed=(\d+) pass sim_time=\S+ events=\d+ trace_hash=([0-9a-f]{16})$`)
	hashField = regexp.MustCompile(`trace_hash=([0-9a-f]{16})`)
)

// Seed forms are the same seed: 0x2a and 42 are one run, byte for byte.
func TestSeedFormsAreTheSameRun(t *testing.T) {
	code, dec, stderr := vopr("run", "--seed", "42", "--ticks-max", "200")
	require.Equal(t, exitPass, code, stderr)
	code, hex, _ := vopr("run", "--seed", "0x2a", "--ticks-max", "200")
	require.Equal(t, exitPass, code)
	require.Equal(t, dec, hex)
	code, upper, _ := vopr("run", "--seed", "0X2A", "--ticks-max", "200")
	require.Equal(t, exitPass, code)
	require.Equal(t, dec, upper)

	m := firstLine.FindStringSubmatch(dec)
	require.NotNil(t, m, "the first line prints the seed, the workload and the drawn parameters:\n%s", dec)
	require.Equal(t, "42", m[1])
	require.Contains(t, strings.SplitN(dec, "\n", 2)[0], echo(t).Params(42))
	require.Regexp(t, passLine, dec)

	code, other, _ := vopr("run", "--seed", "43", "--ticks-max", "200")
	require.Equal(t, exitPass, code)
	require.NotEqual(t, hashField.FindString(dec), hashField.FindString(other))
}

// A 40-hex git commit is a seed: its first 16 hex digits.
func TestCommitSeed(t *testing.T) {
	code, stdout, stderr := vopr("run", "--seed", "0123456789abcdef0123456789abcdef01234567", "--ticks-max", "100")
	require.Equal(t, exitPass, code, stderr)
	m := firstLine.FindStringSubmatch(stdout)
	require.NotNil(t, m, stdout)
	require.Equal(t, fmt.Sprint(uint64(0x0123456789abcdef)), m[1])
	_, same, _ := vopr("run", "--seed", "0x0123456789abcdef", "--ticks-max", "100")
	require.Equal(t, stdout, same)
}

// The printed trace hash is the scenario's fingerprint for the seed.
func TestRunPrintsTheScenarioTraceHash(t *testing.T) {
	code, stdout, _ := vopr("run", "--seed", "7", "--ticks-max", "150")
	require.Equal(t, exitPass, code)
	want := echo(t).Run(scenarios.Options{Seed: 7, TicksMax: 150})
	m := passLine.FindStringSubmatch(stdout)
	require.NotNil(t, m, stdout)
	require.Equal(t, fmt.Sprintf("%016x", want.TraceHash), m[2])
	require.Contains(t, stdout, "counters over 1 seed(s):")
}

func TestRunSeedsRange(t *testing.T) {
	code, stdout, _ := vopr("run", "--seeds", "3", "--ticks-max", "50")
	require.Equal(t, exitPass, code)
	var seeds []string
	for _, m := range passLine.FindAllStringSubmatch(stdout, -1) {
		seeds = append(seeds, m[1])
	}
	require.Equal(t, []string{"1", "2", "3"}, seeds, "--seeds N alone is seeds 1..N")
	require.Contains(t, stdout, "counters over 3 seed(s):")

	_, stdout, _ = vopr("run", "--seed", "0x10", "--seeds", "2", "--ticks-max", "50")
	seeds = nil
	for _, m := range passLine.FindAllStringSubmatch(stdout, -1) {
		seeds = append(seeds, m[1])
	}
	require.Equal(t, []string{"16", "17"}, seeds, "--seed S --seeds N is S..S+N-1")
}

// A failure prints the exact replay command, and that command fails again the same way: a
// budget of one tick leaves no time for any pong, a liveness failure (exit 2).
func TestFailingRunPrintsAReplayCommandThatReproducesIt(t *testing.T) {
	code, stdout, _ := vopr("run", "--seed", "1", "--ticks-max", "1")
	require.Equal(t, exitLiveness, code, stdout)
	require.Contains(t, stdout, "seed=1 FAIL liveness: no pong arrived after the network healed")
	replay := regexp.MustCompile(`(?m)^  replay: (vopr .*)$`).FindStringSubmatch(stdout)
	require.NotNil(t, replay, stdout)
	require.Equal(t, "vopr replay 1 --scenario echo --ticks-max 1", replay[1])
	hash := hashField.FindStringSubmatch(stdout)[1]

	args := strings.Fields(replay[1])[1:]
	code, replayed, _ := vopr(args...)
	require.Equal(t, exitLiveness, code, "the replay must fail like the run")
	require.Equal(t, hash, hashField.FindStringSubmatch(replayed)[1], "the replay must re-execute the same run")
	require.Contains(t, replayed, " network    send ", "replay prints the full log")
}

func TestReplayIsTheRunWithTheFullLog(t *testing.T) {
	code, ran, _ := vopr("run", "--seed", "99", "--ticks-max", "100")
	require.Equal(t, exitPass, code)
	code, replayed, _ := vopr("replay", "99", "--ticks-max", "100")
	require.Equal(t, exitPass, code)
	require.Equal(t, passLine.FindString(ran), passLine.FindString(replayed))
	require.Greater(t, strings.Count(replayed, "\n"), strings.Count(ran, "\n")+100)
	_, short, _ := vopr("replay", "0x63", "--ticks-max", "100", "--log", "short")
	require.Equal(t, passLine.FindString(ran), passLine.FindString(short))
	require.Less(t, strings.Count(short, "\n"), strings.Count(replayed, "\n"))
}

func TestRunWritesJSONAndTrace(t *testing.T) {
	dir := t.TempDir()
	jsonPath, tracePath := filepath.Join(dir, "out.json"), filepath.Join(dir, "trace.log")
	code, stdout, stderr := vopr("run", "--seed", "3", "--seeds", "2", "--ticks-max", "1",
		"--json", jsonPath, "--trace", tracePath)
	require.Equal(t, exitLiveness, code, stderr)
	data, err := os.ReadFile(jsonPath)
	require.NoError(t, err)
	var doc report.BatchJSON
	require.NoError(t, json.Unmarshal(data, &doc))
	results := doc.Results
	require.Len(t, results, 2)
	for i, r := range results {
		require.Equal(t, uint64(3+i), r.Seed)
		require.Equal(t, "liveness", r.Outcome)
		require.Equal(t, fmt.Sprintf("vopr replay %d --scenario echo --ticks-max 1", 3+i), r.Replay)
		require.Contains(t, stdout, "trace_hash="+r.TraceHash)
	}
	trace, err := os.ReadFile(tracePath)
	require.NoError(t, err)
	require.Contains(t, string(trace), " node       start", "the trace file holds the last seed's full log")
}

func TestListScenariosAndFaults(t *testing.T) {
	code, stdout, _ := vopr("list", "scenarios")
	require.Equal(t, exitPass, code)
	require.Contains(t, stdout, "echo")
	require.Contains(t, stdout, "not the replica")
	code, dflt, _ := vopr("list")
	require.Equal(t, exitPass, code)
	require.Equal(t, stdout, dflt, "list alone lists scenarios")

	code, stdout, _ = vopr("list", "faults")
	require.Equal(t, exitPass, code)
	for _, f := range []string{"network.loss", "network.partition", "disk.crash_torn", "disk.full", "clock.drift", "node.pause"} {
		require.Contains(t, stdout, f)
	}
	require.Equal(t, len(faults.AllKinds()), strings.Count(stdout, "\n"))

	code, stdout, _ = vopr("list", "invariants")
	require.Equal(t, exitPass, code)
	require.Equal(t, len(invariants.Names()), strings.Count(stdout, "\n"))
	require.Contains(t, stdout, "linearizable")

	code, stdout, _ = vopr("list", "marks")
	require.Equal(t, exitPass, code)
	require.Equal(t, len(coverage.All()), strings.Count(stdout, "\n"))
	require.Contains(t, stdout, "coverage.mark.primary_isolation.second_view_change ")
}

func TestCheckDeterminism(t *testing.T) {
	code, stdout, stderr := vopr("check-determinism", "--seeds", "3", "--ticks-max", "300")
	require.Equal(t, exitPass, code, stderr)
	require.Contains(t, stdout, "seed=1 deterministic\nseed=2 deterministic\nseed=3 deterministic\n")
	require.Contains(t, stdout, "check-determinism: 3 seed(s) of echo ran twice with identical traces")
}

// check-determinism on a scenario that leaks state from one run to the next exits 3 and
// names the first divergent event.
func TestCheckDeterminismCatchesALeakyScenario(t *testing.T) {
	leaks := 0
	leaky := scenarios.Scenario{Name: "leaky", Params: func(uint64) string { return "" },
		Run: func(o scenarios.Options) scenarios.Result {
			loop := sim.NewLoop()
			tr := sim.NewTrace(loop.Now)
			tr.KeepMax = o.TraceKeep
			tr.Emit(sim.LevelShort, 0, "node", "start")
			leaks++
			tr.Emitf(sim.LevelShort, 0, "leak", "runs=%d", leaks)
			return scenarios.Result{Scenario: "leaky", Seed: o.Seed, TraceHash: tr.Hash(), Events: tr.Count(), Trace: tr}
		}}
	saved := lookupScenario
	t.Cleanup(func() { lookupScenario = saved })
	lookupScenario = func(name string) (scenarios.Scenario, bool) {
		if name == "leaky" {
			return leaky, true
		}
		return saved(name)
	}
	code, stdout, _ := vopr("check-determinism", "--scenario", "leaky", "--seed", "0x2a", "--seeds", "3")
	require.Equal(t, exitNondeterminism, code)
	require.Contains(t, stdout, "NONDETERMINISM in scenario leaky seed 42: first divergent event #1")
	require.Contains(t, stdout, "run 1:")
	require.Contains(t, stdout, "runs=1")
	require.Contains(t, stdout, "runs=2")
	require.NotContains(t, stdout, "seed=43", "it stops at the first nondeterministic seed")
}

// The main job (make vopr) runs every scenario on a few seeds and exits 0.
func TestMainJob(t *testing.T) {
	code, stdout, stderr := vopr()
	require.Equal(t, exitPass, code, stderr+stdout)
	require.Regexp(t, `(?m)^scenario\s+seeds\s+passed\s+failed\s+sim_time\s+wall_time$`, stdout)
	require.Regexp(t, `(?m)^echo\s+5\s+5\s+0\s`, stdout)
}

func TestHelp(t *testing.T) {
	for _, arg := range []string{"help", "-h", "--help"} {
		code, stdout, _ := vopr(arg)
		require.Equal(t, exitPass, code)
		require.Contains(t, stdout, "exit codes: 0 pass, 1 correctness, 2 liveness, 3 non-determinism, 64 usage")
	}
}

func TestWorstExit(t *testing.T) {
	r := func(o scenarios.Outcome) scenarios.Result { return scenarios.Result{Outcome: o} }
	require.Equal(t, exitPass, report.WorstExit(nil))
	require.Equal(t, exitPass, report.WorstExit([]scenarios.Result{r(scenarios.Pass)}))
	require.Equal(t, exitLiveness, report.WorstExit([]scenarios.Result{r(scenarios.Pass), r(scenarios.Liveness)}))
	require.Equal(t, exitCorrectness, report.WorstExit([]scenarios.Result{r(scenarios.Liveness), r(scenarios.Correctness), r(scenarios.Liveness)}))
}

// A binary built without the planted bugs refuses --mutation on every command that takes
// it (exit 64), saying how to build one that has them.
func TestMutationNeedsAMutantsBinary(t *testing.T) {
	if vsr.MutantsEnabled() {
		t.Skip("this test binary has the planted bugs")
	}
	for _, args := range [][]string{
		{"run", "--mutation", "forget_client_table", "--seed", "5"},
		{"replay", "5", "--mutation", "forget_client_table"},
		{"swarm", "--mutation", "forget_client_table", "--seed", "5", "--seeds", "1"},
		{"shrink", "5", "--scenario", "swarm", "--mutation", "forget_client_table"},
	} {
		code, stdout, stderr := vopr(args...)
		require.Equal(t, exitUsage, code, "%q", args)
		require.Contains(t, stderr, "go build -tags vopr_mutants", "%q", args)
		require.NotContains(t, stdout, "FAIL", "%q: nothing runs", args)
	}
	code, out, _ := vopr("list", "mutations")
	require.Equal(t, exitPass, code)
	require.Contains(t, out, "forget_client_table")
	require.Contains(t, out, "go build -tags vopr_mutants")
}

// Bad input exits 64 before anything runs; an unwritable report path is found before the
// run and exits 74 (never 1, which means a correctness failure); -h and --help print the
// usage and exit 0.
func TestStrictInputAndHonestExitCodes(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "a-file")
	require.NoError(t, os.WriteFile(blocker, []byte("x"), 0o644))
	unwritable := filepath.Join(blocker, "report.json") // a path under a regular file
	multi := filepath.Join(dir, "two.yaml")
	require.NoError(t, os.WriteFile(multi, []byte("budget: 1m\nscenarios:\n  - name: echo\n    seeds: 1\n---\nbudget: 2m\n"), 0o644))
	empty := filepath.Join(dir, "empty.yaml")
	require.NoError(t, os.WriteFile(empty, []byte("# nothing but a comment\n"), 0o644))
	separator := filepath.Join(dir, "separator.yaml")
	require.NoError(t, os.WriteFile(separator, []byte("---\n"), 0o644))
	gate := filepath.Join(dir, "gate.yaml")
	require.NoError(t, os.WriteFile(gate, []byte("budget: 1m\njson: "+unwritable+"\nscenarios:\n  - name: echo\n    seeds: 1\n"), 0o644))
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"run", "--seeds", "0"}, exitUsage, "--seeds 0: expected a seed count >= 1"},
		{[]string{"swarm", "--scenario", "echo", "--seeds", "0"}, exitUsage, "--seeds 0: expected a seed count >= 1"},
		{[]string{"check-determinism", "--seeds", "0"}, exitUsage, "--seeds 0"},
		{[]string{"swarm", "--scenario", "echo", "--duration", "0s"}, exitUsage, "--duration 0s: expected a wall time > 0"},
		{[]string{"swarm", "--scenario", "echo", "--seeds", "2", "--duration", "1s"}, exitUsage, "not both"},
		{[]string{"run", "--seed", "18446744073709551615", "--seeds", "2"}, exitUsage, "runs past the largest seed 2^64-1"},
		{[]string{"swarm", "--scenario", "echo", "--seed", "18446744073709551615", "--seeds", "2"}, exitUsage, "runs past the largest seed"},
		{[]string{"swarm", "--scenario", "echo", "--seed", "18446744073709551614", "--seeds", "1", "--shard", "1/3"}, exitUsage, "runs past the largest seed"},
		{[]string{"swarm", "--scenario", "echo", "--shard", "1/4", "--seeds", "1"}, exitUsage, "--shard needs --seed S"},
		{[]string{"run", "--scenario", "performance", "--seed", "1", "--ticks-max", "50"}, exitUsage, "performance: --ticks-max 50: expected 0"},
		{[]string{"gate", "--config", multi}, exitUsage, "two.yaml:5: a second YAML document"},
		{[]string{"gate", "--config", empty}, exitUsage, "empty config"},
		{[]string{"gate", "--config", separator}, exitUsage, "top level: empty: expected a mapping"},
		{[]string{"run", "--seed", "1", "--json", unwritable}, exitIOError, "report " + unwritable},
		{[]string{"run", "--seed", "1", "--trace", unwritable}, exitIOError, "not a directory"},
		{[]string{"run", "--seed", "1", "--html", unwritable}, exitIOError, "not a directory"},
		{[]string{"swarm", "--scenario", "echo", "--seed", "1", "--seeds", "1", "--junit", unwritable}, exitIOError, "not a directory"},
		{[]string{"gate", "--config", gate}, exitIOError, "not a directory"},
		{[]string{"merge", "--json", unwritable, gate}, exitIOError, "not a directory"},
	} {
		code, stdout, stderr := vopr(c.args...)
		require.Equal(t, c.code, code, "%q: %s", c.args, stderr)
		require.Contains(t, stderr, c.want, "%q", c.args)
		require.Empty(t, stdout, "%q: nothing runs", c.args)
	}
	for _, args := range [][]string{{"-h"}, {"--help"}, {"run", "-h"}, {"replay", "--help"}, {"swarm", "-h"}, {"gate", "--help"},
		{"shrink", "-h"}, {"merge", "-h"}, {"version", "-h"}, {"check-determinism", "--help"}} {
		code, stdout, stderr := vopr(args...)
		require.Equal(t, exitPass, code, "%q: %s", args, stderr)
		require.Contains(t, stdout, "usage:", "%q", args)
	}
}

// performance honours --ticks-max: half of the budget per load run, its warm-up first, the
// rest measured.
func TestPerformanceHonoursTicksMax(t *testing.T) {
	code, stdout, stderr := vopr("run", "--scenario", "performance", "--seed", "1", "--ticks-max", "202")
	require.Contains(t, []int{exitPass, exitLiveness}, code, stderr)
	require.Contains(t, stdout, " sim_time=3.030s ", "two load runs of 101 ticks (10 ms x 202), then the read offload run cut at 101")
}
