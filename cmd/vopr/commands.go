package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"vopr/scenarios"
	"vopr/sim"
)

func cmdRun(args []string, stdout io.Writer) (int, error) {
	var f runFlags
	fs := newFlagSet("run")
	f.scenarioFlag(fs)
	fs.StringVar(&f.seed, "seed", "", "seed: decimal u64, 0x hex or 40-hex git commit")
	fs.IntVar(&f.seeds, "seeds", 0, "number of seeds")
	fs.IntVar(&f.ticksMax, "ticks-max", 0, "tick budget per seed (0: scenario default)")
	fs.StringVar(&f.log, "log", "none", "log level: none, short or full")
	fs.StringVar(&f.trace, "trace", "", "write the full trace of the last seed to FILE")
	fs.StringVar(&f.json, "json", "", "write results as JSON to FILE")
	f.overrideFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return 0, err
	}
	return runSeeds(f, stdout)
}

func cmdReplay(args []string, stdout io.Writer) (int, error) {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return 0, usagef("replay: expected a SEED first (decimal u64, 0x hex or 40-hex git commit)")
	}
	if _, err := parseSeed(args[0]); err != nil {
		return 0, usageError{err.Error()}
	}
	f := runFlags{seed: args[0], log: "full"}
	fs := newFlagSet("replay")
	f.scenarioFlag(fs)
	fs.IntVar(&f.ticksMax, "ticks-max", 0, "tick budget (0: scenario default)")
	fs.StringVar(&f.log, "log", "full", "log level: none, short or full")
	f.overrideFlags(fs)
	if err := parseFlags(fs, args[1:]); err != nil {
		return 0, err
	}
	return runSeeds(f, stdout)
}

func runSeeds(f runFlags, stdout io.Writer) (int, error) {
	scenario, seeds, err := f.resolve()
	if err != nil {
		return 0, err
	}
	level, err := f.level()
	if err != nil {
		return 0, err
	}
	override, err := f.override(scenario, seeds)
	if err != nil {
		return 0, err
	}
	rp := replay{ticksMax: f.ticksMax, override: override}
	var results []scenarios.Result
	for i, seed := range seeds {
		o := scenarios.Options{Seed: seed, TicksMax: f.ticksMax, Log: level, Out: stdout, SwarmOverride: override}
		var traceFile *os.File
		if f.trace != "" && i == len(seeds)-1 {
			if traceFile, err = os.Create(f.trace); err != nil {
				return 0, err
			}
			o.Out, o.Log = traceFile, sim.LevelFull
		}
		fmt.Fprintf(stdout, "seed=%d scenario=%s %s\n", seed, scenario.Name, paramsOf(scenario, seed, override))
		r := scenario.Run(o)
		if traceFile != nil {
			traceFile.Close()
		}
		printResult(stdout, r, rp)
		results = append(results, r)
	}
	printCounters(stdout, results)
	if err := writeJSONReplay(f.json, results, rp); err != nil {
		return 0, err
	}
	return worstExit(results), nil
}

// paramsOf returns the parameters a seed draws, for the first output line; under a swarm
// override, the override and the swarm it draws, so that the line shows what runs (the
// override was checked against the seed before anything ran).
func paramsOf(s scenarios.Scenario, seed uint64, override scenarios.SwarmOverride) string {
	if override.IsZero() {
		return s.Params(seed)
	}
	params, err := scenarios.SwarmParams(seed, override)
	if err != nil {
		return "override error: " + err.Error()
	}
	return params
}

func printResult(w io.Writer, r scenarios.Result, rp replay) {
	if r.Outcome == scenarios.Pass {
		fmt.Fprintf(w, "seed=%d pass sim_time=%s events=%d trace_hash=%016x\n", r.Seed, r.SimTime, r.Events, r.TraceHash)
		return
	}
	fmt.Fprintf(w, "seed=%d FAIL %s: %s\n  sim_time=%s trace_hash=%016x\n  replay: %s\n",
		r.Seed, r.Outcome, r.Reason, r.SimTime, r.TraceHash, rp.command(r))
}

func printCounters(w io.Writer, results []scenarios.Result) {
	total := map[string]uint64{}
	var names []string
	for _, r := range results {
		for _, name := range r.CounterNames() {
			if _, seen := total[name]; !seen {
				names = append(names, name)
			}
			total[name] += r.Counters[name]
		}
	}
	if len(names) == 0 {
		return
	}
	sortStrings(names)
	fmt.Fprintf(w, "counters over %d seed(s):\n", len(results))
	for _, name := range names {
		fmt.Fprintf(w, "  %-32s %d\n", name, total[name])
	}
}

type jsonResult struct {
	Scenario  string            `json:"scenario"`
	Seed      uint64            `json:"seed"`
	Params    string            `json:"params"`
	Outcome   string            `json:"outcome"`
	Reason    string            `json:"reason,omitempty"`
	Replay    string            `json:"replay,omitempty"`
	TraceHash string            `json:"trace_hash"`
	SimTimeNs int64             `json:"sim_time_ns"`
	Counters  map[string]uint64 `json:"counters,omitempty"`
}

func writeJSON(path string, results []scenarios.Result, ticksMax int) error {
	return writeJSONReplay(path, results, replay{ticksMax: ticksMax})
}

func writeJSONReplay(path string, results []scenarios.Result, rp replay) error {
	if path == "" {
		return nil
	}
	out := make([]jsonResult, 0, len(results))
	for _, r := range results {
		j := jsonResult{Scenario: r.Scenario, Seed: r.Seed, Params: r.Params, Outcome: r.Outcome.String(),
			Reason: r.Reason, TraceHash: fmt.Sprintf("%016x", r.TraceHash), SimTimeNs: int64(r.SimTime), Counters: r.Counters}
		if r.Outcome != scenarios.Pass {
			j.Replay = rp.command(r)
		}
		out = append(out, j)
	}
	data, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

// worstExit maps a batch to one exit code: any correctness failure wins, then liveness.
func worstExit(results []scenarios.Result) int {
	code := exitPass
	for _, r := range results {
		switch r.Outcome {
		case scenarios.Correctness:
			return exitCorrectness
		case scenarios.Liveness:
			code = exitLiveness
		}
	}
	return code
}

// cmdMain is the main job: every scenario on a few fixed seeds, then a summary table.
func cmdMain(stdout io.Writer) (int, error) {
	const seedsPerScenario = 5
	var all []scenarios.Result
	fmt.Fprintf(stdout, "%-20s %6s %7s %7s %12s %10s\n", "scenario", "seeds", "passed", "failed", "sim_time", "wall_time")
	for _, s := range scenarios.All() {
		start := time.Now()
		var passed, failed int
		var simTime sim.Time
		var failures []scenarios.Result
		for seed := uint64(1); seed <= seedsPerScenario; seed++ {
			r := s.Run(scenarios.Options{Seed: seed})
			simTime += r.SimTime
			all = append(all, r)
			if r.Outcome == scenarios.Pass {
				passed++
			} else {
				failed++
				failures = append(failures, r)
			}
		}
		fmt.Fprintf(stdout, "%-20s %6d %7d %7d %12s %10s\n", s.Name, seedsPerScenario, passed, failed, simTime,
			time.Since(start).Round(time.Millisecond))
		for _, r := range failures {
			fmt.Fprintf(stdout, "  seed=%d %s: %s\n  replay: %s\n", r.Seed, r.Outcome, r.Reason, replayCommand(r, 0))
		}
	}
	return worstExit(all), nil
}
