package main

import (
	"encoding/xml"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

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
}

const swarmSeedsDefault = 100

// cmdSwarm runs many seeds of a scenario (the swarm by default), in parallel jobs, and prints
// a summary, the coverage of faults and protocol paths, and the replay command of every
// failing seed. Each seed is still one single-threaded, deterministic simulation; jobs only
// run several at once.
func cmdSwarm(args []string, stdout io.Writer) (int, error) {
	f := swarmFlags{runFlags: runFlags{log: "none"}}
	fs := newFlagSet("swarm")
	fs.StringVar(&f.scenario, "scenario", "swarm", "scenario to run (vopr list scenarios)")
	fs.StringVar(&f.seed, "seed", "", "first seed (default: random, printed)")
	fs.IntVar(&f.seeds, "seeds", 0, "number of seeds (default 100 unless --duration)")
	fs.DurationVar(&f.duration, "duration", 0, "run seeds until this much wall time has passed (e.g. 10m)")
	fs.IntVar(&f.jobs, "jobs", 1, "seeds run at once")
	fs.StringVar(&f.shard, "shard", "", "I/N: run only the seeds whose index is I modulo N")
	fs.IntVar(&f.ticksMax, "ticks-max", 0, "tick budget per seed (0: scenario default)")
	fs.StringVar(&f.json, "json", "", "write results as JSON to FILE")
	fs.StringVar(&f.junit, "junit", "", "write results as JUnit XML to FILE")
	fs.BoolVar(&f.failFast, "fail-fast", false, "start no new seed after the first failure (seeds already running finish)")
	if err := parseFlags(fs, args); err != nil {
		return 0, err
	}
	scenario, err := f.lookupScenario()
	if err != nil {
		return 0, err
	}
	start, err := f.swarmStart()
	if err != nil {
		return 0, err
	}
	shardIndex, shardCount, err := parseShard(f.shard)
	if err != nil {
		return 0, err
	}
	if f.jobs < 1 || f.seeds < 0 || f.duration < 0 || (f.seeds > 0 && f.duration > 0) {
		return 0, usagef("swarm: expected --jobs >= 1 and either --seeds N or --duration D")
	}
	if err := f.checkTicks(); err != nil {
		return 0, err
	}
	fmt.Fprintf(stdout, "swarm scenario=%s first_seed=%d jobs=%d shard=%d/%d\n", scenario.Name, start, f.jobs, shardIndex, shardCount)
	began := time.Now()
	results := runSwarm(scenario, f, start, shardIndex, shardCount)
	printSwarmSummary(stdout, results, f.ticksMax, time.Since(began))
	if err := writeJSON(f.json, results, f.ticksMax); err != nil {
		return 0, err
	}
	if err := writeJUnit(f.junit, results, f.ticksMax); err != nil {
		return 0, err
	}
	return worstExit(results), nil
}

func (f *swarmFlags) swarmStart() (uint64, error) {
	if f.seed == "" {
		return rand.Uint64() >> 1, nil // leave room to count up without wrapping
	}
	s, err := parseSeed(f.seed)
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

// runSwarm runs the shard's seeds on f.jobs workers and returns the results in seed order.
func runSwarm(s scenarios.Scenario, f swarmFlags, start uint64, shardIndex, shardCount int) []scenarios.Result {
	batch := seedBatch{scenario: s, ticksMax: f.ticksMax, jobs: f.jobs, failFast: f.failFast,
		next: swarmSeeds(f, start, shardIndex, shardCount)}
	return batch.run()
}

// swarmSeeds yields the shard's seeds: --seeds per shard, or as many as --duration allows
// (checked before each seed starts; a seed already running finishes).
func swarmSeeds(f swarmFlags, start uint64, shardIndex, shardCount int) func() (uint64, bool) {
	deadline := time.Now().Add(f.duration)
	count := f.seeds
	if count == 0 && f.duration == 0 {
		count = swarmSeedsDefault
	}
	i := shardIndex
	return func() (uint64, bool) {
		if f.duration > 0 && time.Now().After(deadline) {
			return 0, false
		}
		if f.duration == 0 && i >= count*shardCount {
			return 0, false
		}
		seed := start + uint64(i)
		i += shardCount
		return seed, true
	}
}

// seedBatch is one scenario's seeds run on parallel jobs: the engine under both vopr swarm
// and vopr gate. Each seed is still one single-threaded, deterministic simulation; jobs only
// run several at once.
type seedBatch struct {
	scenario scenarios.Scenario
	ticksMax int
	jobs     int
	// next returns the next seed to start, or false when there are no more. Only the
	// batch's feeding goroutine calls it, so it needs no locking.
	next func() (uint64, bool)
	// abandonAt, when not zero, is a hard wall-time limit: at that instant run returns the
	// results it has and leaves the seeds still running to finish unseen. A simulation cannot
	// be interrupted mid-run, and a gate's budget must not overrun by one slow seed per job.
	abandonAt time.Time
	// failFast stops feeding seeds at the first failure. Seeds are fed in order, so every
	// seed below the first failure seen has started and finishes: the lowest failing seed
	// of the results is the batch's lowest failing seed, whatever the job count (a mutation
	// campaign's "killed at seed"). Seeds above it that had started also finish.
	failFast bool
}

// run runs the batch and returns the finished results in seed order.
func (b seedBatch) run() []scenarios.Result {
	seeds := make(chan uint64)
	finished := make(chan scenarios.Result)
	abandoned := make(chan struct{}) // closed when run stops listening
	failed := make(chan struct{})    // closed at the first failure, with failFast
	var wg sync.WaitGroup
	for j := 0; j < b.jobs; j++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seed := range seeds {
				r := b.scenario.Run(scenarios.Options{Seed: seed, TicksMax: b.ticksMax})
				r.Trace = nil // the batch keeps summaries, not traces
				select {
				case finished <- r:
				case <-abandoned:
					return
				}
			}
		}()
	}
	go func() {
		defer close(seeds)
		for seed, ok := b.next(); ok; seed, ok = b.next() {
			select {
			case <-failed:
				return
			default:
			}
			select {
			case seeds <- seed:
			case <-abandoned:
				return
			case <-failed:
				return
			}
		}
	}()
	go func() { wg.Wait(); close(finished) }()
	return b.collect(finished, abandoned, failed)
}

// collect gathers results until every worker is done or abandonAt passes.
func (b seedBatch) collect(finished <-chan scenarios.Result, abandoned, failed chan struct{}) []scenarios.Result {
	var timeout <-chan time.Time // nil: never fires
	if !b.abandonAt.IsZero() {
		timer := time.NewTimer(time.Until(b.abandonAt))
		defer timer.Stop()
		timeout = timer.C
	}
	var results []scenarios.Result
	stopped := false                           // failed is closed
	inSeedOrder := func() []scenarios.Result { // jobs finish in any order; output must not
		sort.Slice(results, func(i, j int) bool { return results[i].Seed < results[j].Seed })
		return results
	}
	for {
		select {
		case r, ok := <-finished:
			if !ok {
				return inSeedOrder()
			}
			results = append(results, r)
			if b.failFast && r.Outcome != scenarios.Pass && !stopped {
				close(failed)
				stopped = true
			}
		case <-timeout:
			close(abandoned)
			return inSeedOrder()
		}
	}
}

func printSwarmSummary(w io.Writer, results []scenarios.Result, ticksMax int, wall time.Duration) {
	var passed, correctness, liveness int
	var simNs int64
	for _, r := range results {
		simNs += int64(r.SimTime)
		switch r.Outcome {
		case scenarios.Pass:
			passed++
		case scenarios.Correctness:
			correctness++
		default:
			liveness++
		}
		if r.Outcome != scenarios.Pass {
			fmt.Fprintf(w, "seed=%d FAIL %s: %s\n  replay: %s\n", r.Seed, r.Outcome, r.Reason, replayCommand(r, ticksMax))
		}
	}
	printCounters(w, results)
	printNeverReached(w, results)
	fmt.Fprintf(w, "%-8s %7s %7s %12s %9s %12s %10s %10s\n", "seeds", "passed", "failed", "correctness", "liveness",
		"sim_time", "wall_time", "seeds/s")
	fmt.Fprintf(w, "%-8d %7d %7d %12d %9d %11.1fs %10s %10.1f\n", len(results), passed, correctness+liveness,
		correctness, liveness, float64(simNs)/1e9, wall.Round(time.Millisecond), float64(len(results))/wall.Seconds())
}

// printNeverReached lists the coverage counters ("coverage." names: faults injected and
// protocol paths taken) that stayed at zero over the whole batch.
func printNeverReached(w io.Writer, results []scenarios.Result) {
	total := map[string]uint64{}
	for _, r := range results {
		for name, n := range r.Counters {
			if strings.HasPrefix(name, "coverage.") {
				total[name] += n
			}
		}
	}
	if len(total) == 0 {
		return // the scenario reports no coverage counters
	}
	var never []string
	for name, n := range total {
		if n == 0 {
			never = append(never, name)
		}
	}
	sort.Strings(never)
	if len(never) == 0 {
		fmt.Fprintf(w, "coverage: every counter reached\n")
		return
	}
	fmt.Fprintf(w, "coverage: never reached: %s\n", strings.Join(never, ", "))
}

type junitSuite struct {
	XMLName  xml.Name    `xml:"testsuite"`
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	ClassName string        `xml:"classname,attr"`
	TimeSec   float64       `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

func writeJUnit(path string, results []scenarios.Result, ticksMax int) error {
	if path == "" {
		return nil
	}
	suite := junitSuite{Name: "vopr", Tests: len(results)}
	for _, r := range results {
		c := seedCase(r, ticksMax)
		if c.Failure != nil {
			suite.Failures++
		}
		suite.Cases = append(suite.Cases, c)
	}
	data, err := xml.MarshalIndent(suite, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append([]byte(xml.Header), append(data, '\n')...), 0o644)
}

// seedCase is one seed's JUnit testcase (time in simulated seconds); a failure carries the
// replay command. vopr gate writes the same cases.
func seedCase(r scenarios.Result, ticksMax int) junitCase {
	c := junitCase{Name: fmt.Sprintf("seed=%d", r.Seed), ClassName: "vopr." + r.Scenario,
		TimeSec: float64(r.SimTime) / 1e9}
	if r.Outcome != scenarios.Pass {
		c.Failure = &junitFailure{Message: r.Reason, Type: r.Outcome.String(),
			Text: "replay: " + replayCommand(r, ticksMax)}
	}
	return c
}
