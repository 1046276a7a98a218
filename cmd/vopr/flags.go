package main

import (
	"errors"
	"flag"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"vopr/cluster/vsr"
	"vopr/faults"
	"vopr/scenarios"
	"vopr/sim"
)

// runFlags are the flags shared by run, replay and check-determinism.
type runFlags struct {
	scenario string
	seed     string
	seeds    int
	ticksMax int
	log      string
	trace    string
	json     string
	// The swarm override flags of run and replay (scenarios.SwarmOverride): what a shrunk
	// failure's replay command sets.
	without    string
	replicas   int
	noStandbys bool
	noReconfig bool
	clients    int
	faultTicks int
	// mutationName is --mutation: a planted bug (binaries built with -tags vopr_mutants).
	mutationName string
	// html is --html FILE: the picture of the (last) seed.
	html string
}

const defaultScenario = "swarm"

func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported once, by run, with exit 64
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return helpRequested{}
		}
		return usagef("%s: %v (accepted flags: %s)", fs.Name(), err, flagNames(fs))
	}
	if fs.NArg() > 0 {
		return usagef("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	// An explicit empty seed (--seed "$UNSET") is an error, not a random seed.
	var err error
	fs.Visit(func(fl *flag.Flag) {
		if fl.Name == "seed" && fl.Value.String() == "" {
			_, parseErr := scenarios.ParseSeed("")
			err = usageError{parseErr.Error()}
		}
	})
	return err
}

// flagNames lists a flag set's flags, sorted, for usage errors; the swarm override flags
// (overrideUsage) come in a group of their own, since they apply to one scenario only.
func flagNames(fs *flag.FlagSet) string {
	var names, overrides []string
	fs.VisitAll(func(f *flag.Flag) {
		if strings.HasPrefix(f.Usage, overrideUsage) {
			overrides = append(overrides, "--"+f.Name)
		} else {
			names = append(names, "--"+f.Name)
		}
	})
	list := strings.Join(names, ", ")
	if len(overrides) > 0 {
		list += "; swarm override flags: " + strings.Join(overrides, ", ")
	}
	return list
}

// lookupScenario finds a scenario by name; tests replace it to run scenarios that do not
// ship (a deliberately nondeterministic one, say).
var lookupScenario = scenarios.Lookup

func (f *runFlags) scenarioFlag(fs *flag.FlagSet) {
	fs.StringVar(&f.scenario, "scenario", defaultScenario, "scenario to run (vopr list scenarios)")
}

func (f *runFlags) lookupScenario() (scenarios.Scenario, error) {
	s, ok := lookupScenario(f.scenario)
	if !ok {
		return s, usagef("unknown scenario %q: expected one of %v", f.scenario, scenarios.Names())
	}
	return s, nil
}

// seedList expands --seed and --seeds: --seed S alone is one seed; --seeds N alone is seeds
// 1..N (a fixed list, so CI runs are reproducible); both are S..S+N-1; neither is one random
// seed, printed like any other. --seeds 0 (or below) and a range past 2^64-1 exit 64.
func (f *runFlags) seedList() ([]uint64, error) {
	if f.seeds != seedsUnset && f.seeds < 1 {
		return nil, usagef("--seeds %d: expected a seed count >= 1", f.seeds)
	}
	var start uint64 = 1
	switch {
	case f.seed != "":
		s, err := scenarios.ParseSeed(f.seed)
		if err != nil {
			return nil, usageError{err.Error()}
		}
		start = s
	case f.seeds == seedsUnset:
		start = rand.Uint64()
	}
	n := max(f.seeds, 1)
	if start > math.MaxUint64-uint64(n-1) {
		return nil, usagef("--seed %d --seeds %d: the range runs past the largest seed 2^64-1", start, n)
	}
	seeds := make([]uint64, n)
	for i := range seeds {
		seeds[i] = start + uint64(i)
	}
	return seeds, nil
}

// seedsUnset is --seeds when not given (no count a user types).
const seedsUnset = math.MinInt

// given reports whether the flag name was set on the command line.
func given(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func (f *runFlags) level() (sim.Level, error) {
	l, err := sim.ParseLevel(f.log)
	if err != nil {
		return 0, usagef("--log: %v", err)
	}
	return l, nil
}

func (f *runFlags) checkTicks() error {
	if f.ticksMax < 0 {
		return usagef("--ticks-max %d: expected a positive tick count (0 = the scenario's default)", f.ticksMax)
	}
	return nil
}

// overrideUsage starts the usage of every swarm override flag (flagNames groups them by it).
const overrideUsage = "swarm override: "

// overrideFlags adds the swarm override flags, for run and replay.
func (f *runFlags) overrideFlags(fs *flag.FlagSet) {
	fs.StringVar(&f.without, "without", "", overrideUsage+"switch these fault kinds off (comma-separated, vopr list faults)")
	fs.IntVar(&f.replicas, "replicas", 0, overrideUsage+"fewer replicas than the seed draws (0: as drawn)")
	fs.IntVar(&f.clients, "clients", 0, overrideUsage+"this many clients, 1..8 (0: as drawn)")
	fs.IntVar(&f.faultTicks, "fault-ticks", 0, overrideUsage+"fault phase in ticks (0: half of --ticks-max or the default)")
	fs.BoolVar(&f.noStandbys, "no-standbys", false, overrideUsage+"drop the standbys the seed draws")
	fs.BoolVar(&f.noReconfig, "no-reconfig", false, overrideUsage+"drop the reconfiguring nemesis the seed draws")
}

// override parses the swarm override flags and checks them against every seed before
// anything runs: an unknown kind, a count out of range, more replicas than a seed draws, or
// any override for a scenario other than the swarm exits 64.
func (f *runFlags) override(scenario scenarios.Scenario, seeds []uint64) (scenarios.SwarmOverride, error) {
	v := scenarios.SwarmOverride{Replicas: f.replicas, Clients: f.clients, FaultTicks: f.faultTicks,
		NoStandbys: f.noStandbys, NoReconfig: f.noReconfig}
	if f.replicas < 0 || f.clients < 0 || f.faultTicks < 0 {
		return v, usagef("--replicas, --clients and --fault-ticks: expected a positive count (0: as drawn)")
	}
	if f.without != "" {
		for _, name := range strings.Split(f.without, ",") {
			k := faults.Kind(strings.TrimSpace(name))
			if !k.Valid() {
				return v, usagef("--without: unknown fault kind %q: expected one of %s", k, faults.KindNames())
			}
			v.Without = append(v.Without, k)
		}
		slices.Sort(v.Without)
		v.Without = slices.Compact(v.Without)
	}
	if v.IsZero() {
		return v, nil
	}
	if scenario.Name != swarmScenario {
		return v, usagef("--without, --replicas, --clients, --fault-ticks, --no-standbys and --no-reconfig apply to the swarm scenario only, not %q", scenario.Name)
	}
	for _, seed := range seeds {
		if _, err := scenarios.SwarmDraw(seed, v); err != nil {
			return v, usagef("seed %d: %v", seed, err)
		}
	}
	return v, nil
}

// resolve checks the flags every seed-running command shares and returns the scenario and
// the seeds to run.
func (f *runFlags) resolve() (scenarios.Scenario, []uint64, error) {
	scenario, err := f.lookupScenario()
	if err != nil {
		return scenario, nil, err
	}
	if err := f.checkTicks(); err != nil {
		return scenario, nil, err
	}
	if err := checkTicksMax(scenario, f.ticksMax); err != nil {
		return scenario, nil, err
	}
	seeds, err := f.seedList()
	return scenario, seeds, err
}

// checkTicksMax refuses a tick budget the scenario cannot honour (Scenario.CheckTicksMax).
func checkTicksMax(s scenarios.Scenario, ticksMax int) error {
	if s.CheckTicksMax == nil {
		return nil
	}
	if err := s.CheckTicksMax(ticksMax); err != nil {
		return usageError{err.Error()}
	}
	return nil
}

// mutationFlag adds --mutation NAME: a planted bug (vopr list mutations), in a binary built
// with -tags vopr_mutants.
func (f *runFlags) mutationFlag(fs *flag.FlagSet) {
	fs.StringVar(&f.mutationName, "mutation", "", "plant a bug in the replicas (vopr list mutations; needs -tags vopr_mutants)")
}

// mutation parses --mutation. A binary without the planted bugs refuses it (exit 64) and
// says how to build one that has them.
func (f *runFlags) mutation() (vsr.Mutation, error) {
	if f.mutationName == "" {
		return vsr.MutationNone, nil
	}
	if !vsr.MutantsEnabled() {
		return vsr.MutationNone, usagef("--mutation %s: this vopr binary has no planted bugs; build one that does with "+
			"`go build -tags vopr_mutants -o bin/vopr-mutants ./cmd/vopr`", f.mutationName)
	}
	m, ok := scenarios.LookupMutation(f.mutationName)
	if !ok {
		return vsr.MutationNone, usagef("--mutation %q: expected one of %s", f.mutationName, strings.Join(scenarios.MutationNames(), ", "))
	}
	return m, nil
}
