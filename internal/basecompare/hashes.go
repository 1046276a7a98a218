package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// job is one vopr run over a chunk of seeds with one binary.
type job struct {
	bin      string
	scenario string
	first    uint64
	count    int
}

func hashesMain(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("hashes", flag.ContinueOnError)
	base := fs.String("base", "", "the commit to compare with (required)")
	swarmSeeds := fs.Int("swarm-seeds", 200, "swarm seeds, from seed 1")
	seeds := fs.Int("seeds", 20, "seeds of every other scenario, from seed 1")
	jobs := fs.Int("jobs", 2, "vopr processes at once")
	ignoreHash := fs.Bool("ignore-hash", false, "compare outcomes and event counts only, and count "+
		"the trace hashes that differ (for a deliberate change, such as a new checksum)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *base == "" || *jobs < 1 {
		return fmt.Errorf("hashes: -base COMMIT is required and -jobs must be >= 1")
	}
	baseBin, headBin, names, cleanup, err := buildBoth(*base)
	if err != nil {
		return err
	}
	defer cleanup()
	var work []job
	for _, name := range names {
		count, chunk := *seeds, 5
		if name == "swarm" {
			count, chunk = *swarmSeeds, 25
		}
		for first := 1; first <= count; first += chunk {
			n := min(chunk, count-first+1)
			for _, bin := range []string{baseBin, headBin} {
				work = append(work, job{bin: bin, scenario: name, first: uint64(first), count: n})
			}
		}
	}
	start := time.Now()
	results, err := runJobs(work, *jobs)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "basecompare hashes: base=%s head=working tree (%s)\n", *base, time.Since(start).Round(time.Second))
	differ := 0
	for _, name := range names {
		differ += compareScenario(out, name, results[key{baseBin, name}], results[key{headBin, name}], !*ignoreHash)
	}
	if differ > 0 {
		return fmt.Errorf("%d seed(s) differ", differ)
	}
	if *ignoreHash {
		fmt.Fprintln(out, "every seed has the same outcome and event count (trace hashes not compared)")
		return nil
	}
	fmt.Fprintln(out, "every seed has the same outcome, event count and trace hash")
	return nil
}

type key struct{ bin, scenario string }

// runJobs runs the jobs on n workers and gathers each (binary, scenario)'s results by seed.
func runJobs(work []job, n int) (map[key]map[uint64]seedResult, error) {
	var (
		mu      sync.Mutex
		firstEr error
		wg      sync.WaitGroup
		next    = make(chan job)
		results = map[key]map[uint64]seedResult{}
	)
	for w := 0; w < n; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range next {
				b, err := runBatch(j.bin, j.scenario, j.first, j.count)
				mu.Lock()
				if err != nil && firstEr == nil {
					firstEr = err
				}
				k := key{j.bin, j.scenario}
				if results[k] == nil {
					results[k] = map[uint64]seedResult{}
				}
				for _, r := range b.results {
					results[k][r.seed] = r
				}
				mu.Unlock()
				fmt.Fprintf(os.Stderr, ".")
			}
		}()
	}
	for _, j := range work {
		next <- j
	}
	close(next)
	wg.Wait()
	fmt.Fprintln(os.Stderr)
	return results, firstEr
}

// compareScenario prints one scenario's verdict and returns how many seeds differ; without
// withHash a seed differs only by its outcome or event count, and the trace hashes that
// differ are counted apart.
func compareScenario(out io.Writer, name string, base, head map[uint64]seedResult, withHash bool) int {
	differ, hashes := 0, 0
	for seed := uint64(1); seed <= uint64(len(base)); seed++ {
		b, h := base[seed], head[seed]
		if b.hash != h.hash {
			hashes++
		}
		if b.outcome != h.outcome || b.events != h.events || (withHash && b.hash != h.hash) {
			differ++
			fmt.Fprintf(out, "  %s seed=%d: base %s events=%s trace_hash=%s, head %s events=%s trace_hash=%s\n",
				name, seed, b.outcome, b.events, b.hash, h.outcome, h.events, h.hash)
		}
	}
	passed := 0
	for _, r := range head {
		if r.outcome == "pass" {
			passed++
		}
	}
	fmt.Fprintf(out, "%-18s %4d seed(s): %4d identical, %d differ (head: %d pass)", name, len(base),
		len(base)-differ, differ, passed)
	if !withHash {
		fmt.Fprintf(out, "; trace hashes differ on %d", hashes)
	}
	fmt.Fprintln(out)
	return differ
}
