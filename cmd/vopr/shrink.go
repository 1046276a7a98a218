package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"vopr/faults"
	"vopr/scenarios"
)

// swarmScenario is the one scenario shrink works on: its parameters are drawn from the seed
// (faults.DrawSwarm), and those are what it makes smaller. The other scenarios are scripts
// with fixed parameters; there is nothing of theirs to switch off.
const swarmScenario = "swarm"

const (
	shrinkAttemptsDefault = 200
	shrinkBudgetDefault   = 10 * time.Minute
)

// shrinkFlags are the flags of `vopr shrink`.
type shrinkFlags struct {
	runFlags
	budget   time.Duration
	attempts int
}

// cmdShrink runs a failing seed, searches for a smaller configuration of it that fails the
// same way (scenarios.Shrink), prints one line per run, and ends with that configuration
// and the replay command that runs it again. Its exit code is the failure's: 1 correctness,
// 2 liveness; 0 if the seed passes.
func cmdShrink(args []string, stdout io.Writer) (int, error) {
	f, seed, err := parseShrinkFlags(args)
	if err != nil {
		return 0, err
	}
	scenario, err := f.lookupScenario()
	if err != nil {
		return 0, err
	}
	if scenario.Name != swarmScenario {
		return 0, usagef("shrink supports the swarm scenario (the one whose parameters are drawn from the seed), not %q", scenario.Name)
	}
	mutation, err := f.mutation()
	if err != nil {
		return 0, err
	}
	base := scenarios.Options{Seed: seed, TicksMax: f.ticksMax, Mutation: mutation}
	fmt.Fprintf(stdout, "shrink seed=%d scenario=%s ticks_max=%d attempts<=%d budget=%s\n",
		seed, scenario.Name, f.ticksMax, f.attempts, f.budget)
	fmt.Fprintln(stdout, scenarios.ParamsLine(scenario, base))
	began := time.Now()
	limits := scenarios.ShrinkLimits{Attempts: f.attempts, Stop: func() bool { return time.Since(began) >= f.budget }}
	attemptWidth, round := len(fmt.Sprint(f.attempts)), 0
	shrunk, err := scenarios.Shrink(scenario.Run, base, limits, func(a scenarios.ShrinkAttempt) {
		if a.Round != round {
			round = a.Round
			fmt.Fprintf(stdout, "round %d: %s\n", round, roundNote(round))
		}
		printAttempt(stdout, a, attemptWidth)
	})
	if err != nil {
		return 0, err
	}
	if shrunk.Seed.Outcome == scenarios.Pass {
		fmt.Fprintf(stdout, "seed %d passes: nothing to shrink\n", seed)
		return exitPass, nil
	}
	printShrunk(stdout, shrunk, base, time.Since(began))
	return int(shrunk.Result.Outcome), nil
}

func parseShrinkFlags(args []string) (shrinkFlags, uint64, error) {
	f := shrinkFlags{}
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		return f, 0, helpRequested{}
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return f, 0, usagef("shrink: expected a SEED first (decimal u64, 0x hex or 40-hex git commit)")
	}
	seed, err := scenarios.ParseSeed(args[0])
	if err != nil {
		return f, 0, usageError{err.Error()}
	}
	fs := newFlagSet("shrink")
	f.scenarioFlag(fs)
	fs.IntVar(&f.ticksMax, "ticks-max", 0, "tick budget of every run (0: scenario default)")
	fs.DurationVar(&f.budget, "budget", shrinkBudgetDefault, "wall time the search may take (e.g. 2m)")
	fs.IntVar(&f.attempts, "attempts", shrinkAttemptsDefault, "most runs the search may make after the seed's own")
	f.mutationFlag(fs)
	if err := parseFlags(fs, args[1:]); err != nil {
		return f, 0, err
	}
	if err := f.checkTicks(); err != nil {
		return f, 0, err
	}
	if f.budget <= 0 || f.attempts < 1 {
		return f, 0, usagef("shrink: expected --budget > 0 and --attempts >= 1")
	}
	return f, seed, nil
}

func roundNote(round int) string {
	if round == 1 {
		return "kinds, fault ticks, clients, replicas, standbys"
	}
	return "again, the steps that a change kept after them may have unblocked"
}

// printAttempt prints one run of the search: what changed, whether it was kept, and how the
// run ended (its failure signature; "another failure" if it failed differently).
func printAttempt(w io.Writer, a scenarios.ShrinkAttempt, width int) {
	verdict, why := "dropped", scenarios.FailureSignature(a.Result)
	switch {
	case a.Kept:
		verdict = "kept"
	case a.Result.Outcome != scenarios.Pass:
		why += " (another failure)"
	}
	fmt.Fprintf(w, "attempt %*d: %-40s %-7s %s\n", width, a.N, a.Tried, verdict, why)
}

// printShrunk prints the result: the failure, what got smaller, the configuration and its
// replay command (the last kept run, so the command is known to fail this way).
func printShrunk(w io.Writer, s scenarios.Shrunk, base scenarios.Options, wall time.Duration) {
	r := s.Result
	fmt.Fprintf(w, "shrunk seed %d in %d attempts, %s: every kept run fails as %q\n",
		r.Seed, s.Attempts, wall.Round(time.Millisecond), s.Signature)
	if s.Bound != "" {
		fmt.Fprintf(w, "stopped early: %s; the configuration below is the smallest found so far\n", s.Bound)
	}
	fmt.Fprintf(w, "  kinds       %d -> %d: %s\n", len(s.Before.Kinds), len(s.After.Kinds), kindList(s.After.Kinds))
	fmt.Fprintf(w, "  fault ticks %d -> %d\n", s.Before.FaultTicks, s.After.FaultTicks)
	fmt.Fprintf(w, "  clients     %d -> %d\n", s.Before.Clients, s.After.Clients)
	fmt.Fprintf(w, "  replicas    %d -> %d\n", s.Before.Replicas, s.After.Replicas)
	fmt.Fprintf(w, "  standbys    %d -> %d\n", s.Before.Standbys, s.After.Standbys)
	o := base
	o.SwarmOverride = s.Override
	swarm, _ := lookupScenario(r.Scenario)
	fmt.Fprintln(w, scenarios.ParamsLine(swarm, o))
	fmt.Fprintln(w, scenarios.ResultLines(r, scenarios.ReplayOf(o)))
}

func kindList(kinds []faults.Kind) string {
	if len(kinds) == 0 {
		return "(none)"
	}
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = string(k)
	}
	return strings.Join(names, ",")
}
