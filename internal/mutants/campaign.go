package mutants

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"vopr/scenarios"
)

// Config is one campaign.
type Config struct {
	Root      string // the repository root (its files are copied, never edited)
	Seeds     int    // seeds per scenario: a mutant that survives them survives
	FirstSeed uint64
	Jobs      int           // vopr swarm --jobs
	Timeout   time.Duration // wall-time limit of one vopr batch; past it the mutant hangs
	Baseline  bool          // run the unmutated tree first (seeds that fail there are not kills)
	WorkDir   string        // scratch directory ("": a temporary one, removed at the end)
	Go        string        // the go command
	Log       io.Writer     // progress lines
	// Done, if set, receives the report after every mutant, so that an interrupted campaign
	// leaves its results so far.
	Done func(Report)
	// Previous, if set, is the report of an interrupted campaign over the same seeds: its
	// verdicts are kept (those of mutants whose catalog entry is unchanged, except errors)
	// and so is its baseline.
	Previous *Report
}

// Status is what became of a mutant.
type Status string

const (
	Killed     Status = "killed"      // a scenario batch failed at a seed the baseline passes
	Survived   Status = "survived"    // every seed of every scenario passed
	Stale      Status = "stale"       // the search text does not occur exactly once
	BuildError Status = "build_error" // the mutated tree does not compile: a catalog error
	Hang       Status = "hang"        // a batch ran past Config.Timeout (killed by the wall clock)
	Failed     Status = "error"       // the campaign could not run it (see Detail)
)

// Outcome is one mutant's result.
type Outcome struct {
	Mutant
	Status   Status `json:"status"`
	Scenario string `json:"scenario,omitempty"` // the scenario that killed it
	KilledAt uint64 `json:"killed_at,omitempty"`
	// SeedsToKill counts the seeds up to the kill (KilledAt - FirstSeed + 1).
	SeedsToKill int     `json:"seeds_to_kill,omitempty"`
	SeedsRun    int     `json:"seeds_run"`       // over every scenario
	Class       string  `json:"class,omitempty"` // scenarios.FailureSignature of the kill
	Reason      string  `json:"reason,omitempty"`
	Replay      string  `json:"replay,omitempty"`
	Detail      string  `json:"detail,omitempty"` // why stale, the compiler's output, an error
	WallSeconds float64 `json:"wall_seconds"`
}

// seedResult is the part of `vopr swarm --json` output the campaign reads.
type seedResult struct {
	Scenario string `json:"scenario"`
	Seed     uint64 `json:"seed"`
	Outcome  string `json:"outcome"`
	Reason   string `json:"reason"`
	Replay   string `json:"replay"`
}

func (r seedResult) failed() bool { return r.Outcome != scenarios.Pass.String() }

// signature is the failure's class, as vopr shrink compares failures.
// A crash of the whole vopr process (outcome "crash", set by findCrash) is its own class.
func (r seedResult) signature() string {
	outcome, ok := map[string]scenarios.Outcome{"pass": scenarios.Pass, "correctness": scenarios.Correctness,
		"liveness": scenarios.Liveness, "nondeterminism": scenarios.Nondeterminism}[r.Outcome]
	if !ok {
		return r.Outcome + ": " + r.Reason
	}
	return scenarios.FailureSignature(scenarios.Result{Outcome: outcome, Reason: r.Reason})
}

type campaign struct {
	cfg     Config
	files   []string
	scratch string
	// known are the baseline's failures: scenario -> seed -> signature.
	known  map[string]map[uint64]string
	report Report
}

// Run runs the campaign over the given mutants, in order, and returns the report.
func Run(cfg Config, mutants []Mutant) (Report, error) {
	files, err := TrackedFiles(cfg.Root)
	if err != nil {
		return Report{}, err
	}
	c := &campaign{cfg: cfg, files: files, known: map[string]map[uint64]string{}}
	c.report = newReport(cfg, cfg.Root)
	c.scratch = cfg.WorkDir
	if c.scratch == "" {
		if c.scratch, err = os.MkdirTemp("", "vopr-mutate-"); err != nil {
			return Report{}, err
		}
		defer os.RemoveAll(c.scratch)
	}
	kept, err := c.resume(cfg.Previous)
	if err != nil {
		return Report{}, err
	}
	if cfg.Baseline {
		if err := c.baseline(mutants); err != nil {
			return c.report, fmt.Errorf("baseline: %w", err)
		}
	}
	for i, m := range mutants {
		o, ok := kept[m.ID]
		if ok && sameEdit(o.Mutant, m) {
			o.Mutant = m
		} else {
			o = c.mutant(m)
		}
		c.report.add(o)
		c.logf("[%d/%d] %s\n", i+1, len(mutants), o.line())
		if cfg.Done != nil {
			cfg.Done(c.report)
		}
	}
	return c.report, nil
}

// resume takes a previous report's verdicts (not its errors) and baseline.
func (c *campaign) resume(prev *Report) (map[string]Outcome, error) {
	kept := map[string]Outcome{}
	if prev == nil {
		return kept, nil
	}
	if prev.Seeds != c.cfg.Seeds || prev.FirstSeed != c.cfg.FirstSeed {
		return nil, fmt.Errorf("resume: the previous report ran seeds %d..%d, not %d..%d", prev.FirstSeed,
			prev.FirstSeed+uint64(prev.Seeds)-1, c.cfg.FirstSeed, c.cfg.FirstSeed+uint64(c.cfg.Seeds)-1)
	}
	for _, o := range prev.Outcomes {
		if o.Status != Failed {
			kept[o.ID] = o
		}
	}
	if c.cfg.Baseline && prev.BaselineRun {
		c.report.Baseline = append(c.report.Baseline, prev.Baseline...)
		c.report.BaselineScenarios = append(c.report.BaselineScenarios, prev.BaselineScenarios...)
		c.report.BaselineSeconds = prev.BaselineSeconds
		for _, f := range prev.Baseline {
			c.knownFailure(f.Scenario, f.Seed, f.Class)
		}
	}
	return kept, nil
}

func (c *campaign) knownFailure(scenario string, seed uint64, class string) {
	if c.known[scenario] == nil {
		c.known[scenario] = map[uint64]string{}
	}
	c.known[scenario][seed] = class
}

// sameEdit reports whether two catalog entries make the same edit on the same scenarios.
func sameEdit(a, b Mutant) bool {
	return a.File == b.File && a.Search == b.Search && a.Replace == b.Replace &&
		strings.Join(a.ScenarioList(), ",") == strings.Join(b.ScenarioList(), ",")
}

func (c *campaign) logf(format string, args ...any) {
	if c.cfg.Log != nil {
		fmt.Fprintf(c.cfg.Log, format, args...)
	}
}

// baseline runs every scenario the mutants need on the unmutated tree and records its
// failures: a mutant that fails the same seed the same way has not been caught by anything.
func (c *campaign) baseline(mutants []Mutant) error {
	started := time.Now()
	var todo []string
	for _, s := range scenarioUnion(mutants) {
		if !slices.Contains(c.report.BaselineScenarios, s) { // else: from the previous report
			todo = append(todo, s)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	bin, buildErr, err := c.prepare(Mutant{ID: "baseline"}, false)
	if err != nil || buildErr != "" {
		return errors.Join(err, errors.New(buildErr))
	}
	for _, s := range todo {
		b := c.batch(bin, []string{"swarm", "--scenario", s, "--seed", strconv.FormatUint(c.cfg.FirstSeed, 10),
			"--seeds", strconv.Itoa(seedsOf(s, c.cfg.Seeds)), "--jobs", strconv.Itoa(c.cfg.Jobs)})
		if b.err != nil || b.timedOut || b.crash != "" {
			return fmt.Errorf("%s: %v (timed out: %v) %s", s, b.err, b.timedOut, b.crash)
		}
		c.known[s] = map[uint64]string{}
		c.report.BaselineScenarios = append(c.report.BaselineScenarios, s)
		results := b.results
		for _, r := range results {
			if r.failed() {
				c.knownFailure(s, r.Seed, r.signature())
				c.report.Baseline = append(c.report.Baseline, BaselineFailure{Scenario: s, Seed: r.Seed,
					Class: r.signature(), Replay: r.Replay})
			}
		}
		c.logf("baseline %s: %d seeds, %d failing\n", s, len(results), len(c.known[s]))
	}
	c.report.BaselineSeconds += time.Since(started).Seconds()
	return nil
}

func scenarioUnion(mutants []Mutant) []string {
	var out []string
	seen := map[string]bool{}
	for _, m := range mutants {
		for _, s := range m.ScenarioList() {
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	return out
}

// mutant runs one mutant from copy to verdict.
func (c *campaign) mutant(m Mutant) (o Outcome) {
	started := time.Now()
	o = Outcome{Mutant: m}
	defer func() { o.WallSeconds = time.Since(started).Seconds() }()
	if reason := StaleReason(c.cfg.Root, m); reason != "" {
		o.Status, o.Detail = Stale, reason
		return o
	}
	bin, buildErr, err := c.prepare(m, true)
	switch {
	case err != nil:
		o.Status, o.Detail = Failed, err.Error()
		return o
	case buildErr != "":
		o.Status, o.Detail = BuildError, buildErr
		return o
	}
	o.Status = Survived
	for _, s := range m.ScenarioList() {
		kill, run, timedOut, err := c.hunt(bin, s)
		o.SeedsRun += run
		switch {
		case err != nil:
			o.Status, o.Scenario, o.Detail = Failed, s, err.Error()
			return o
		case timedOut:
			o.Status, o.Scenario = Hang, s
			o.Class = fmt.Sprintf("hang: a batch ran past %s of wall time", c.cfg.Timeout)
			return o
		case kill != nil:
			o.Status, o.Scenario, o.KilledAt = Killed, s, kill.Seed
			o.SeedsToKill = int(kill.Seed-c.cfg.FirstSeed) + 1
			o.Class, o.Reason, o.Replay = kill.signature(), clip(kill.Reason, 400), kill.Replay
			return o
		}
	}
	return o
}

// hunt runs the scenario's seeds with --fail-fast and returns the lowest failing seed that
// the baseline does not fail the same way, if any, and how many seeds ran.
func (c *campaign) hunt(bin, scenario string) (kill *seedResult, run int, timedOut bool, err error) {
	first, last := c.cfg.FirstSeed, c.cfg.FirstSeed+uint64(seedsOf(scenario, c.cfg.Seeds))-1
	for first <= last {
		b := c.batch(bin, []string{"swarm", "--scenario", scenario, "--seed", strconv.FormatUint(first, 10),
			"--seeds", strconv.FormatUint(last-first+1, 10), "--jobs", strconv.Itoa(c.cfg.Jobs), "--fail-fast"})
		if b.crash != "" {
			return c.findCrash(bin, scenario, first, last)
		}
		run += len(b.results)
		if b.err != nil || b.timedOut {
			return nil, run, b.timedOut, b.err
		}
		f := lowestFailure(b.results)
		if f == nil {
			return nil, run, false, nil
		}
		if sig, known := c.known[scenario][f.Seed]; !known || sig != f.signature() {
			return f, run, false, nil
		}
		first = f.Seed + 1 // the baseline fails this seed the same way: not a kill
	}
	return nil, run, false, nil
}

// findCrash runs the seeds one at a time after a batch whose process died (a panic the
// simulator does not recover, such as one in the harness's own code that calls the mutated
// package): the first seed whose process dies is the kill.
func (c *campaign) findCrash(bin, scenario string, first, last uint64) (*seedResult, int, bool, error) {
	run := 0
	for seed := first; seed <= last; seed++ {
		b := c.batch(bin, []string{"run", "--scenario", scenario, "--seed", strconv.FormatUint(seed, 10)})
		run++
		switch {
		case b.crash != "":
			return &seedResult{Scenario: scenario, Seed: seed, Outcome: "crash", Reason: b.crash,
				Replay: fmt.Sprintf("vopr run --scenario %s --seed %d", scenario, seed)}, run, false, nil
		case b.err != nil || b.timedOut:
			return nil, run, b.timedOut, b.err
		}
		if f := lowestFailure(b.results); f != nil {
			if sig, known := c.known[scenario][f.Seed]; !known || sig != f.signature() {
				return f, run, false, nil
			}
		}
	}
	return nil, run, false, fmt.Errorf("%s: a batch's process died but no single seed's does", scenario)
}

func lowestFailure(results []seedResult) *seedResult {
	var low *seedResult
	for i := range results {
		if results[i].failed() && (low == nil || results[i].Seed < low.Seed) {
			low = &results[i]
		}
	}
	return low
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// prepare copies the repository to a fresh work directory, applies the mutant (if mutate),
// checks that every package compiles and builds vopr. buildErr is the compiler's output when
// the mutated tree does not compile.
func (c *campaign) prepare(m Mutant, mutate bool) (bin, buildErr string, err error) {
	dir := filepath.Join(c.scratch, "work")
	if err := os.RemoveAll(dir); err != nil {
		return "", "", err
	}
	if err := CopyTree(c.cfg.Root, dir, c.files); err != nil {
		return "", "", err
	}
	if mutate {
		if err := Apply(dir, m); err != nil {
			return "", "", err
		}
	}
	// -trimpath keeps the work directory out of the build cache's keys: only the mutated
	// package and its dependents recompile.
	if out, err := c.goCommand(dir, "build", "-trimpath", "./..."); err != nil {
		return "", clip(out, 2000), nil
	}
	bin = filepath.Join(c.scratch, "vopr")
	if out, err := c.goCommand(dir, "build", "-trimpath", "-o", bin, "./cmd/vopr"); err != nil {
		return "", clip(out, 2000), nil
	}
	return bin, "", nil
}

func (c *campaign) goCommand(dir string, args ...string) (string, error) {
	cmd := exec.Command(c.cfg.Go, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// batchResult is what one vopr process reported.
type batchResult struct {
	results  []seedResult
	timedOut bool   // it ran past Config.Timeout and was killed
	crash    string // it died (no report): the end of its stderr
	err      error  // the campaign's own trouble (an unreadable report)
}

// batch runs vopr with args (plus --json) and returns its per-seed results. Exit codes 0, 1
// and 2 are verdicts; any other end without a report is a crash of the process.
func (c *campaign) batch(bin string, args []string) batchResult {
	out := filepath.Join(c.scratch, "batch.json")
	_ = os.Remove(out)
	args = append(args, "--json", out)
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		return batchResult{timedOut: true}
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return batchResult{err: fmt.Errorf("vopr %s: %w", strings.Join(args, " "), err)}
	}
	// A Go panic exits with status 2, a liveness verdict's code, after the report written as
	// the seeds finished: the panic in stderr tells them apart (storage.fallback_to_same_checkpoint
	// on one job passed for a survivor of the 12 seeds before the one whose harness panicked).
	if panicked := panicLine(stderr.String()); err != nil && panicked != "" {
		return batchResult{crash: "harness crash: " + panicked}
	}
	data, readErr := os.ReadFile(out)
	if err != nil && ((exit.ExitCode() != 1 && exit.ExitCode() != 2) || readErr != nil) {
		// Killed by a signal (out of memory, an operator) or another exit: the machine's
		// trouble, not a verdict on the mutant.
		return batchResult{err: fmt.Errorf("vopr %s: %v: %s", args[0], exit, clip(strings.TrimSpace(stderr.String()), 300))}
	}
	if readErr != nil {
		return batchResult{err: readErr}
	}
	results, err := parseResults(data)
	if err != nil {
		return batchResult{err: fmt.Errorf("vopr %s --json: %w", args[0], err)}
	}
	return batchResult{results: results}
}

// parseResults reads the per-seed results of a vopr JSON report: an object whose "results"
// are the seeds (report.BatchJSON), or, from older binaries, the bare list of seeds.
func parseResults(data []byte) ([]seedResult, error) {
	var results []seedResult
	if trimmed := bytes.TrimSpace(data); len(trimmed) > 0 && trimmed[0] == '[' {
		err := json.Unmarshal(data, &results)
		return results, err
	}
	var batch struct {
		Results *[]seedResult `json:"results"`
	}
	if err := json.Unmarshal(data, &batch); err != nil {
		return nil, err
	}
	if batch.Results == nil {
		return nil, errors.New("no results in the report")
	}
	return *batch.Results, nil
}

// panicLine returns the panic (or runtime fatal error) a dead Go process printed, if any.
func panicLine(stderr string) string {
	for _, line := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(line, "panic: ") || strings.HasPrefix(line, "fatal error: ") {
			return clip(line, 300)
		}
	}
	return ""
}
