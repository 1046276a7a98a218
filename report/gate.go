package report

// vopr gate --config FILE: the pre-deploy staging gate. A YAML file names a wall-time budget,
// the scenarios and seeds to run, how many liveness failures to tolerate and bounds on the
// counters the scenarios report; the gate runs them on the swarm's batch runner, prints one
// row per scenario and a final GATE PASS or GATE FAIL line with every reason, writes JUnit
// and JSON, and exits 0 (pass), 1 (correctness failure, violated threshold, or a budget
// exhausted before every seed ran), 2 (only liveness failures) or 64 (a bad config).

import (
	"fmt"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"vopr/scenarios"
)

// GateRun is what one scenario's batch produced.
type GateRun struct {
	GateScenario
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

// RunGate runs the scenarios in config order, all under one deadline, printing each row as
// its scenario finishes so a CI log shows progress.
func RunGate(cfg GateConfig, stdout io.Writer, runBatch BatchRunner) ([]GateRun, error) {
	seeds, thresholds := 0, 0
	for _, s := range cfg.scenarios {
		seeds, thresholds = seeds+s.seeds, thresholds+len(s.thresholds)
	}
	fmt.Fprintf(stdout, "gate config=%s budget=%s jobs=%d max_failures=%d: %d scenario(s), %d seed(s), %d threshold(s)\n",
		cfg.path, cfg.budget, cfg.jobs, cfg.maxFailures, len(cfg.scenarios), seeds, thresholds)
	fmt.Fprintf(stdout, "%-20s %6s %7s %7s %8s %-12s %10s\n", "scenario", "seeds", "passed", "failed", "not_run", "thresholds", "wall_time")
	deadline := time.Now().Add(cfg.budget)
	var runs []GateRun
	for _, s := range cfg.scenarios {
		run := runGateScenario(s, cfg.jobs, deadline, runBatch)
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

func runGateScenario(s GateScenario, jobs int, deadline time.Time, runBatch BatchRunner) GateRun {
	began := time.Now()
	run := GateRun{GateScenario: s}
	if time.Now().Before(deadline) {
		seeds := make([]uint64, s.seeds)
		for i := range seeds {
			seeds[i] = s.firstSeed + uint64(i)
		}
		run.results = runBatch(s.scenario, s.ticksMax, jobs, seeds, deadline)
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
func (c thresholdCheck) configError(configPath string, run GateRun) error {
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
	sort.Strings(names)
	field := c.where
	if !c.required {
		field += ".counter"
	}
	return configErrorf("gate: %s:%d: %s: %q matches no counter that %s reported over its %d seed(s): a %s on nothing cannot pass; it reports: %s",
		configPath, c.line, field, c.counter, run.scenario.Name, len(run.results), c.label(), strings.Join(names, ", "))
}

// observation is one value a threshold looked at.
type observation struct {
	value   uint64
	counter string
	seed    uint64 // 0 with aggregate sum
}

func (t gateThreshold) check(run GateRun) thresholdCheck {
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
	sort.Strings(names)
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

func (run GateRun) tally() (passed, correctness, liveness []uint64) {
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

func (run GateRun) thresholdsHeld() int {
	held := 0
	for _, c := range run.checks {
		if c.status == checkHeld {
			held++
		}
	}
	return held
}

func printGateRow(w io.Writer, run GateRun) {
	passed, correctness, liveness := run.tally()
	thresholds := "-"
	if len(run.checks) > 0 {
		thresholds = fmt.Sprintf("%d/%d held", run.thresholdsHeld(), len(run.checks))
	}
	fmt.Fprintf(w, "%-20s %6d %7d %7d %8d %-12s %10s\n", run.scenario.Name, run.seeds, len(passed),
		len(correctness)+len(liveness), len(run.notRun), thresholds, run.wall.Round(time.Millisecond))
}

// PrintDetails lists each failing seed with its replay command, then every threshold
// check with what it observed.
func PrintDetails(w io.Writer, runs []GateRun) {
	for _, run := range runs {
		for _, r := range run.results {
			if r.Outcome != scenarios.Pass {
				fmt.Fprintf(w, "%s seed=%d FAIL %s: %s\n  replay: %s\n", r.Scenario, r.Seed, r.Outcome, r.Reason,
					scenarios.Replay{TicksMax: run.ticksMax}.Command(r))
			}
		}
	}
	for _, run := range runs {
		for _, c := range run.checks {
			fmt.Fprintf(w, "%s %s %s: %s: %s\n", c.label(), run.scenario.Name, c, c.status, c.detail)
		}
	}
}

// Verdict is the gate's exit code and every reason it did not pass.
type Verdict struct {
	Code      int
	reasons   []string
	tolerated []string // liveness failures within max_failures
}

func (v *Verdict) fail(code int, reason string) {
	v.reasons = append(v.reasons, reason)
	if code == ExitCorrectness || v.Code == ExitPass {
		v.Code = code
	}
}

func Judge(cfg GateConfig, runs []GateRun) Verdict {
	var v Verdict
	var liveness []string
	livenessCount, notRun, planned := 0, 0, 0
	var unfinished []string
	for _, run := range runs {
		_, correctness, live := run.tally()
		if len(correctness) > 0 {
			v.fail(ExitCorrectness, fmt.Sprintf("%s: correctness failure at seed(s) %s", run.scenario.Name, seedRanges(correctness)))
		}
		if len(live) > 0 {
			liveness = append(liveness, fmt.Sprintf("%s: liveness failure at seed(s) %s", run.scenario.Name, seedRanges(live)))
			livenessCount += len(live)
		}
		for _, c := range run.checks {
			if c.status != checkHeld {
				v.fail(ExitCorrectness, fmt.Sprintf("%s: %s %s %s: %s", run.scenario.Name, c.label(), c, c.status, c.detail))
			}
		}
		planned, notRun = planned+run.seeds, notRun+len(run.notRun)
		if len(run.notRun) > 0 {
			unfinished = append(unfinished, run.scenario.Name+" seeds "+seedRanges(run.notRun))
		}
	}
	if livenessCount > cfg.maxFailures {
		for _, reason := range liveness {
			v.fail(ExitLiveness, reason)
		}
		if cfg.maxFailures > 0 {
			v.fail(ExitLiveness, fmt.Sprintf("%d liveness failures exceed max_failures=%d", livenessCount, cfg.maxFailures))
		}
	} else {
		v.tolerated = liveness
	}
	if notRun > 0 {
		v.fail(ExitCorrectness, fmt.Sprintf("budget %s exhausted: %d of %d seed(s) did not finish (%s); a gate that did not finish did not pass",
			cfg.budget, notRun, planned, strings.Join(unfinished, ", ")))
	}
	return v
}

func PrintVerdict(w io.Writer, cfg GateConfig, runs []GateRun, v Verdict, wall time.Duration) {
	if v.Code != ExitPass {
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

// BatchRunner runs seeds of a scenario on jobs parallel workers and returns the finished
// results in seed order; at abandonAt (if not zero) it returns what has finished and leaves
// the rest unseen. The command line provides it (its goroutines stay out of this package).
type BatchRunner func(s scenarios.Scenario, ticksMax, jobs int, seeds []uint64, abandonAt time.Time) []scenarios.Result
