package main

import (
	"fmt"
	"sort"
	"sync"
	"time"

	"vopr/scenarios"
)

// seedBatch is one scenario's seeds run on parallel jobs: the engine under vopr swarm and
// vopr gate. Each seed is still one single-threaded, deterministic simulation; jobs only
// run several at once.
type seedBatch struct {
	scenario scenarios.Scenario
	// options are every seed's options but the seed (tick budget, planted bug).
	options scenarios.Options
	jobs    int
	// next returns the next seed to start, or false when there are no more. Only the
	// batch's feeding goroutine calls it, so it needs no locking.
	next func() (uint64, bool)
	// abandonAt, when not zero, is a hard wall-time limit: at that instant run returns the
	// results it has and leaves the seeds still running to finish unseen. A simulation cannot
	// be interrupted mid-run, and a gate's budget must not overrun by one slow seed per job.
	abandonAt time.Time
	// stop, when not nil, ends the batch as abandonAt does when it is closed (SIGINT).
	stop <-chan struct{}
	// failFast stops feeding seeds at the first failure. Seeds are fed in order, so every
	// seed below the first failure seen has started and finishes: the lowest failing seed
	// of the results is the batch's lowest failing seed, whatever the job count (a mutation
	// campaign's "killed at seed"). Seeds above it that had started also finish.
	failFast bool
}

// run runs the batch and returns the finished results in seed order, and whether it was
// cut short (abandonAt or stop). onResult, if not nil, sees each result as it finishes (in
// finishing order), on the caller's goroutine.
func (b seedBatch) run(onResult func(scenarios.Result)) []scenarios.Result {
	results, _ := b.runCut(onResult)
	return results
}

func (b seedBatch) runCut(onResult func(scenarios.Result)) ([]scenarios.Result, bool) {
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
				o := b.options
				o.Seed = seed
				r := runRecovered(b.scenario, o)
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
	return b.collect(finished, abandoned, failed, onResult)
}

// collect gathers results until every worker is done, abandonAt passes or stop closes.
func (b seedBatch) collect(finished <-chan scenarios.Result, abandoned, failed chan struct{},
	onResult func(scenarios.Result)) ([]scenarios.Result, bool) {
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
				return inSeedOrder(), false
			}
			results = append(results, r)
			if onResult != nil {
				onResult(r)
			}
			if b.failFast && r.Outcome != scenarios.Pass && !stopped {
				close(failed)
				stopped = true
			}
		case <-timeout:
			close(abandoned)
			return inSeedOrder(), true
		case <-b.stop:
			close(abandoned)
			return inSeedOrder(), true
		}
	}
}

// runRecovered runs one seed, turning a panic of the harness (or of a replica's code outside
// its own fail-stop) into that seed's failure, so that one seed never takes a campaign's
// other results down with it: it is reported with its replay command like any failure.
func runRecovered(s scenarios.Scenario, o scenarios.Options) (r scenarios.Result) {
	defer func() {
		if p := recover(); p != nil {
			r = scenarios.Result{Scenario: s.Name, Seed: o.Seed, Outcome: scenarios.Correctness,
				Reason: fmt.Sprintf("harness crash: panic: %v", p), Counters: map[string]uint64{}}
		}
	}()
	return s.Run(o)
}
