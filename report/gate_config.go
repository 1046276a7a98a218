package report

// The staging gate's config (vopr gate --config FILE): YAML read strictly, every error naming
// the file, the line, the key, the value and what was expected (exit 64).

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"vopr/scenarios"
)

// GateConfig is a parsed and checked gate configuration.
type GateConfig struct {
	path   string
	budget time.Duration
	jobs   int
	// maxFailures is how many liveness failures the gate tolerates over all its seeds. A
	// correctness failure is never tolerated: a safety bug is not a flake.
	maxFailures int
	junit, json string
	scenarios   []GateScenario
}

type GateScenario struct {
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

// PrepareOutputs removes the reports of an earlier gate and creates their directories, before
// any budget is spent: a gate that stops on an error must not leave an older run's passing
// report for CI to read.
func (cfg GateConfig) PrepareOutputs() error {
	for _, out := range []string{cfg.junit, cfg.json} {
		if err := CheckWritable(out); err != nil {
			return err
		}
	}
	return nil
}

// Path is the config file's path.
func (cfg GateConfig) Path() string { return cfg.path }

// Budget is the gate's wall-time budget.
func (cfg GateConfig) Budget() time.Duration { return cfg.budget }

// ScenarioNames are the scenarios the gate runs, in order.
func (cfg GateConfig) ScenarioNames() []string {
	var names []string
	for _, s := range cfg.scenarios {
		names = append(names, s.scenario.Name)
	}
	return names
}

// configParser turns YAML nodes into a GateConfig; every error names the file, the line,
// the key, the value and what was expected, and exits 64.
type configParser struct {
	path   string
	lookup func(string) (scenarios.Scenario, bool)
}

func (p configParser) errorf(n *yaml.Node, format string, args ...any) error {
	return configErrorf("gate: %s:%d: %s", p.path, n.Line, fmt.Sprintf(format, args...))
}

func LoadGateConfig(configPath string, lookup func(string) (scenarios.Scenario, bool)) (GateConfig, error) {
	data, err := os.ReadFile(configPath)
	if err != nil {
		return GateConfig{}, configErrorf("gate: --config: %v", err)
	}
	doc, err := singleDocument(configPath, data)
	if err != nil {
		return GateConfig{}, err
	}
	return configParser{path: configPath, lookup: lookup}.gate(doc.Content[0])
}

func (p configParser) gate(n *yaml.Node) (GateConfig, error) {
	cfg := GateConfig{path: p.path, jobs: 1}
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

func (p configParser) scenarioList(n *yaml.Node) ([]GateScenario, error) {
	n = deref(n)
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		return nil, p.errorf(n, "scenarios: %s: expected a non-empty list of scenarios, each a mapping of %s",
			describeNode(n), strings.Join(gateScenarioKeys, ", "))
	}
	var list []GateScenario
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

func (p configParser) scenarioEntry(n *yaml.Node, where string) (GateScenario, error) {
	s := GateScenario{firstSeed: 1}
	fields, err := p.mapping(n, where, gateScenarioKeys, "name", "seeds")
	if err != nil {
		return s, err
	}
	name, err := p.scalar(fields["name"], where+".name", "a scenario name")
	if err != nil {
		return s, err
	}
	var ok bool
	if s.scenario, ok = p.lookup(name); !ok {
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
	v, err := scenarios.ParseSeed(s)
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

// singleDocument parses a YAML file that must hold exactly one non-empty document: an
// empty file, or a second document after ---, is an error rather than a silently ignored
// part of the config.
func singleDocument(configPath string, data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, configErrorf("gate: %s: empty config: expected a mapping of %s", configPath, strings.Join(gateKeys, ", "))
		}
		return nil, configErrorf("gate: %s: %v", configPath, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, configErrorf("gate: %s: empty config: expected a mapping of %s", configPath, strings.Join(gateKeys, ", "))
	}
	var second yaml.Node
	if err := dec.Decode(&second); !errors.Is(err, io.EOF) {
		line := second.Line
		if err != nil {
			return nil, configErrorf("gate: %s: after the first document: %v", configPath, err)
		}
		return nil, configErrorf("gate: %s:%d: a second YAML document: expected one config per file", configPath, line)
	}
	return &doc, nil
}
