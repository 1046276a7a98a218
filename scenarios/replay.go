package scenarios

import (
	"strconv"

	"vopr/cluster/vsr"
)

// Replay is what a replay command repeats besides the seed and the scenario: the tick
// budget, the swarm override (a shrunk failure replays only with both) and the planted bug
// (a mutant's failure is no failure without it). The CLI, the go test entry point
// (TestVOPR) and the reports all print replay commands through it, so the command a
// failure prints is the one that reproduces it.
type Replay struct {
	TicksMax int
	Override SwarmOverride
	Mutation vsr.Mutation
}

// ReplayOf is the Replay of a run made with o.
func ReplayOf(o Options) Replay {
	return Replay{TicksMax: o.TicksMax, Override: o.SwarmOverride, Mutation: o.Mutation}
}

// Command is the exact command line that re-executes r: `vopr replay SEED --scenario NAME`,
// then the override flags, the tick budget when it was not the default, and the mutation.
func (p Replay) Command(r Result) string {
	cmd := "vopr replay " + strconv.FormatUint(r.Seed, 10) + " --scenario " + r.Scenario
	if flags := p.Override.Flags(); flags != "" {
		cmd += " " + flags
	}
	if p.TicksMax != 0 {
		cmd += " --ticks-max " + strconv.Itoa(p.TicksMax)
	}
	if p.Mutation != vsr.MutationNone {
		cmd += " --mutation " + p.Mutation.String()
	}
	return cmd
}

// GoTestCommand is the go test command that re-executes r through TestVOPR (a mutant's
// needs the vopr_mutants build tag). Override flags have no go test form; a run with an
// override is replayed with the vopr command instead (Command).
func (p Replay) GoTestCommand(r Result) string {
	cmd := "go test"
	if p.Mutation != vsr.MutationNone {
		cmd += " -tags vopr_mutants"
	}
	cmd += " ./scenarios -run '^TestVOPR$' -vopr.scenario=" + r.Scenario + " -vopr.seed=" + strconv.FormatUint(r.Seed, 10)
	if p.TicksMax != 0 {
		cmd += " -vopr.ticks-max=" + strconv.Itoa(p.TicksMax)
	}
	if p.Mutation != vsr.MutationNone {
		cmd += " -vopr.mutation=" + p.Mutation.String()
	}
	return cmd
}

// LookupMutation finds a planted bug by name (vopr list mutations).
func LookupMutation(name string) (vsr.Mutation, bool) {
	for _, m := range vsr.Mutations() {
		if m.String() == name {
			return m, true
		}
	}
	return vsr.MutationNone, false
}

// MutationNames lists the planted bugs' names.
func MutationNames() []string {
	var names []string
	for _, m := range vsr.Mutations() {
		names = append(names, m.String())
	}
	return names
}
