package main

// vopr gate --config FILE: the pre-deploy staging gate. A YAML file names a wall-time budget,
// the scenarios and seeds to run, how many liveness failures to tolerate and bounds on the
// counters the scenarios report; the gate runs them on the swarm's batch runner, prints one
// row per scenario and a final GATE PASS or GATE FAIL line with every reason, writes JUnit
// and JSON, and exits 0 (pass), 1 (correctness failure, violated threshold, or a budget
// exhausted before every seed ran), 2 (only liveness failures) or 64 (a bad config).

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"vopr/scenarios"
)

// gateConfig is a parsed and checked gate configuration.
type gateConfig struct {
	path   string
	budget time.Duration
	jobs   int
	// maxFailures is how many liveness failures the gate tolerates over all its seeds. A
	// correctness failure is never tolerated: a safety bug is not a flake.
	maxFailures int
	junit, json string
	scenarios   []gateScenario
}

type gateScenario struct {
	scenario   scenarios.Scenario
	firstSeed  uint64
	seeds      int
	ticksMax   int
	thresholds []gateThreshold
}

// gateThreshold bounds a counter. The counter is a name or a path.Match pattern ("batch_*.p99_us"),
// because some names carry a per-seed value (the performance scenario's batch size).
type gateThreshold struct {
	where          string // its place in the config ("scenarios[3].thresholds[0]"), for messages
	line           int
	counter        string
	min, max       uint64
	hasMin, hasMax bool
	// sum bounds each matching counter summed over the scenario's seeds (coverage over a
	// batch); otherwise the bound holds on every seed that reports the counter.
	sum bool
	// required marks an entry of the scenario's coverage list: a sum >= 1 that names every
	// matching counter the batch never reached (gate_coverage.go).
	required bool
}

var (
	gateKeys          = []string{"budget", "jobs", "max_failures", "junit", "json", "scenarios"}
	gateScenarioKeys  = []string{"name", "seeds", "first_seed", "ticks_max", "thresholds", "coverage"}
	gateThresholdKeys = []string{"counter", "min", "max", "aggregate"}
)

func cmdGate(args []string, stdout io.Writer) (int, error) {
	fs := newFlagSet("gate")
	configPath := fs.String("config", "", "the gate's YAML config file")
	if err := parseFlags(fs, args); err != nil {
		return 0, err
	}
	if *configPath == "" {
		return 0, usagef("gate: --config FILE is required (see gate/staging.yaml)")
	}
	cfg, err := loadGateConfig(*configPath)
	if err != nil {
		return 0, err
	}
	if err := cfg.prepareOutputs(); err != nil {
		return 0, err
	}
	began := time.Now()
	runs, err := runGate(cfg, stdout)
	if err != nil {
		return 0, err
	}
	verdict := judgeGate(cfg, runs)
	printGateDetails(stdout, runs)
	printGateVerdict(stdout, cfg, runs, verdict, time.Since(began))
	if err := writeGateJSON(cfg, runs, verdict, time.Since(began)); err != nil {
		return 0, err
	}
	if err := writeGateJUnit(cfg, runs); err != nil {
		return 0, err
	}
	return verdict.code, nil
}

// prepareOutputs removes the reports of an earlier gate and creates their directories, before
// any budget is spent: a gate that stops on an error must not leave an older run's passing
// report for CI to read.
func (cfg gateConfig) prepareOutputs() error {
	for _, out := range []string{cfg.junit, cfg.json} {
		if out == "" {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return err
		}
		if err := os.Remove(out); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	return nil
}

// configParser turns YAML nodes into a gateConfig; every error names the file, the line,
// the key, the value and what was expected, and exits 64.
type configParser struct{ path string }

func (p configParser) errorf(n *yaml.Node, format string, args ...any) error {
	return usagef("gate: %s:%d: %s", p.path, n.Line, fmt.Sprintf(format, args...))
}

func loadGateConfig(configPath string) (gateConfig, error) {
	data, err := os.ReadFile(configPath)
	if err != nil {
		return gateConfig{}, usagef("gate: --config: %v", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return gateConfig{}, usagef("gate: %s: %v", configPath, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return gateConfig{}, usagef("gate: %s: empty config: expected a mapping of %s", configPath, strings.Join(gateKeys, ", "))
	}
	return configParser{configPath}.gate(doc.Content[0])
}

func (p configParser) gate(n *yaml.Node) (gateConfig, error) {
	cfg := gateConfig{path: p.path, jobs: 1}
	fields, err := p.mapping(n, "", gateKeys, "budget", "scenarios")
	if err != nil {
		return cfg, err
	}
	if cfg.budget, err = p.duration(fields["budget"], "budget"); err != nil {
		return cfg, err
	}
	if v, ok := fields["jobs"]; ok {
		if cfg.jobs, err = p.integer(v, "jobs", 1, "a number of parallel jobs >= 1"); err != nil {
			return cfg, err
		}
	}
	if v, ok := fields["max_failures"]; ok {
		if cfg.maxFailures, err = p.integer(v, "max_failures", 0, "a count of tolerated liveness failures >= 0"); err != nil {
			return cfg, err
		}
	}
	for _, out := range []struct {
		key  string
		path *string
	}{{"junit", &cfg.junit}, {"json", &cfg.json}} {
		if v, ok := fields[out.key]; ok {
			if *out.path, err = p.scalar(v, out.key, "a file path (leave the key out to write none)"); err != nil {
				return cfg, err
			}
		}
	}
	cfg.scenarios, err = p.scenarioList(fields["scenarios"])
	return cfg, err
}

func (p configParser) scenarioList(n *yaml.Node) ([]gateScenario, error) {
	n = deref(n)
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		return nil, p.errorf(n, "scenarios: %s: expected a non-empty list of scenarios, each a mapping of %s",
			describeNode(n), strings.Join(gateScenarioKeys, ", "))
	}
	var list []gateScenario
	firstLine := map[string]int{}
	for i, item := range n.Content {
		s, err := p.scenarioEntry(item, fmt.Sprintf("scenarios[%d]", i))
		if err != nil {
			return nil, err
		}
		if line, dup := firstLine[s.scenario.Name]; dup {
			return nil, p.errorf(item, "scenarios[%d].name: %q is already listed at line %d: expected each scenario once",
				i, s.scenario.Name, line)
		}
		firstLine[s.scenario.Name] = item.Line
		list = append(list, s)
	}
	return list, nil
}

func (p configParser) scenarioEntry(n *yaml.Node, where string) (gateScenario, error) {
	s := gateScenario{firstSeed: 1}
	fields, err := p.mapping(n, where, gateScenarioKeys, "name", "seeds")
	if err != nil {
		return s, err
	}
	name, err := p.scalar(fields["name"], where+".name", "a scenario name")
	if err != nil {
		return s, err
	}
	var ok bool
	if s.scenario, ok = lookupScenario(name); !ok {
		return s, p.errorf(fields["name"], "%s.name: unknown scenario %q: expected one of %v", where, name, scenarios.Names())
	}
	if s.seeds, err = p.integer(fields["seeds"], where+".seeds", 1, "a seed count >= 1"); err != nil {
		return s, err
	}
	if v, ok := fields["first_seed"]; ok {
		if s.firstSeed, err = p.seed(v, where+".first_seed"); err != nil {
			return s, err
		}
	}
	if s.firstSeed+uint64(s.seeds-1) < s.firstSeed {
		return s, p.errorf(fields["seeds"], "%s: first_seed %d + seeds %d runs past the largest seed 2^64-1", where, s.firstSeed, s.seeds)
	}
	if v, ok := fields["ticks_max"]; ok {
		if s.ticksMax, err = p.integer(v, where+".ticks_max", 0, "a tick budget per seed >= 0 (0 = the scenario's default)"); err != nil {
			return s, err
		}
	}
	if v, ok := fields["thresholds"]; ok {
		if s.thresholds, err = p.thresholdList(v, where+".thresholds"); err != nil {
			return s, err
		}
	}
	if v, ok := fields["coverage"]; ok {
		required, err := p.coverageList(v, where+".coverage")
		s.thresholds = append(s.thresholds, required...)
		return s, err
	}
	return s, nil
}

func (p configParser) thresholdList(n *yaml.Node, where string) ([]gateThreshold, error) {
	n = deref(n)
	if n.Kind != yaml.SequenceNode {
		return nil, p.errorf(n, "%s: %s: expected a list of thresholds, each a mapping of %s",
			where, describeNode(n), strings.Join(gateThresholdKeys, ", "))
	}
	var list []gateThreshold
	for i, item := range n.Content {
		t, err := p.threshold(item, fmt.Sprintf("%s[%d]", where, i))
		if err != nil {
			return nil, err
		}
		list = append(list, t)
	}
	return list, nil
}

func (p configParser) threshold(n *yaml.Node, where string) (gateThreshold, error) {
	t := gateThreshold{where: where, line: deref(n).Line}
	fields, err := p.mapping(n, where, gateThresholdKeys, "counter")
	if err != nil {
		return t, err
	}
	if t.counter, err = p.scalar(fields["counter"], where+".counter", "a counter name or pattern (vopr run prints them)"); err != nil {
		return t, err
	}
	if _, err := path.Match(t.counter, ""); err != nil {
		return t, p.errorf(fields["counter"], "%s.counter: %q: bad pattern: expected a name, * or [class]", where, t.counter)
	}
	if v, ok := fields["min"]; ok {
		t.hasMin = true
		if t.min, err = p.bound(v, where+".min"); err != nil {
			return t, err
		}
	}
	if v, ok := fields["max"]; ok {
		t.hasMax = true
		if t.max, err = p.bound(v, where+".max"); err != nil {
			return t, err
		}
	}
	switch {
	case !t.hasMin && !t.hasMax:
		return t, p.errorf(n, "%s: no bound: expected min, max or both", where)
	case t.hasMin && t.hasMax && t.min > t.max:
		return t, p.errorf(n, "%s: min %d > max %d: no value can hold", where, t.min, t.max)
	}
	if v, ok := fields["aggregate"]; ok {
		agg, err := p.scalar(v, where+".aggregate", "per_seed or sum")
		if err != nil || (agg != "per_seed" && agg != "sum") {
			return t, p.errorf(v, "%s.aggregate: %s: expected per_seed (every seed, the default) or sum (over the scenario's seeds)",
				where, describeNode(v))
		}
		t.sum = agg == "sum"
	}
	return t, nil
}

// mapping checks that n is a mapping holding only allowed keys, each once, and the required
// ones, and returns its values by key. A misspelt key is an error, never an ignored line.
func (p configParser) mapping(n *yaml.Node, where string, allowed []string, required ...string) (map[string]*yaml.Node, error) {
	n = deref(n)
	label := where
	if label == "" {
		label = "top level"
	}
	if n.Kind != yaml.MappingNode {
		return nil, p.errorf(n, "%s: %s: expected a mapping of %s", label, describeNode(n), strings.Join(allowed, ", "))
	}
	fields := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, value := n.Content[i], n.Content[i+1]
		if !slices.Contains(allowed, key.Value) {
			return nil, p.errorf(key, "%s: unknown key %q: expected one of %s", label, key.Value, strings.Join(allowed, ", "))
		}
		if _, dup := fields[key.Value]; dup {
			return nil, p.errorf(key, "%s: key %q given twice", label, key.Value)
		}
		fields[key.Value] = value
	}
	for _, key := range required {
		if _, ok := fields[key]; !ok {
			return nil, p.errorf(n, "%s: missing key %q", label, key)
		}
	}
	return fields, nil
}

func (p configParser) scalar(n *yaml.Node, where, expected string) (string, error) {
	n = deref(n)
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" || n.Value == "" {
		return "", p.errorf(n, "%s: %s: expected %s", where, describeNode(n), expected)
	}
	return n.Value, nil
}

func (p configParser) integer(n *yaml.Node, where string, least int, expected string) (int, error) {
	s, err := p.scalar(n, where, expected)
	if err != nil {
		return 0, err
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < least {
		return 0, p.errorf(n, "%s: %q: expected %s", where, s, expected)
	}
	return v, nil
}

func (p configParser) bound(n *yaml.Node, where string) (uint64, error) {
	const expected = "a non-negative integer (counters are unsigned integers)"
	s, err := p.scalar(n, where, expected)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, p.errorf(n, "%s: %q: expected %s", where, s, expected)
	}
	return v, nil
}

func (p configParser) duration(n *yaml.Node, where string) (time.Duration, error) {
	const expected = "a wall-time budget > 0 for the whole gate, as a Go duration (90s, 3m, 1h30m)"
	s, err := p.scalar(n, where, expected)
	if err != nil {
		return 0, err
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, p.errorf(n, "%s: %q: expected %s", where, s, expected)
	}
	return d, nil
}

func (p configParser) seed(n *yaml.Node, where string) (uint64, error) {
	s, err := p.scalar(n, where, "a seed")
	if err != nil {
		return 0, err
	}
	v, err := parseSeed(s)
	if err != nil {
		return 0, p.errorf(n, "%s: %v", where, err)
	}
	return v, nil
}

// deref follows a YAML alias (*name) to the node it names.
func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func describeNode(n *yaml.Node) string {
	n = deref(n)
	switch {
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Tag == "!!null" || n.Value == "":
		return "empty"
	}
	return strconv.Quote(n.Value)
}

// gateRun is what one scenario's batch produced.
type gateRun struct {
	gateScenario
	results []scenarios.Result
	notRun  []uint64 // planned seeds that did not finish within the budget
	checks  []thresholdCheck
	wall    time.Duration
}

type thresholdCheck struct {
	gateThreshold
	status string // checkHeld, checkViolated or checkNotEvaluated
	detail string
}

// A threshold that was not evaluated fails the gate like a violated one: no evidence is not
// a pass.
const (
	checkHeld         = "held"
	checkViolated     = "violated"
	checkNotEvaluated = "not evaluated"
)

// runGate runs the scenarios in config order, all under one deadline, printing each row as
// its scenario finishes so a CI log shows progress.
func runGate(cfg gateConfig, stdout io.Writer) ([]gateRun, error) {
	seeds, thresholds := 0, 0
	for _, s := range cfg.scenarios {
		seeds, thresholds = seeds+s.seeds, thresholds+len(s.thresholds)
	}
	fmt.Fprintf(stdout, "gate config=%s budget=%s jobs=%d max_failures=%d: %d scenario(s), %d seed(s), %d threshold(s)\n",
		cfg.path, cfg.budget, cfg.jobs, cfg.maxFailures, len(cfg.scenarios), seeds, thresholds)
	fmt.Fprintf(stdout, "%-20s %6s %7s %7s %8s %-12s %10s\n", "scenario", "seeds", "passed", "failed", "not_run", "thresholds", "wall_time")
	deadline := time.Now().Add(cfg.budget)
	var runs []gateRun
	for _, s := range cfg.scenarios {
		run := runGateScenario(s, cfg.jobs, deadline)
		for i := range run.checks {
			if err := run.checks[i].configError(cfg.path, run); err != nil {
				return nil, err
			}
		}
		printGateRow(stdout, run)
		runs = append(runs, run)
	}
	return runs, nil
}

func runGateScenario(s gateScenario, jobs int, deadline time.Time) gateRun {
	began := time.Now()
	run := gateRun{gateScenario: s}
	if time.Now().Before(deadline) {
		i := 0
		batch := seedBatch{scenario: s.scenario, ticksMax: s.ticksMax, jobs: jobs, abandonAt: deadline,
			next: func() (uint64, bool) {
				if i >= s.seeds {
					return 0, false
				}
				i++
				return s.firstSeed + uint64(i-1), true
			}}
		run.results = batch.run()
	}
	finished := map[uint64]bool{}
	for _, r := range run.results {
		finished[r.Seed] = true
	}
	for i := 0; i < s.seeds; i++ {
		if seed := s.firstSeed + uint64(i); !finished[seed] {
			run.notRun = append(run.notRun, seed)
		}
	}
	for _, t := range s.thresholds {
		run.checks = append(run.checks, t.check(run))
	}
	run.wall = time.Since(began)
	return run
}

// configError reports a threshold that matched no counter although every seed ran and
// passed: its counter does not exist (a typo, or a name this scenario never reports), and a
// threshold on nothing must not pass silently.
func (c thresholdCheck) configError(configPath string, run gateRun) error {
	if c.status != checkNotEvaluated || len(run.notRun) > 0 {
		return nil
	}
	reported := map[string]bool{}
	for _, r := range run.results {
		if r.Outcome != scenarios.Pass {
			return nil // a failed seed may not have reached its counters; the gate fails anyway
		}
		for name := range r.Counters {
			reported[name] = true
		}
	}
	names := make([]string, 0, len(reported))
	for name := range reported {
		names = append(names, name)
	}
	sortStrings(names)
	field := c.where
	if !c.required {
		field += ".counter"
	}
	return usagef("gate: %s:%d: %s: %q matches no counter that %s reported over its %d seed(s): a %s on nothing cannot pass; it reports: %s",
		configPath, c.line, field, c.counter, run.scenario.Name, len(run.results), c.label(), strings.Join(names, ", "))
}

// observation is one value a threshold looked at.
type observation struct {
	value   uint64
	counter string
	seed    uint64 // 0 with aggregate sum
}

func (t gateThreshold) check(run gateRun) thresholdCheck {
	c := thresholdCheck{gateThreshold: t, status: checkNotEvaluated, detail: "no finished seed reported a matching counter"}
	observed := t.observe(run.results)
	if len(observed) == 0 {
		return c
	}
	lo, hi, worst, violations := observed[0], observed[0], observation{}, 0
	worstBy := uint64(0)
	for _, o := range observed {
		if o.value < lo.value {
			lo = o
		}
		if o.value > hi.value {
			hi = o
		}
		if by, out := t.outside(o.value); out {
			violations++
			if by >= worstBy {
				worst, worstBy = o, by
			}
		}
	}
	if violations == 0 {
		c.status, c.detail = checkHeld, fmt.Sprintf("observed %d..%d over %d value(s)", lo.value, hi.value, len(observed))
		return c
	}
	c.status = checkViolated
	if t.required {
		c.detail = neverReached(observed, len(run.results))
		return c
	}
	c.detail = fmt.Sprintf("%d of %d value(s) out of bounds, worst %d (%s)", violations, len(observed), worst.value, worst.where())
	return c
}

// observe returns the values the threshold bounds: every matching counter of every seed, or
// each matching counter summed over the seeds.
func (t gateThreshold) observe(results []scenarios.Result) []observation {
	var observed []observation
	sums := map[string]uint64{}
	var names []string
	for _, r := range results {
		for _, name := range r.CounterNames() {
			if ok, _ := path.Match(t.counter, name); !ok {
				continue
			}
			if !t.sum {
				observed = append(observed, observation{value: r.Counters[name], counter: name, seed: r.Seed})
				continue
			}
			if _, seen := sums[name]; !seen {
				names = append(names, name)
			}
			sums[name] += r.Counters[name]
		}
	}
	sortStrings(names)
	for _, name := range names {
		observed = append(observed, observation{value: sums[name], counter: name})
	}
	return observed
}

// outside reports whether v breaks a bound, and by how much (to pick the worst offender).
func (t gateThreshold) outside(v uint64) (uint64, bool) {
	switch {
	case t.hasMax && v > t.max:
		return v - t.max, true
	case t.hasMin && v < t.min:
		return t.min - v, true
	}
	return 0, false
}

func (o observation) where() string {
	if o.seed == 0 {
		return o.counter + " summed over the seeds"
	}
	return fmt.Sprintf("%s at seed %d", o.counter, o.seed)
}

// String is the threshold as a reader would write it: "batch_1.p99_us <= 10000",
// "sum(coverage.fault.*) >= 1".
func (t gateThreshold) String() string {
	name := t.counter
	if t.sum {
		name = "sum(" + name + ")"
	}
	switch {
	case t.hasMin && t.hasMax:
		return fmt.Sprintf("%d <= %s <= %d", t.min, name, t.max)
	case t.hasMin:
		return fmt.Sprintf("%s >= %d", name, t.min)
	}
	return fmt.Sprintf("%s <= %d", name, t.max)
}

func (run gateRun) tally() (passed, correctness, liveness []uint64) {
	for _, r := range run.results {
		switch r.Outcome {
		case scenarios.Pass:
			passed = append(passed, r.Seed)
		case scenarios.Correctness:
			correctness = append(correctness, r.Seed)
		default:
			liveness = append(liveness, r.Seed)
		}
	}
	return passed, correctness, liveness
}

func (run gateRun) thresholdsHeld() int {
	held := 0
	for _, c := range run.checks {
		if c.status == checkHeld {
			held++
		}
	}
	return held
}

func printGateRow(w io.Writer, run gateRun) {
	passed, correctness, liveness := run.tally()
	thresholds := "-"
	if len(run.checks) > 0 {
		thresholds = fmt.Sprintf("%d/%d held", run.thresholdsHeld(), len(run.checks))
	}
	fmt.Fprintf(w, "%-20s %6d %7d %7d %8d %-12s %10s\n", run.scenario.Name, run.seeds, len(passed),
		len(correctness)+len(liveness), len(run.notRun), thresholds, run.wall.Round(time.Millisecond))
}

// printGateDetails lists each failing seed with its replay command, then every threshold
// check with what it observed.
func printGateDetails(w io.Writer, runs []gateRun) {
	for _, run := range runs {
		for _, r := range run.results {
			if r.Outcome != scenarios.Pass {
				fmt.Fprintf(w, "%s seed=%d FAIL %s: %s\n  replay: %s\n", r.Scenario, r.Seed, r.Outcome, r.Reason,
					replayCommand(r, run.ticksMax))
			}
		}
	}
	for _, run := range runs {
		for _, c := range run.checks {
			fmt.Fprintf(w, "%s %s %s: %s: %s\n", c.label(), run.scenario.Name, c, c.status, c.detail)
		}
	}
}

// gateVerdict is the gate's exit code and every reason it did not pass.
type gateVerdict struct {
	code      int
	reasons   []string
	tolerated []string // liveness failures within max_failures
}

func (v *gateVerdict) fail(code int, reason string) {
	v.reasons = append(v.reasons, reason)
	if code == exitCorrectness || v.code == exitPass {
		v.code = code
	}
}

func judgeGate(cfg gateConfig, runs []gateRun) gateVerdict {
	var v gateVerdict
	var liveness []string
	livenessCount, notRun, planned := 0, 0, 0
	var unfinished []string
	for _, run := range runs {
		_, correctness, live := run.tally()
		if len(correctness) > 0 {
			v.fail(exitCorrectness, fmt.Sprintf("%s: correctness failure at seed(s) %s", run.scenario.Name, seedRanges(correctness)))
		}
		if len(live) > 0 {
			liveness = append(liveness, fmt.Sprintf("%s: liveness failure at seed(s) %s", run.scenario.Name, seedRanges(live)))
			livenessCount += len(live)
		}
		for _, c := range run.checks {
			if c.status != checkHeld {
				v.fail(exitCorrectness, fmt.Sprintf("%s: %s %s %s: %s", run.scenario.Name, c.label(), c, c.status, c.detail))
			}
		}
		planned, notRun = planned+run.seeds, notRun+len(run.notRun)
		if len(run.notRun) > 0 {
			unfinished = append(unfinished, run.scenario.Name+" seeds "+seedRanges(run.notRun))
		}
	}
	if livenessCount > cfg.maxFailures {
		for _, reason := range liveness {
			v.fail(exitLiveness, reason)
		}
		if cfg.maxFailures > 0 {
			v.fail(exitLiveness, fmt.Sprintf("%d liveness failures exceed max_failures=%d", livenessCount, cfg.maxFailures))
		}
	} else {
		v.tolerated = liveness
	}
	if notRun > 0 {
		v.fail(exitCorrectness, fmt.Sprintf("budget %s exhausted: %d of %d seed(s) did not finish (%s); a gate that did not finish did not pass",
			cfg.budget, notRun, planned, strings.Join(unfinished, ", ")))
	}
	return v
}

func printGateVerdict(w io.Writer, cfg gateConfig, runs []gateRun, v gateVerdict, wall time.Duration) {
	if v.code != exitPass {
		fmt.Fprintf(w, "GATE FAIL: %s\n", strings.Join(v.reasons, "; "))
		return
	}
	seeds, passed, thresholds, held := 0, 0, 0, 0
	for _, run := range runs {
		p, _, _ := run.tally()
		seeds, passed = seeds+run.seeds, passed+len(p)
		thresholds, held = thresholds+len(run.checks), held+run.thresholdsHeld()
	}
	line := fmt.Sprintf("GATE PASS: %d scenario(s), %d of %d seed(s) passed, %d of %d threshold(s) held, in %s of the %s budget",
		len(runs), passed, seeds, held, thresholds, wall.Round(time.Millisecond), cfg.budget)
	if len(v.tolerated) > 0 {
		line += fmt.Sprintf("; tolerated by max_failures=%d: %s", cfg.maxFailures, strings.Join(v.tolerated, "; "))
	}
	fmt.Fprintln(w, line)
}

// seedRanges prints sorted seeds compactly: "1-3, 7".
func seedRanges(seeds []uint64) string {
	var parts []string
	for i := 0; i < len(seeds); {
		j := i
		for j+1 < len(seeds) && seeds[j+1] == seeds[j]+1 {
			j++
		}
		if j == i {
			parts = append(parts, strconv.FormatUint(seeds[i], 10))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", seeds[i], seeds[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ", ")
}

type gateJSON struct {
	Config      string             `json:"config"`
	Verdict     string             `json:"verdict"` // pass or fail
	ExitCode    int                `json:"exit_code"`
	Reasons     []string           `json:"reasons"`
	Tolerated   []string           `json:"tolerated,omitempty"`
	Budget      string             `json:"budget"`
	WallTimeNs  int64              `json:"wall_time_ns"`
	Jobs        int                `json:"jobs"`
	MaxFailures int                `json:"max_failures"`
	Scenarios   []gateScenarioJSON `json:"scenarios"`
}

type gateScenarioJSON struct {
	Scenario   string              `json:"scenario"`
	FirstSeed  uint64              `json:"first_seed"`
	Seeds      int                 `json:"seeds"`
	TicksMax   int                 `json:"ticks_max"`
	Passed     int                 `json:"passed"`
	Failed     int                 `json:"failed"`
	NotRun     []uint64            `json:"not_run,omitempty"`
	WallTimeNs int64               `json:"wall_time_ns"`
	Thresholds []gateThresholdJSON `json:"thresholds,omitempty"`
	Results    []jsonResult        `json:"results"`
}

type gateThresholdJSON struct {
	Check     string  `json:"check"` // as printed: "batch_1.p99_us <= 10000"
	Counter   string  `json:"counter"`
	Aggregate string  `json:"aggregate"`
	Min       *uint64 `json:"min,omitempty"`
	Max       *uint64 `json:"max,omitempty"`
	Status    string  `json:"status"`
	Detail    string  `json:"detail"`
}

func writeGateJSON(cfg gateConfig, runs []gateRun, v gateVerdict, wall time.Duration) error {
	if cfg.json == "" {
		return nil
	}
	out := gateJSON{Config: cfg.path, Verdict: "pass", ExitCode: v.code, Reasons: append([]string{}, v.reasons...),
		Tolerated: v.tolerated, Budget: cfg.budget.String(), WallTimeNs: int64(wall), Jobs: cfg.jobs, MaxFailures: cfg.maxFailures}
	if v.code != exitPass {
		out.Verdict = "fail"
	}
	for _, run := range runs {
		passed, correctness, liveness := run.tally()
		s := gateScenarioJSON{Scenario: run.scenario.Name, FirstSeed: run.firstSeed, Seeds: run.seeds, TicksMax: run.ticksMax,
			Passed: len(passed), Failed: len(correctness) + len(liveness), NotRun: run.notRun, WallTimeNs: int64(run.wall),
			Results: []jsonResult{}}
		for _, c := range run.checks {
			s.Thresholds = append(s.Thresholds, c.json())
		}
		for _, r := range run.results {
			s.Results = append(s.Results, gateJSONResult(r, run.ticksMax))
		}
		out.Scenarios = append(out.Scenarios, s)
	}
	var data bytes.Buffer
	enc := json.NewEncoder(&data)
	enc.SetEscapeHTML(false) // the checks read "p99_us <= 10000", not "\u003c="
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	return os.WriteFile(cfg.json, data.Bytes(), 0o644)
}

func (c thresholdCheck) json() gateThresholdJSON {
	j := gateThresholdJSON{Check: c.String(), Counter: c.counter, Aggregate: "per_seed", Status: c.status, Detail: c.detail}
	if c.sum {
		j.Aggregate = "sum"
	}
	if c.hasMin {
		j.Min = &c.min
	}
	if c.hasMax {
		j.Max = &c.max
	}
	return j
}

// gateJSONResult is one seed as vopr run --json writes it.
func gateJSONResult(r scenarios.Result, ticksMax int) jsonResult {
	j := jsonResult{Scenario: r.Scenario, Seed: r.Seed, Params: r.Params, Outcome: r.Outcome.String(), Reason: r.Reason,
		TraceHash: fmt.Sprintf("%016x", r.TraceHash), SimTimeNs: int64(r.SimTime), Counters: r.Counters}
	if r.Outcome != scenarios.Pass {
		j.Replay = replayCommand(r, ticksMax)
	}
	return j
}

// gateJUnit holds one testsuite per scenario (a testcase per seed, then one per threshold) and
// a last one for what belongs to the whole gate (the budget and max_failures).
type gateJUnit struct {
	XMLName  xml.Name         `xml:"testsuites"`
	Name     string           `xml:"name,attr"`
	Tests    int              `xml:"tests,attr"`
	Failures int              `xml:"failures,attr"`
	Skipped  int              `xml:"skipped,attr"`
	Suites   []gateJUnitSuite `xml:"testsuite"`
}

type gateJUnitSuite struct {
	Name     string          `xml:"name,attr"`
	Tests    int             `xml:"tests,attr"`
	Failures int             `xml:"failures,attr"`
	Skipped  int             `xml:"skipped,attr"`
	Cases    []gateJUnitCase `xml:"testcase"`
}

// gateJUnitCase is the swarm's testcase plus <skipped>, for seeds the budget left unrun.
type gateJUnitCase struct {
	junitCase
	Skipped *junitSkipped `xml:"skipped,omitempty"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

func (s *gateJUnitSuite) add(c gateJUnitCase) {
	s.Tests++
	if c.Failure != nil {
		s.Failures++
	}
	if c.Skipped != nil {
		s.Skipped++
	}
	s.Cases = append(s.Cases, c)
}

func writeGateJUnit(cfg gateConfig, runs []gateRun) error {
	if cfg.junit == "" {
		return nil
	}
	doc := gateJUnit{Name: "vopr gate " + cfg.path}
	for _, run := range runs {
		doc.Suites = append(doc.Suites, run.junitSuite())
	}
	doc.Suites = append(doc.Suites, gateLimitsSuite(cfg, runs))
	for _, s := range doc.Suites {
		doc.Tests, doc.Failures, doc.Skipped = doc.Tests+s.Tests, doc.Failures+s.Failures, doc.Skipped+s.Skipped
	}
	data, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(cfg.junit, append([]byte(xml.Header), append(data, '\n')...), 0o644)
}

func (run gateRun) junitSuite() gateJUnitSuite {
	suite := gateJUnitSuite{Name: "vopr.gate." + run.scenario.Name}
	for _, r := range run.results {
		suite.add(gateJUnitCase{junitCase: seedCase(r, run.ticksMax)})
	}
	for _, seed := range run.notRun {
		suite.add(gateJUnitCase{junitCase: junitCase{Name: fmt.Sprintf("seed=%d", seed), ClassName: "vopr." + run.scenario.Name},
			Skipped: &junitSkipped{Message: "the gate's budget ran out before this seed finished"}})
	}
	for _, c := range run.checks {
		tc := gateJUnitCase{junitCase: junitCase{Name: c.label() + " " + c.String(), ClassName: "vopr.gate." + run.scenario.Name}}
		if c.status != checkHeld {
			tc.Failure = &junitFailure{Message: c.detail, Type: c.status}
		}
		suite.add(tc)
	}
	return suite
}

// gateLimitsSuite holds the verdicts that belong to no single seed or threshold.
func gateLimitsSuite(cfg gateConfig, runs []gateRun) gateJUnitSuite {
	suite := gateJUnitSuite{Name: "vopr.gate"}
	budget := gateJUnitCase{junitCase: junitCase{Name: "budget " + cfg.budget.String(), ClassName: "vopr.gate"}}
	notRun, liveness := 0, 0
	for _, run := range runs {
		_, _, live := run.tally()
		notRun, liveness = notRun+len(run.notRun), liveness+len(live)
	}
	if notRun > 0 {
		budget.Failure = &junitFailure{Message: fmt.Sprintf("%d seed(s) did not finish within the budget", notRun), Type: "budget"}
	}
	suite.add(budget)
	failures := gateJUnitCase{junitCase: junitCase{Name: fmt.Sprintf("max_failures %d", cfg.maxFailures), ClassName: "vopr.gate"}}
	if liveness > cfg.maxFailures {
		failures.Failure = &junitFailure{Message: fmt.Sprintf("%d liveness failure(s), %d tolerated", liveness, cfg.maxFailures),
			Type: "liveness"}
	}
	suite.add(failures)
	return suite
}
