package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"vopr/report"
	"vopr/scenarios"
	"vopr/sim"
)

func cmdRun(args []string, stdout io.Writer) (int, error) {
	f := runFlags{seeds: seedsUnset}
	fs := newFlagSet("run")
	f.scenarioFlag(fs)
	fs.StringVar(&f.seed, "seed", "", "seed: decimal u64, 0x hex or 40-hex git commit")
	fs.IntVar(&f.seeds, "seeds", seedsUnset, "number of seeds")
	fs.IntVar(&f.ticksMax, "ticks-max", 0, "tick budget per seed (0: scenario default)")
	fs.StringVar(&f.log, "log", "none", "log level: none, short or full")
	fs.StringVar(&f.trace, "trace", "", "write the full trace of the last seed to FILE")
	fs.StringVar(&f.json, "json", "", "write results as JSON to FILE")
	fs.StringVar(&f.html, "html", "", "write a picture of the last seed's run to FILE (HTML)")
	f.mutationFlag(fs)
	f.overrideFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return 0, err
	}
	return runSeeds(f, "run", stdout)
}

func cmdReplay(args []string, stdout io.Writer) (int, error) {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		return 0, helpRequested{}
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return 0, usagef("replay: expected a SEED first (decimal u64, 0x hex or 40-hex git commit)")
	}
	if _, err := scenarios.ParseSeed(args[0]); err != nil {
		return 0, usageError{err.Error()}
	}
	f := runFlags{seed: args[0], seeds: seedsUnset, log: "full"}
	fs := newFlagSet("replay")
	f.scenarioFlag(fs)
	fs.IntVar(&f.ticksMax, "ticks-max", 0, "tick budget (0: scenario default)")
	fs.StringVar(&f.log, "log", "full", "log level: none, short or full")
	fs.StringVar(&f.html, "html", "", "write a picture of the run to FILE (HTML)")
	f.mutationFlag(fs)
	f.overrideFlags(fs)
	if err := parseFlags(fs, args[1:]); err != nil {
		return 0, err
	}
	return runSeeds(f, "replay", stdout)
}

// runSeeds runs the seeds of run or replay one after another, printing each one's
// parameters and result as RunOne does for go test (scenarios.ParamsLine, ResultLines).
func runSeeds(f runFlags, command string, stdout io.Writer) (int, error) {
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
	mutation, err := f.mutation()
	if err != nil {
		return 0, err
	}
	for _, path := range []string{f.json, f.trace, f.html} {
		if err := report.CheckWritable(path); err != nil {
			return 0, err
		}
	}
	rp := scenarios.Replay{TicksMax: f.ticksMax, Override: override, Mutation: mutation}
	var results []scenarios.Result
	for i, seed := range seeds {
		o := scenarios.Options{Seed: seed, TicksMax: f.ticksMax, Log: level, Out: stdout, SwarmOverride: override, Mutation: mutation}
		last := i == len(seeds)-1
		r, err := runOne(scenario, o, rp, last, f, stdout)
		if err != nil {
			return 0, err
		}
		results = append(results, r)
	}
	report.PrintCounters(stdout, results)
	b := report.Batch{Command: command, Scenario: scenario.Name, ShardCount: 1, FirstSeed: seeds[0], Seeds: len(seeds),
		Replay: rp, Results: results}
	if err := b.WriteJSON(f.json); err != nil {
		return 0, err
	}
	return report.WorstExit(results), nil
}

// runOne runs one seed; the last seed of a run also writes the --trace and --html files.
func runOne(s scenarios.Scenario, o scenarios.Options, rp scenarios.Replay, last bool, f runFlags, stdout io.Writer) (scenarios.Result, error) {
	var traceFile *os.File
	if f.trace != "" && last {
		var err error
		if traceFile, err = os.Create(f.trace); err != nil {
			return scenarios.Result{}, report.IOError{Err: err}
		}
		defer traceFile.Close()
		o.Out, o.Log = traceFile, sim.LevelFull
	}
	if f.html != "" && last {
		o.Picture = scenarios.NewPicture()
	}
	fmt.Fprintln(stdout, scenarios.ParamsLine(s, o))
	r := s.Run(o)
	fmt.Fprintln(stdout, scenarios.ResultLines(r, rp))
	if o.Picture != nil {
		if err := writePicture(f.html, o.Picture, r, rp); err != nil {
			return r, err
		}
		fmt.Fprintf(stdout, "  picture: %s\n", f.html)
	}
	return r, nil
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
			fmt.Fprintf(stdout, "  seed=%d %s: %s\n  replay: %s\n", r.Seed, r.Outcome, r.Reason, scenarios.Replay{}.Command(r))
		}
	}
	return report.WorstExit(all), nil
}
