package scenarios

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"vopr/faults"
	"vopr/internal/assert"
	"vopr/sim"
)

// SwarmOverride changes what the swarm scenario draws from a seed. The seed stays the same,
// so everything the override does not change is drawn as before: the same rates for the
// kinds left on, the same workload, the same nemesis stream. The zero value changes nothing.
type SwarmOverride struct {
	// Without switches these fault kinds off, exactly as a seed whose draw left them off
	// (faults.Override).
	Without []faults.Kind
	// Replicas and Clients, if not 0, replace the drawn counts (replicas can only go down).
	Replicas, Clients int
	// FaultTicks, if not 0, is the length of the fault phase in ticks, in place of the
	// default or half of Options.TicksMax. The liveness phase keeps its length, so that a
	// shorter fault phase never turns into a shorter wait for convergence.
	FaultTicks int
	// NoStandbys drops the standbys the seed draws: a seed found before standbys existed
	// runs exactly as it did then.
	NoStandbys bool
	// NoReconfig drops the reconfiguring nemesis the seed draws: a seed found before it
	// existed runs as it did then.
	NoReconfig bool
}

// IsZero reports whether v changes nothing.
func (v SwarmOverride) IsZero() bool {
	return len(v.Without) == 0 && v.Replicas == 0 && v.Clients == 0 && v.FaultTicks == 0 && !v.NoStandbys && !v.NoReconfig
}

func (v SwarmOverride) faults() faults.Override {
	return faults.Override{Without: v.Without, Replicas: v.Replicas, Clients: v.Clients, NoStandbys: v.NoStandbys,
		NoReconfig: v.NoReconfig}
}

// without returns v with kinds switched off as well, sorted and without repeats, so that the
// replay command lists each kind once in a stable order.
func (v SwarmOverride) without(kinds ...faults.Kind) SwarmOverride {
	all := append(slices.Clone(v.Without), kinds...)
	slices.Sort(all)
	v.Without = slices.Compact(all)
	return v
}

func (v SwarmOverride) faultTicksOr(ticks int) int {
	if v.FaultTicks > 0 {
		return v.FaultTicks
	}
	return ticks
}

// SwarmDraw returns the swarm that seed draws under v, or why v does not apply to it (an
// unknown kind, more replicas than the seed draws, a count out of range).
func SwarmDraw(seed uint64, v SwarmOverride) (faults.Swarm, error) {
	if v.FaultTicks < 0 {
		return faults.Swarm{}, fmt.Errorf("fault ticks %d: want a positive count", v.FaultTicks)
	}
	s, err := faults.DrawSwarmOverride(sim.Stream(seed, "swarm"), v.faults())
	if err == nil {
		s.DrawFailoverReconfig(sim.Stream(seed, "swarm/failover_reconfig"), v.faults())
	}
	return s, err
}

// SwarmParams returns the parameters of the first output line of a swarm run under v: the
// override itself, then the swarm it draws.
func SwarmParams(seed uint64, v SwarmOverride) (string, error) {
	s, err := SwarmDraw(seed, v)
	if err != nil {
		return "", err
	}
	return "override=[" + v.Flags() + "] " + s.String(), nil
}

// Flags are v as the command line's override flags (vopr run and replay), "" for none.
func (v SwarmOverride) Flags() string {
	var flags []string
	if len(v.Without) > 0 {
		kinds := make([]string, len(v.Without))
		for i, k := range v.Without {
			kinds[i] = string(k)
		}
		flags = append(flags, "--without "+strings.Join(kinds, ","))
	}
	for _, f := range []struct {
		name  string
		value int
	}{{"--replicas", v.Replicas}, {"--clients", v.Clients}, {"--fault-ticks", v.FaultTicks}} {
		if f.value > 0 {
			flags = append(flags, fmt.Sprintf("%s %d", f.name, f.value))
		}
	}
	if v.NoStandbys {
		flags = append(flags, "--no-standbys")
	}
	if v.NoReconfig {
		flags = append(flags, "--no-reconfig")
	}
	return strings.Join(flags, " ")
}

// overriddenSwarm is the swarm a run of o draws. An override the draw refuses is the
// caller's bug: the command line checks it with SwarmDraw before it runs anything.
func overriddenSwarm(o Options) faults.Swarm {
	if o.SwarmOverride.IsZero() {
		return drawSwarm(o.Seed)
	}
	s, err := SwarmDraw(o.Seed, o.SwarmOverride)
	assert.Thatf(err == nil, "swarm: override %q: %v", o.SwarmOverride.Flags(), err)
	return s
}

// SwarmFaultTicks is the length of the fault phase of a swarm run of o (runSwarmWith).
// TestSwarmFaultTicksIsTheRunsPhase holds the two together.
func SwarmFaultTicks(o Options) int {
	ticks := swarmFaultTicksDefault
	if o.TicksMax > 0 {
		ticks = o.TicksMax / 2
	}
	return o.SwarmOverride.faultTicksOr(ticks)
}

var (
	digits       = regexp.MustCompile(`[0-9]+`)
	failStopped  = regexp.MustCompile(`^replica [0-9]+ fail-stopped at \S+ (\(assertion=(true|false)\)): (.*)$`)
	alertFiring  = regexp.MustCompile(`^P[0-9] alert (\S+) `)
	signatureMax = 80
)

// FailureSignature says how a run failed, for the shrinker's "fails the same way": a smaller
// configuration is kept only if its run has the same signature as the seed's. It is the
// outcome, then the kind of failure without the numbers that any change of configuration
// moves (which replica, which op, view, time or tick):
//
//   - a checker's violation: "correctness: invariant NAME violated" (the checker's name);
//   - a replica's fail-stop: "correctness: fail-stopped (assertion=B): MESSAGE", the
//     assertion message or panic value with every number replaced by N, at most 80 bytes
//     (the same assertion in any replica, at any time);
//   - a P0/P1 alert that does not clear after heal: "liveness: alert NAME";
//   - anything else, the reason up to its first ": " with numbers replaced by N, such as
//     "correctness: durability", "liveness: no convergence within N ticks after heal
//     (progressed=false)" (whether requests still committed after the heal is part of the
//     symptom), or "liveness: alert in a swarm without faults".
//
// A passing run's signature is "pass".
func FailureSignature(r Result) string {
	if r.Outcome == Pass {
		return "pass"
	}
	reason := r.Reason
	if m := failStopped.FindStringSubmatch(reason); m != nil {
		msg := digits.ReplaceAllString(m[3], "N")
		if len(msg) > signatureMax {
			msg = msg[:signatureMax]
		}
		return fmt.Sprintf("%s: fail-stopped %s: %s", r.Outcome, m[1], msg)
	}
	if m := alertFiring.FindStringSubmatch(reason); m != nil {
		return fmt.Sprintf("%s: alert %s", r.Outcome, m[1])
	}
	head, _, _ := strings.Cut(reason, ": ")
	return fmt.Sprintf("%s: %s", r.Outcome, digits.ReplaceAllString(head, "N"))
}
