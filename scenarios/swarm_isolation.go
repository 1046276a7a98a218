package scenarios

import (
	"fmt"
	"math/rand/v2"

	"vopr/cluster/vsr"
	"vopr/sim"
)

// The operator's isolation of a backup, on the healed cluster. The runbook isolates a replica
// that misbehaves (`replica isolate`), most often one the network has already cut off for a
// while, and reconnects it once fixed (`replica unisolate`). The replica's contract
// (vsr/operator.go) is that its timers stand still while it is isolated and that on its
// return every running timeout restarts from zero, as if it had just heard from the cluster:
// it hears the primary's next heartbeat before it can suspect anyone. So returning a backup
// to a healthy cluster must not start an election.
//
// The rounds make the worst case for that contract likely: the backup is cut off by the
// network first, for about one election timeout (so its own election timeout is close to due
// when the operator isolates it); then, in half the rounds, the network heals and after a
// short while the operator reconnects it, and in the other half the operator reconnects it
// first and the network comes back up to half an election timeout later (the link was not
// quite fixed yet: the restarted timeouts leave the replica a whole election timeout to hear
// its primary). If it was still normal in the cluster's view when isolated, no member's view
// may change for two election timeouts (the longest an election deadline can be,
// vsr/replica.go: after plus up to after of jitter) and a few heartbeats after the
// reconnection. A replica that kept its old countdown fires within what remained of it, often
// before it hears anyone. A backup that did start a view change while the network cut it off
// has a reason to, so its round only requires the cluster to converge again.
//
// The rounds run once the alert hold has passed (an isolated replica is one the runbook's
// alerts are meant to see, so the alerts are not sampled during them), with the load stopped,
// in seeds whose heal left no lasting clock fault (a primary with a wrong clock may abdicate,
// swarm_stable_view.go). Their draws come from their own stream.
const isolationRoundsPerSeed = 3

// isolationRounds runs the rounds; the reason of the first that fails, or "".
func (run *swarmRun) isolationRounds(seed uint64, livenessTicks int) string {
	if run.alerts == nil || run.lasting == lastingClock || livenessTicks < swarmLivenessTicksDefault {
		return ""
	}
	r := sim.Stream(seed, "swarm/isolation")
	run.alertsClosed = true
	for k := 0; k < isolationRoundsPerSeed; k++ {
		if reason := run.isolationRound(r, livenessTicks); reason != "" {
			return reason
		}
	}
	return ""
}

// isolationRound cuts a backup off, isolates it, heals the network and reconnects it; then
// the cluster must keep its view (if the backup was still normal in it) and converge.
func (run *swarmRun) isolationRound(r *rand.Rand, livenessTicks int) string {
	c := run.c
	p := c.Primary()
	view := run.viewsAt()
	if p < 0 || !run.converged() {
		return ""
	}
	var backups []int
	active, _ := c.Members()
	for _, i := range active {
		if i != p && !run.gone[i] && i != run.lastingDownReplica() && c.Replica(i) != nil {
			backups = append(backups, i)
		}
	}
	if len(backups) == 0 {
		return ""
	}
	v := backups[r.IntN(len(backups))]
	cfg := c.Replica(v).Config()
	election, heartbeat := cfg.ElectionTimeoutTicks, cfg.HeartbeatTicks
	cut := election - heartbeat + r.IntN(election/2+heartbeat) // [E-H, 3E/2)
	hold := 1 + r.IntN(election)
	lag := 0 // the network heals before the unisolate, or lag ticks after it
	if r.IntN(2) == 0 {
		lag = 1 + r.IntN(election/2)
	}
	never := func() bool { return false }
	c.Trace.Emitf(sim.LevelShort, v, "nemesis", "isolation_round: R%d cut off by the network for %d ticks, then isolated by "+
		"the operator for %d; the network heals %d ticks after the unisolate (0: before it)", v, cut, hold, lag)
	run.isolation.rounds++
	c.Network.Isolate(v)
	run.runChecked(never, cut)
	in := c.Replica(v).Inspect()
	stillNormal := in.Status == vsr.StatusNormal && in.View == view && run.viewsAt() == view
	if err := ReplicaIsolate(c, v, "unreachable"); err != nil {
		return fmt.Sprintf("replica isolate of running backup R%d: %v", v, err)
	}
	heal := func() {
		c.Network.Heal()
		if run.knobs.afterUnisolate != nil {
			run.knobs.afterUnisolate(c, v)
		}
	}
	if lag == 0 {
		heal()
	}
	run.runChecked(never, hold)
	if err := ReplicaUnisolate(c, v); err != nil {
		return fmt.Sprintf("replica unisolate of running backup R%d: %v", v, err)
	}
	ticks := 0
	changed := func() bool {
		if ticks++; ticks == lag {
			heal()
		}
		return run.viewsAt() != view
	}
	watch := 2*election + 4*heartbeat
	if stillNormal && run.viewsAt() == view {
		run.isolation.checked++
		if run.runChecked(changed, watch) {
			return fmt.Sprintf("replica unisolate of backup R%d (normal in view %d when isolated, after %d ticks cut off; "+
				"network whole %d ticks after the unisolate) was followed within %d ticks by view %d in a healthy cluster: "+
				"a reconnected replica restarts its timeouts (at least %d ticks to an election) and its primary heartbeats every %d",
				v, view, cut, lag, watch, run.viewsAt(), election, heartbeat)
		}
	} else {
		run.runChecked(func() bool { changed(); return ticks >= lag }, lag)
	}
	if !run.runChecked(run.converged, livenessTicks/2) {
		return fmt.Sprintf("no convergence within %d ticks after replica unisolate of backup R%d", livenessTicks/2, v)
	}
	return ""
}

// isolationCounts are the rounds run and those whose view was checked.
type isolationCounts struct{ rounds, checked uint64 }

func (n isolationCounts) counters(counters map[string]uint64) {
	counters["isolation.rounds"] += n.rounds
	counters["coverage.mark.isolation.checked"] += n.checked
}
