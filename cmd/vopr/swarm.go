package main

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"vopr/report"
	"vopr/scenarios"
)

// swarmFlags are the flags of `vopr swarm`.
type swarmFlags struct {
	runFlags
	duration time.Duration
	jobs     int
	shard    string
	junit    string
	failFast bool
	// seedsGiven and durationGiven: the flags were set (0 is then an error, not a default).
	seedsGiven, durationGiven bool
}

const swarmSeedsDefault = 100

// cmdSwarm runs many seeds of a scenario (the swarm by default), in parallel jobs. It reports
// as it goes (a progress line on stderr, each failure on stdout when found), stops cleanly on
// SIGINT or SIGTERM (summary and partial reports written, exit 130), and ends with the
// verdict table, the failures grouped by signature, the counters and the coverage never
// reached. Each seed is still one single-threaded, deterministic simulation.
func cmdSwarm(args []string, stdout, stderr io.Writer) (int, error) {
	f, plan, err := parseSwarm(args)
	if err != nil {
		return 0, err
	}
	for _, path := range []string{f.json, f.junit} {
		if err := report.CheckWritable(path); err != nil {
			return 0, err
		}
	}
	fmt.Fprintf(stdout, "swarm scenario=%s first_seed=%d jobs=%d shard=%d/%d%s\n", plan.Scenario, plan.FirstSeed, f.jobs,
		plan.ShardIndex, plan.ShardCount, mutationSuffix(plan.Replay))
	began := time.Now()
	plan.Results, plan.Interrupted = runCampaign(plan, f, stdout, stderr)
	report.PrintSummary(stdout, plan, time.Since(began))
	if err := plan.WriteJSON(f.json); err != nil {
		return 0, err
	}
	if err := plan.WriteJUnit(f.junit); err != nil {
		return 0, err
	}
	if plan.Interrupted {
		return report.ExitInterrupted, nil
	}
	return report.WorstExit(plan.Results), nil
}

// parseSwarm parses and checks vopr swarm's arguments without running anything.
func parseSwarm(args []string) (swarmFlags, report.Batch, error) {
	f := swarmFlags{runFlags: runFlags{log: "none"}}
	fs := newFlagSet("swarm")
	fs.StringVar(&f.scenario, "scenario", "swarm", "scenario to run (vopr list scenarios)")
	fs.StringVar(&f.seed, "seed", "", "first seed (default: random, printed; required with --shard)")
	fs.IntVar(&f.seeds, "seeds", 0, "number of seeds (default 100 unless --duration)")
	fs.DurationVar(&f.duration, "duration", 0, "run seeds until this much wall time has passed (e.g. 10m)")
	fs.IntVar(&f.jobs, "jobs", 1, "seeds run at once")
	fs.StringVar(&f.shard, "shard", "", "I/N: run only the seeds whose index is I modulo N")
	fs.IntVar(&f.ticksMax, "ticks-max", 0, "tick budget per seed (0: scenario default)")
	fs.StringVar(&f.json, "json", "", "write results as JSON to FILE")
	fs.StringVar(&f.junit, "junit", "", "write results as JUnit XML to FILE")
	fs.BoolVar(&f.failFast, "fail-fast", false, "start no new seed after the first failure (seeds already running finish)")
	f.mutationFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return f, report.Batch{}, err
	}
	f.seedsGiven, f.durationGiven = given(fs, "seeds"), given(fs, "duration")
	plan, err := f.plan()
	return f, plan, err
}

func mutationSuffix(p scenarios.Replay) string {
	if p.Mutation == 0 {
		return ""
	}
	return " mutation=" + p.Mutation.String()
}

// plan checks the flags and returns the campaign to run: a bad count, duration, shard or
// seed range exits 64 before anything runs.
func (f *swarmFlags) plan() (report.Batch, error) {
	b := report.Batch{Command: "swarm"}
	scenario, err := f.lookupScenario()
	if err != nil {
		return b, err
	}
	b.Scenario = scenario.Name
	if b.ShardIndex, b.ShardCount, err = parseShard(f.shard); err != nil {
		return b, err
	}
	if err := f.checkCounts(); err != nil {
		return b, err
	}
	if b.FirstSeed, err = f.swarmStart(b.ShardCount); err != nil {
		return b, err
	}
	if !f.seedsGiven && !f.durationGiven {
		f.seeds = swarmSeedsDefault
	}
	b.Seeds = f.seeds
	if b.Seeds > 0 && b.FirstSeed > math.MaxUint64-uint64(b.Seeds*b.ShardCount-1) {
		return b, usagef("swarm: --seed %d with %d seed(s) x %d shard(s) runs past the largest seed 2^64-1", b.FirstSeed, b.Seeds, b.ShardCount)
	}
	if err := f.checkTicks(); err != nil {
		return b, err
	}
	if err := checkTicksMax(scenario, f.ticksMax); err != nil {
		return b, err
	}
	mutation, err := f.mutation()
	if err != nil {
		return b, err
	}
	b.Replay = scenarios.Replay{TicksMax: f.ticksMax, Mutation: mutation}
	return b, nil
}

// checkCounts: --seeds N >= 1 or --duration D > 0, not both; --jobs >= 1. Zero is an
// error, never "the default" or "random".
func (f *swarmFlags) checkCounts() error {
	switch {
	case f.jobs < 1:
		return usagef("swarm: --jobs %d: expected at least 1", f.jobs)
	case f.seedsGiven && f.seeds < 1:
		return usagef("swarm: --seeds %d: expected a seed count >= 1", f.seeds)
	case f.durationGiven && f.duration <= 0:
		return usagef("swarm: --duration %s: expected a wall time > 0 (e.g. 10m)", f.duration)
	case f.seedsGiven && f.durationGiven:
		return usagef("swarm: expected either --seeds N or --duration D, not both")
	}
	return nil
}

// swarmStart is the first seed. Shards need one given: each machine must count from the
// same seed, and a random one would differ on each.
func (f *swarmFlags) swarmStart(shardCount int) (uint64, error) {
	if f.seed == "" {
		if shardCount > 1 {
			return 0, usagef("swarm: --shard needs --seed S: every shard must count from the same first seed")
		}
		return rand.Uint64() >> 1, nil // leave room to count up without wrapping
	}
	s, err := scenarios.ParseSeed(f.seed)
	if err != nil {
		return 0, usageError{err.Error()}
	}
	return s, nil
}

func parseShard(s string) (index, count int, err error) {
	if s == "" {
		return 0, 1, nil
	}
	parts := strings.Split(s, "/")
	if len(parts) == 2 {
		index, err1 := strconv.Atoi(parts[0])
		count, err2 := strconv.Atoi(parts[1])
		if err1 == nil && err2 == nil && count >= 1 && index >= 0 && index < count {
			return index, count, nil
		}
	}
	return 0, 0, usagef("--shard %q: expected I/N with 0 <= I < N", s)
}

// runCampaign runs the shard's seeds with progress reports, until they are done, the
// duration is over, or a signal stops it; it reports whether a signal did.
func runCampaign(plan report.Batch, f swarmFlags, stdout, stderr io.Writer) ([]scenarios.Result, bool) {
	s, _ := lookupScenario(plan.Scenario)
	stop := make(chan struct{})
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(signals)
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case sig := <-signals:
			fmt.Fprintf(stderr, "\nvopr: %s: stopping; the seeds running are abandoned, the finished ones reported\n", sig)
			close(stop)
		case <-done:
		}
	}()
	duration := f.duration
	p := newProgress(stderr, plan.Seeds, duration)
	p.start()
	defer p.stop()
	batch := seedBatch{scenario: s, options: scenarios.Options{TicksMax: plan.Replay.TicksMax, Mutation: plan.Replay.Mutation},
		jobs: f.jobs, next: swarmSeeds(plan, duration), stop: stop, failFast: f.failFast}
	results, cut := batch.runCut(func(r scenarios.Result) { p.add(stdout, r, plan.Replay) })
	return results, cut
}

// swarmSeeds yields the shard's seeds: Seeds per shard, or as many as duration allows
// (checked before each seed starts; a seed already running finishes).
func swarmSeeds(plan report.Batch, duration time.Duration) func() (uint64, bool) {
	deadline := time.Now().Add(duration)
	i := plan.ShardIndex
	return func() (uint64, bool) {
		if duration > 0 && time.Now().After(deadline) {
			return 0, false
		}
		if duration == 0 && i >= plan.Seeds*plan.ShardCount {
			return 0, false
		}
		seed := plan.FirstSeed + uint64(i)
		i += plan.ShardCount
		return seed, true
	}
}
