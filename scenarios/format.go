package scenarios

import "fmt"

// The lines every entry point prints for a run (vopr run and replay, vopr shrink, TestVOPR
// under go test): one format, so that a failure reads the same wherever it was found.

// ParamsLine is a run's first line: the seed, the scenario and the parameters the seed draws
// (under an override, the override and the swarm it draws).
func ParamsLine(s Scenario, o Options) string {
	params := ""
	switch {
	case !o.SwarmOverride.IsZero():
		p, err := SwarmParams(o.Seed, o.SwarmOverride)
		if err != nil {
			p = "override error: " + err.Error()
		}
		params = p
	case s.Params != nil:
		params = s.Params(o.Seed)
	}
	line := fmt.Sprintf("seed=%d scenario=%s %s", o.Seed, s.Name, params)
	if o.Mutation != 0 {
		line += " mutation=" + o.Mutation.String()
	}
	return line
}

// ResultLines is a run's result: one line for a pass; for a failure its class and reason,
// the simulated time and trace hash, and the replay command.
func ResultLines(r Result, p Replay) string {
	if r.Outcome == Pass {
		return fmt.Sprintf("seed=%d pass sim_time=%s events=%d trace_hash=%016x", r.Seed, r.SimTime, r.Events, r.TraceHash)
	}
	return fmt.Sprintf("seed=%d FAIL %s: %s\n  sim_time=%s trace_hash=%016x\n  replay: %s",
		r.Seed, r.Outcome, r.Reason, r.SimTime, r.TraceHash, p.Command(r))
}
