package main

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/report"
	"vopr/scenarios"
)

// gateConfigFile writes a gate config into a fresh directory and returns its path; outputs
// named in it are relative to that directory through the $DIR placeholder.
func gateConfigFile(t *testing.T, text string) (configPath, dir string) {
	dir = t.TempDir()
	configPath = filepath.Join(dir, "gate.yaml")
	require.NoError(t, os.WriteFile(configPath, []byte(strings.ReplaceAll(text, "$DIR", dir)), 0o644))
	return configPath, dir
}

// A bad config is a usage error (exit 64) naming the file, the line, the key, the value and
// what was expected; nothing runs.
func TestGateConfigErrorsExit64(t *testing.T) {
	const echoOnly = "budget: 1m\nscenarios:\n  - name: echo\n    seeds: 1\n"
	cases := []struct{ config, want string }{
		{"budget: 1m\nscenarioz: []\n", `gate.yaml:2: top level: unknown key "scenarioz": expected one of budget, jobs, max_failures, junit, json, scenarios`},
		{"budget: 1m\nscenarios:\n  - name: echo\n    seeds: 1\n    seed: 3\n", `gate.yaml:5: scenarios[0]: unknown key "seed": expected one of name, seeds, first_seed, ticks_max, thresholds`},
		{echoOnly + "    thresholds:\n      - counter: x\n        maximum: 3\n", `gate.yaml:7: scenarios[0].thresholds[0]: unknown key "maximum": expected one of counter, min, max, aggregate`},
		{"budget: 1m\nscenarios:\n  - name: perf\n    seeds: 1\n", `gate.yaml:3: scenarios[0].name: unknown scenario "perf": expected one of [`},
		{"budget: 1m\nscenarios:\n  - name: echo\n    seeds: -2\n", `gate.yaml:4: scenarios[0].seeds: "-2": expected a seed count >= 1`},
		{"budget: 1m\nscenarios:\n  - name: echo\n    seeds: 0\n", `scenarios[0].seeds: "0": expected a seed count >= 1`},
		{"budget: 1m\nscenarios:\n  - name: echo\n    seeds: 1\n    first_seed: zz\n", `scenarios[0].first_seed: seed "zz" does not parse`},
		{"budget: 1m\nscenarios:\n  - name: echo\n    seeds: 1\n    ticks_max: -1\n", `scenarios[0].ticks_max: "-1": expected a tick budget per seed >= 0`},
		{"budget: 1m\nscenarios:\n  - name: echo\n    seeds: 2\n  - name: echo\n    seeds: 1\n", `scenarios[1].name: "echo" is already listed at line 3`},
		{"budget: soon\nscenarios: []\n", `gate.yaml:1: budget: "soon": expected a wall-time budget > 0 for the whole gate, as a Go duration`},
		{"budget: -1s\nscenarios: []\n", `budget: "-1s": expected a wall-time budget > 0`},
		{"scenarios:\n  - name: echo\n    seeds: 1\n", `gate.yaml:1: top level: missing key "budget"`},
		{"budget: 1m\nscenarios: []\n", `gate.yaml:2: scenarios: a list: expected a non-empty list of scenarios`},
		{"budget: 1m\njobs: 0\n" + echoOnly[len("budget: 1m\n"):], `jobs: "0": expected a number of parallel jobs >= 1`},
		{"budget: 1m\nmax_failures: -1\n" + echoOnly[len("budget: 1m\n"):], `max_failures: "-1": expected a count of tolerated liveness failures >= 0`},
		{echoOnly + "    thresholds:\n      - counter: x\n        min: -5\n", `scenarios[0].thresholds[0].min: "-5": expected a non-negative integer`},
		{echoOnly + "    thresholds:\n      - counter: x\n        max: 2.5\n", `scenarios[0].thresholds[0].max: "2.5": expected a non-negative integer`},
		{echoOnly + "    thresholds:\n      - counter: x\n", `scenarios[0].thresholds[0]: no bound: expected min, max or both`},
		{echoOnly + "    thresholds:\n      - counter: x\n        min: 5\n        max: 4\n", `min 5 > max 4: no value can hold`},
		{echoOnly + "    thresholds:\n      - counter: x\n        min: 1\n        aggregate: mean\n", `aggregate: "mean": expected per_seed (every seed, the default) or sum`},
		{echoOnly + "    thresholds:\n      - counter: \"[x\"\n        min: 1\n", `counter: "[x": bad pattern`},
		{"budget: 1m\nbudget: 2m\n", `key "budget" given twice`},
		{"budget: 1m\nscenarios: [\n", `gate.yaml: yaml: line`},
		{"", `empty config: expected a mapping of budget, jobs`},
		{"- 1\n", `top level: a list: expected a mapping of budget`},
		{"budget: 1m\njunit:\n" + echoOnly[len("budget: 1m\n"):], `junit: empty: expected a file path`},
	}
	for _, c := range cases {
		configPath, _ := gateConfigFile(t, c.config)
		code, stdout, stderr := vopr("gate", "--config", configPath)
		require.Equal(t, exitUsage, code, "%q: %s", c.config, stderr)
		require.Contains(t, stderr, "vopr: gate: "+configPath, "%q", c.config)
		require.Contains(t, stderr, c.want, "%q", c.config)
		require.Empty(t, stdout, "%q: nothing runs on a config error", c.config)
	}
	for _, args := range [][]string{{"gate"}, {"gate", "--config", filepath.Join(t.TempDir(), "missing.yaml")}, {"gate", "--cfg", "x"}} {
		code, _, stderr := vopr(args...)
		require.Equal(t, exitUsage, code, "%q", args)
		require.Contains(t, stderr, "gate", "%q", args)
	}
}

// A threshold on a counter that its scenario never reports is a config error, not a pass:
// the gate names it and lists the counters the scenario does report.
func TestGateThresholdOnAnUnreportedCounterExits64(t *testing.T) {
	configPath, _ := gateConfigFile(t, `budget: 1m
scenarios:
  - name: echo
    seeds: 1
    ticks_max: 300
    thresholds:
      - counter: echo.pongs_recieved
        min: 1
`)
	code, _, stderr := vopr("gate", "--config", configPath)
	require.Equal(t, exitUsage, code, stderr)
	require.Contains(t, stderr, `gate.yaml:7: scenarios[0].thresholds[0].counter: "echo.pongs_recieved" matches no counter that echo reported over its 1 seed(s): a threshold on nothing cannot pass`)
	require.Contains(t, stderr, "echo.pongs_received")
}

var gateRow = regexp.MustCompile(`(?m)^(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\S+ held|-)\s+\S+$`)

// A small gate that holds exits 0, prints a row per scenario and GATE PASS, and writes JUnit
// (a testcase per seed and per threshold) and JSON that parse.
func TestGatePassesAndWritesJUnitAndJSON(t *testing.T) {
	configPath, dir := gateConfigFile(t, `budget: 2m
jobs: 2
junit: $DIR/out/gate.xml
json: $DIR/out/gate.json
scenarios:
  - name: echo
    seeds: 2
    first_seed: 0x10
    ticks_max: 300
    thresholds:
      - counter: echo.pongs_received
        min: 1
      - counter: net.*
        aggregate: sum
        min: 1
  - name: replica_crash
    seeds: 2
`)
	code, stdout, stderr := vopr("gate", "--config", configPath)
	require.Equal(t, exitPass, code, stderr+stdout)
	rows := gateRow.FindAllStringSubmatch(stdout, -1)
	require.Len(t, rows, 2, stdout)
	require.Equal(t, []string{"echo", "2", "2", "0", "0", "2/2 held"}, rows[0][1:7])
	require.Equal(t, []string{"replica_crash", "2", "2", "0", "0", "-"}, rows[1][1:7])
	require.Contains(t, stdout, "threshold echo echo.pongs_received >= 1: held: observed ")
	require.Regexp(t, `(?m)^GATE PASS: 2 scenario\(s\), 4 of 4 seed\(s\) passed, 2 of 2 threshold\(s\) held, in \S+ of the 2m0s budget$`, stdout)

	var junit report.GateJUnit
	data, err := os.ReadFile(filepath.Join(dir, "out", "gate.xml"))
	require.NoError(t, err)
	require.NoError(t, xml.Unmarshal(data, &junit))
	require.Equal(t, 4+2+2, junit.Tests, "4 seeds, 2 thresholds, budget and max_failures")
	require.Zero(t, junit.Failures)
	require.Equal(t, "seed=16", junit.Suites[0].Cases[0].Name)
	require.Equal(t, "threshold sum(net.*) >= 1", junit.Suites[0].Cases[3].Name)

	var doc report.GateJSON
	data, err = os.ReadFile(filepath.Join(dir, "out", "gate.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &doc))
	require.Equal(t, "pass", doc.Verdict)
	require.Empty(t, doc.Reasons)
	require.Len(t, doc.Scenarios, 2)
	require.Len(t, doc.Scenarios[0].Results, 2)
	require.Equal(t, "held", doc.Scenarios[0].Thresholds[0].Status)
}

// A threshold that cannot hold fails the gate with exit 1 and names the threshold, the value
// and the seed, in the GATE FAIL line and in JUnit. It runs the real performance scenario so
// the counter names the staging config relies on are checked too.
func TestGateViolatedThresholdExits1(t *testing.T) {
	configPath, dir := gateConfigFile(t, `budget: 2m
junit: $DIR/gate.xml
scenarios:
  - name: performance
    seeds: 1
    thresholds:
      - counter: batch_*.p99_us
        max: 0
      - counter: batch_1.ops_per_sec
        min: 1
`)
	code, stdout, _ := vopr("gate", "--config", configPath)
	require.Equal(t, exitCorrectness, code, stdout)
	require.Regexp(t, `(?m)^performance\s+1\s+1\s+0\s+0\s+1/2 held`, stdout)
	require.Regexp(t, `(?m)^GATE FAIL: performance: threshold batch_\*\.p99_us <= 0 violated: 2 of 2 value\(s\) out of bounds, worst \d+ \(batch_1\.p99_us at seed 1\)$`, stdout)
	data, err := os.ReadFile(filepath.Join(dir, "gate.xml"))
	require.NoError(t, err)
	require.Contains(t, string(data), `<testcase name="threshold batch_*.p99_us &lt;= 0" classname="vopr.gate.performance"`)
	require.Contains(t, string(data), `type="violated"`)
}

// A budget too small to run every seed fails the gate (exit 1): a gate that did not finish
// did not pass. The seeds it never saw are skipped testcases, the budget a failed one.
func TestGateBudgetExhaustedFails(t *testing.T) {
	configPath, dir := gateConfigFile(t, `budget: 1ms
junit: $DIR/gate.xml
json: $DIR/gate.json
scenarios:
  - name: echo
    seeds: 20
  - name: replica_crash
    seeds: 1
`)
	code, stdout, _ := vopr("gate", "--config", configPath)
	require.Equal(t, exitCorrectness, code, stdout)
	require.Regexp(t, `(?m)^GATE FAIL: budget 1ms exhausted: \d+ of 21 seed\(s\) did not finish \(echo seeds [0-9, -]+, replica_crash seeds 1\); a gate that did not finish did not pass$`, stdout)
	data, err := os.ReadFile(filepath.Join(dir, "gate.xml"))
	require.NoError(t, err)
	require.Contains(t, string(data), `<skipped message="the gate&#39;s budget ran out before this seed finished"></skipped>`)
	require.Contains(t, string(data), `type="budget"`)
	var doc report.GateJSON
	data, err = os.ReadFile(filepath.Join(dir, "gate.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &doc))
	require.Equal(t, "fail", doc.Verdict)
	require.Equal(t, []uint64{1}, doc.Scenarios[1].NotRun)
}

// Liveness failures alone exit 2; max_failures tolerates them, and says so.
func TestGateLivenessFailuresExit2UnlessTolerated(t *testing.T) {
	const config = `budget: 1m
max_failures: %s
scenarios:
  - name: echo
    seeds: 2
    ticks_max: 1
`
	configPath, _ := gateConfigFile(t, strings.Replace(config, "%s", "0", 1))
	code, stdout, _ := vopr("gate", "--config", configPath)
	require.Equal(t, exitLiveness, code, stdout)
	require.Contains(t, stdout, "echo seed=1 FAIL liveness: no pong arrived after the network healed\n  replay: vopr replay 1 --scenario echo --ticks-max 1\n")
	require.Contains(t, stdout, "GATE FAIL: echo: liveness failure at seed(s) 1-2\n")

	configPath, _ = gateConfigFile(t, strings.Replace(config, "%s", "2", 1))
	code, stdout, _ = vopr("gate", "--config", configPath)
	require.Equal(t, exitPass, code, stdout)
	require.Contains(t, stdout, "; tolerated by max_failures=2: echo: liveness failure at seed(s) 1-2\n")
}

// The shipped staging config parses and runs every registered scenario.
func TestStagingConfigRunsEveryScenario(t *testing.T) {
	cfg, err := report.LoadGateConfig(filepath.Join("..", "..", "gate", "staging.yaml"), scenarios.Lookup)
	require.NoError(t, err)
	require.ElementsMatch(t, scenarios.Names(), cfg.ScenarioNames())
	require.LessOrEqual(t, cfg.Budget().Minutes(), 3.0, "make gate must stay modest")
}
