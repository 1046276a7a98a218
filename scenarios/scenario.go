package scenarios

import (
	"fmt"
	"io"
	"sort"

	"vopr/cluster/vsr"
	"vopr/sim"
)

// Outcome classifies a run; its numeric value is the process exit code (DESIGN.md section 7).
type Outcome int

const (
	Pass           Outcome = 0
	Correctness    Outcome = 1
	Liveness       Outcome = 2
	Nondeterminism Outcome = 3
)

func (o Outcome) String() string {
	switch o {
	case Pass:
		return "pass"
	case Correctness:
		return "correctness"
	case Liveness:
		return "liveness"
	case Nondeterminism:
		return "nondeterminism"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// Options control one run of a scenario.
type Options struct {
	Seed uint64
	// TicksMax bounds the run in ticks of TickInterval (10 ms of virtual time each); 0 means
	// the scenario's default. A run that has not finished its work by then is a liveness
	// failure, never a hang.
	TicksMax int
	Log      sim.Level
	Out      io.Writer // where the log goes; nil discards it
	// TraceKeep keeps the first TraceKeep trace records in memory (for check-determinism).
	TraceKeep int
	// Mutation plants a bug in the replicas, for the tests that prove the harness catches
	// it (binaries built with -tags vopr_mutants only).
	Mutation vsr.Mutation
	// Unchecked runs without the invariant checkers (the replicas' own assertions stay on):
	// for benchmarks that measure what the checkers cost, never for a verdict.
	Unchecked bool
	// SwarmOverride changes what the swarm scenario draws from the seed (fault kinds off,
	// fewer replicas or clients, a shorter fault phase): how vopr shrink makes a failing seed
	// smaller, and how its replay command runs the result again. The zero value changes
	// nothing; the other scenarios ignore it (the CLI refuses it for them).
	SwarmOverride SwarmOverride
	// Picture, if set, collects the run's timeline for its picture (vopr replay --html):
	// replica states, fault periods, client operations, messages and the failure.
	Picture *Picture
	// disks, if set, is the sim.DiskPool of the swarm seed this run is an episode of: its
	// disks draw on it, and the seed's end reclaims them (disk_pools.go).
	disks *sim.DiskPool
}

// Result is what a run reports.
type Result struct {
	Scenario string
	Seed     uint64
	// Params are the parameters drawn from the seed, in the form printed on the first line.
	Params  string
	Outcome Outcome
	Reason  string // why it failed; empty on pass
	// TraceHash is the determinism fingerprint; Events the trace record count.
	TraceHash uint64
	Events    uint64
	SimTime   sim.Time
	// Counters are named observations of the run (coverage and metrics), sorted by name
	// when printed.
	Counters map[string]uint64
	Trace    *sim.Trace
}

// CounterNames returns the counter names in sorted order, so output never depends on map
// iteration order.
func (r Result) CounterNames() []string {
	names := make([]string, 0, len(r.Counters))
	for name := range r.Counters {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Scenario is a named driver.
type Scenario struct {
	Name    string
	Runbook string // the runbook section it reproduces
	Summary string
	// Params returns the parameters a seed draws, without running anything.
	Params func(seed uint64) string
	Run    func(Options) Result
	// CheckTicksMax, if set, says why the scenario cannot honour a --ticks-max (nil: it
	// honours every budget). The command line refuses such a budget with exit 64.
	CheckTicksMax func(ticksMax int) error
}

var registry []Scenario

// register adds a scenario. Its Run lends the run a disk pool (disk_pools.go) unless the
// caller passed one (a swarm seed's episodes share the seed's): a campaign's seeds then
// grow their disks into the arrays of the seeds before them.
func register(s Scenario) {
	run := s.Run
	s.Run = func(o Options) Result {
		if o.disks == nil {
			o.disks = lendDiskPool()
			defer returnDiskPool(o.disks)
		}
		return run(o)
	}
	registry = append(registry, s)
}

// All returns every scenario, sorted by name.
func All() []Scenario {
	all := append([]Scenario(nil), registry...)
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	return all
}

// Lookup finds a scenario by name.
func Lookup(name string) (Scenario, bool) {
	for _, s := range registry {
		if s.Name == name {
			return s, true
		}
	}
	return Scenario{}, false
}

// Names returns the scenario names, sorted.
func Names() []string {
	var names []string
	for _, s := range All() {
		names = append(names, s.Name)
	}
	return names
}
