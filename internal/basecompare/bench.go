package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// workload is one scenario run on seeds first..first+count-1 in every round.
type workload struct {
	scenario string
	first    uint64
	count    int
}

// sample is one round of one workload: simulated seconds per CPU and per wall second of
// each binary, and the CPU seconds each took for the same seeds.
type sample struct {
	baseCPU, headCPU, baseWall, headWall float64
	baseSecs, headSecs                   float64
}

// runbookScenarios are the runbook's scenarios besides performance (README, Scenarios).
var runbookScenarios = []string{"replica_crash", "quorum_lost", "view_change_storm", "replication_lag",
	"assertion_failure", "disk_full", "rolling_upgrade"}

func benchMain(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	base := fs.String("base", "", "the commit to compare with (required)")
	rounds := fs.Int("rounds", 5, "rounds; each runs every workload once with each binary")
	swarmSeeds := fs.Int("swarm-seeds", 10, "swarm seeds per round (from seed 1)")
	perfSeeds := fs.Int("performance-seeds", 1, "performance seeds per round")
	seeds := fs.Int("seeds", 4, "seeds per round of each other scenario")
	only := fs.String("scenarios", "", "comma-separated scenarios instead of the default set")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *base == "" || *rounds < 1 {
		return fmt.Errorf("bench: -base COMMIT is required and -rounds must be >= 1")
	}
	baseBin, headBin, names, cleanup, err := buildBoth(*base)
	if err != nil {
		return err
	}
	defer cleanup()
	wanted := append([]string{"swarm", "performance"}, runbookScenarios...)
	if *only != "" {
		wanted = strings.Split(*only, ",")
	}
	var loads []workload
	for _, name := range common(wanted, names) {
		count := *seeds
		switch name {
		case "swarm":
			count = *swarmSeeds
		case "performance":
			count = *perfSeeds
		}
		loads = append(loads, workload{scenario: name, first: 1, count: count})
	}
	fmt.Fprintf(out, "basecompare bench: base=%s head=working tree, %d round(s), each workload run by both binaries in turn (alternating which goes first)\n",
		*base, *rounds)
	samples := make([][]sample, len(loads))
	for r := 0; r < *rounds; r++ {
		for i, w := range loads {
			s, err := runRound(baseBin, headBin, w, r%2 == 1)
			if err != nil {
				return err
			}
			samples[i] = append(samples[i], s)
			fmt.Fprintf(os.Stderr, "round %d/%d %-18s cpu ratio %.2f wall ratio %.2f\n", r+1, *rounds, w.scenario,
				s.headCPU/s.baseCPU, s.headWall/s.baseWall)
		}
	}
	printBench(out, loads, samples)
	return nil
}

// runRound runs w once with each binary, head first if headFirst.
func runRound(baseBin, headBin string, w workload, headFirst bool) (sample, error) {
	order := []string{baseBin, headBin}
	if headFirst {
		order = []string{headBin, baseBin}
	}
	got := map[string]batch{}
	for _, bin := range order {
		b, err := runBatch(bin, w.scenario, w.first, w.count)
		if err != nil {
			return sample{}, err
		}
		got[bin] = b
	}
	rate := func(b batch, seconds float64) float64 { return b.simSeconds() / seconds }
	bb, hb := got[baseBin], got[headBin]
	return sample{baseCPU: rate(bb, bb.cpu.Seconds()), headCPU: rate(hb, hb.cpu.Seconds()),
		baseWall: rate(bb, bb.wall.Seconds()), headWall: rate(hb, hb.wall.Seconds()),
		baseSecs: bb.cpu.Seconds(), headSecs: hb.cpu.Seconds()}, nil
}

func printBench(out io.Writer, loads []workload, samples [][]sample) {
	// The last column is seeds per CPU second, head over base: when a change makes the seeds
	// simulate more (or less) time, the simulated-time ratios move with it while this does not.
	fmt.Fprintf(out, "%-18s %5s  %21s  %21s  %-22s %-22s %-22s\n", "workload", "seeds",
		"sim-s/cpu-s base/head", "sim-s/wall-s base/head", "ratio cpu min/med/max", "ratio wall min/med/max",
		"seeds/cpu-s min/med/max")
	for i, w := range loads {
		var baseCPU, headCPU, baseWall, headWall, cpu, wall, seeds []float64
		for _, s := range samples[i] {
			baseCPU, headCPU = append(baseCPU, s.baseCPU), append(headCPU, s.headCPU)
			baseWall, headWall = append(baseWall, s.baseWall), append(headWall, s.headWall)
			cpu, wall = append(cpu, s.headCPU/s.baseCPU), append(wall, s.headWall/s.baseWall)
			seeds = append(seeds, s.baseSecs/s.headSecs)
		}
		fmt.Fprintf(out, "%-18s %5d  %10.1f/%-10.1f  %10.1f/%-10.1f  %-22s %-22s %-22s\n", w.scenario, w.count,
			median(baseCPU), median(headCPU), median(baseWall), median(headWall), spread(cpu), spread(wall), spread(seeds))
	}
}

func spread(xs []float64) string {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return fmt.Sprintf("%.2f/%.2f/%.2f", s[0], median(s), s[len(s)-1])
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
