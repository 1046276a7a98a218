package main

import (
	"fmt"
	"io"

	"vopr/scenarios"
)

func cmdCheckDeterminism(args []string, stdout io.Writer) (int, error) {
	f := runFlags{log: "none"}
	fs := newFlagSet("check-determinism")
	f.scenarioFlag(fs)
	fs.StringVar(&f.seed, "seed", "", "first seed (default 1)")
	fs.IntVar(&f.seeds, "seeds", 10, "number of seeds")
	fs.IntVar(&f.ticksMax, "ticks-max", 0, "tick budget per seed (0: scenario default)")
	if err := parseFlags(fs, args); err != nil {
		return 0, err
	}
	scenario, seeds, err := f.resolve()
	if err != nil {
		return 0, err
	}
	for _, seed := range seeds {
		d := scenarios.CheckDeterminism(scenario.Run, scenarios.Options{Seed: seed, TicksMax: f.ticksMax})
		if d != nil {
			fmt.Fprintf(stdout, "NONDETERMINISM in scenario %s %s\n", scenario.Name, d)
			return exitNondeterminism, nil
		}
		fmt.Fprintf(stdout, "seed=%d deterministic\n", seed)
	}
	fmt.Fprintf(stdout, "check-determinism: %d seed(s) of %s ran twice with identical traces\n", len(seeds), scenario.Name)
	return exitPass, nil
}
