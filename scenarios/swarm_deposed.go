package scenarios

import (
	"fmt"

	"vopr/cluster/vsr"
	"vopr/sim"
)

// The deposed primary whose successor fails. A primary cut off by the network keeps its view
// and goes on heartbeating into the void; the others elect a new primary without it. If the
// new primary then fails before the old one has heard of the new view, the old one comes back
// still sending commit heartbeats of its old view, which every backup must ignore: they are
// no evidence that the current view's primary is alive. A backup that took them would keep
// resetting its election timeout for as long as the deposed primary lives, never start the
// view change the cluster needs, and the old primary, which learns of views only from
// prepares, commits and view-change messages, would never hear of the new view either.
// The fault phase rarely lines this up: its partitions heal within seconds, its crashes fall
// at random, and the heal ends every fault at once.
//
// So once the healed cluster has held its view through the alert hold (and the isolation
// rounds, swarm_isolation.go), in every seed with at least three active replicas: the primary
// is cut off until every other active replica is normal in a later view, that view's primary
// goes down and stays down, and shortly after (up to half an election timeout) the network
// heals. The clients must then be served anew and the replicas left must converge, each
// within the budget of a lasting fault; then the one down restarts and everyone converges.
// The draw comes from the run's own "swarm/deposed" stream.
func (run *swarmRun) deposedRound(seed uint64, livenessTicks int) string {
	c := run.c
	active, p, ok := run.roundCluster(livenessTicks, 3)
	if !ok {
		return ""
	}
	run.runChecked(run.logsWritten, livenessTicks/4) // nothing acknowledged lives only in memory (swarm_lasting.go)
	r := sim.Stream(seed, "swarm/deposed")
	budget := run.electionBudget(livenessTicks)
	view := c.Replica(p).Inspect().View
	c.Trace.Emitf(sim.LevelShort, p, "nemesis", "deposed_primary: R%d cut off until the others elect a primary", p)
	c.Network.Isolate(p)
	next := -1
	elected := func() bool {
		next = -1
		for _, i := range active {
			if i == p {
				continue
			}
			in := c.Replica(i).Inspect()
			if in.Status != vsr.StatusNormal || in.View <= view {
				return false
			}
			if in.Role == vsr.RolePrimary {
				next = i
			}
		}
		return next >= 0
	}
	if !run.runChecked(elected, budget) {
		if run.safety() != "" {
			return ""
		}
		return fmt.Sprintf("with primary R%d of view %d cut off, the other active replicas were not all normal under a new primary within %d ticks",
			p, view, budget)
	}
	run.deposed.rounds++
	delay := r.IntN(c.Replica(p).Config().ElectionTimeoutTicks/2 + 1)
	c.Trace.Emitf(sim.LevelShort, next, "nemesis", "deposed_primary: new primary R%d goes down; R%d returns %d ticks later",
		next, p, delay)
	c.CrashReplica(next)
	run.deposed.down, run.deposed.taken = next, true
	defer func() { run.deposed.taken = false }()
	run.runChecked(func() bool { return false }, delay)
	c.Network.Heal()
	if run.knobs.afterDeposedReturn != nil {
		run.knobs.afterDeposedReturn(c, p, next)
	}
	run.load = true
	run.clients.again(c.Loop.Now(), fmt.Sprintf("deposed primary R%d returned with the new primary R%d down", p, next))
	served := run.runChecked(func() bool { return run.clients.allAnswered() || run.clients.starved != "" }, budget)
	run.load = false
	switch {
	case run.safety() != "":
		return ""
	case run.clients.starved != "":
		return run.clients.starved
	case !served:
		return run.clients.unserved()
	case !run.runChecked(run.converged, livenessTicks/2):
		return fmt.Sprintf("the replicas left did not converge within %d ticks after deposed primary R%d returned with the new primary R%d down",
			livenessTicks/2, p, next)
	}
	c.Trace.Emitf(sim.LevelShort, next, "nemesis", "deposed_primary ends: R%d restarts", next)
	c.StartReplica(next)
	run.deposed.taken = false
	if !run.runChecked(run.converged, livenessTicks/2) {
		return fmt.Sprintf("no convergence within %d ticks after R%d, the primary that went down, restarted", livenessTicks/2, next)
	}
	return ""
}

// deposedState is the round's new primary kept down (while taken) and the rounds run.
type deposedState struct {
	down   int
	taken  bool
	rounds uint64
}

// keeps reports whether the round keeps replica i down.
func (d deposedState) keeps(i int) bool { return d.taken && d.down == i }
