package scenarios

import (
	"fmt"

	"vopr/cluster/client"
	"vopr/cluster/kv"
	"vopr/cluster/vsr"
	"vopr/sim"
)

// A client reaches the cluster whatever its picture of the configuration. A client learns
// the membership from its replies (the slots outside, with the epoch), and uses it to guess
// the primary; but the membership may change while it hears nothing (it was idle, or cut
// off), and the slot it last learned was outside may since have been added back and be the
// one member it can reach. Its retries must still try it: a client that skips the slots it
// believes outside gives up on every request although the cluster is up and serving. The
// fault phase's reconfigurations are undone by the heal before the liveness phase, where
// every client reaches every replica, so no other check sees a stale picture cost anything.
//
// So in one seed of clientConfigOneIn, once the other rounds are over, with at least two
// active replicas, all up and converged, and two clients or more, on the
// "swarm/client_config" stream:
//
//   - the operator removes a backup X (`cluster reconfig remove-replica`), and a client K
//     sends until a request it sent after the change is answered: its reply names the new
//     configuration, X outside;
//   - K goes idle; the operator replaces X's disk and adds it back (add-replica), the
//     cluster converges with X caught up, and the other clients' requests commit with every
//     member: K has heard nothing of it;
//   - the network cuts every path from K to a replica but X's, and K sends one request. A
//     client tries every slot in turn: its send to X leaves within ReplicaCount sends (one per
//     retry period), X forwards it to the primary, and the primary's reply comes back. So the
//     request must be answered, not given up on, and on disks that are not slow within
//     clientConfigBound. Then the paths are whole again and the cluster must converge.
//
// A setup step that does not complete (a change no primary takes in its budget) skips the
// judged part: it is the reconfiguration's business, not the client's.
const clientConfigOneIn = 4

// clientAttemptsMax is cluster/client's default AttemptsMax, which the simulator's clients
// keep: a request is given up after that many sends, one per clientRetryPeriod.
const clientAttemptsMax = 20

func (run *swarmRun) clientConfigRound(seed uint64, livenessTicks int) string {
	r := sim.Stream(seed, "swarm/client_config")
	if r.IntN(clientConfigOneIn) != 0 {
		return ""
	}
	drawX, drawK := r.Uint64(), r.IntN(max(run.swarm.Clients, 1))
	active, p, ok := run.roundCluster(livenessTicks, 2)
	if !ok || !run.alertsClosed || !run.clientsIdleWithin(livenessTicks/2) {
		return ""
	}
	c := run.c
	backups := others(active, p)
	if len(backups) == 0 || drawK >= c.ClientCount() || c.ClientCount() < 2 {
		return "" // the other clients' load shows the cluster commits with X again
	}
	x, k := backups[drawX%uint64(len(backups))], drawK
	st := &run.clientConfig
	st.rounds++
	saved := run.onReply
	defer func() { run.onReply, run.load, run.loadClients = saved, false, nil }()

	// K learns that X is outside.
	c.Trace.Emitf(sim.LevelShort, x, "nemesis", "client_config: remove-replica %d; client c%d learns of it", x, k+1)
	if !run.reconfigTo(vsr.Change{Kind: vsr.ChangeRemoveReplica, Replica: x}, removedAskTicks) {
		st.skipped++
		return ""
	}
	since := c.Loop.Now()
	var learned bool
	run.onReply = func(_ kv.Op, res client.Result) {
		learned = learned || (res.Outcome == client.OK && run.clients.sentAt[k] >= since)
	}
	run.load, run.loadClients = true, func(i int) bool { return i == k }
	run.runChecked(func() bool { return learned }, livenessTicks/2)
	run.load = false
	if !learned || !run.clientsIdleWithin(livenessTicks/2) {
		st.skipped++
		return run.clientConfigRestore(x, livenessTicks)
	}

	// X comes back while K is idle.
	c.Trace.Emitf(sim.LevelShort, x, "nemesis", "client_config: R%d's disk replaced and added back; client c%d idle", x, k+1)
	if reason := run.clientConfigRestore(x, livenessTicks); reason != "" || !c.IsMember(x) {
		st.skipped++
		return reason
	}
	// The other clients' load until the configuration commits with every member again: a
	// member added on a new disk votes only once it has written the log it joined with (on
	// slow disks, seconds), and a configuration of two waits for it to commit anything
	// (swarm seed 20262476 with --no-standbys --no-reconfig).
	var target uint64
	run.load, run.loadClients = true, func(i int) bool { return i != k }
	caught := run.runChecked(func() bool { return run.caughtUp(&target) }, reconfigRestoreTicks)
	run.load = false
	if !caught || !run.clientsIdleWithin(livenessTicks/2) {
		st.skipped++
		return ""
	}

	// Only X is reachable from K.
	node := c.ClientNode(k)
	for i := 0; i < c.MemberCount(); i++ {
		if i != x {
			c.Network.Cut(node, i)
		}
	}
	n := c.ReplicaCount()
	c.Trace.Emitf(sim.LevelShort, node, "nemesis", "client_config: client c%d reaches only R%d, which it last learned was outside", k+1, x)
	if run.knobs.afterClientCut != nil {
		run.knobs.afterClientCut(c, k, x)
	}
	since = c.Loop.Now()
	var outcome *client.Result
	var sentAt, doneAt sim.Time
	run.onReply = func(_ kv.Op, res client.Result) {
		if outcome == nil && res.Outcome != client.Evicted && run.clients.sentAt[k] >= since {
			outcome, sentAt, doneAt = &res, run.clients.sentAt[k], c.Loop.Now()
		}
	}
	run.load, run.loadClients = true, func(i int) bool { return i == k }
	budget := int((clientAttemptsMax+2)*clientRetryPeriod/sim.TickInterval) + 4*run.messageSlackTicks()
	run.runChecked(func() bool { return outcome != nil }, budget)
	run.load = false
	run.clientsIdleWithin(budget)
	for i := 0; i < c.MemberCount(); i++ {
		c.Network.Uncut(node, i)
	}
	if run.safety() != "" {
		return ""
	}
	bound := clientConfigBound(n, run.messageSlackTicks())
	what := fmt.Sprintf("client c%d, whose last reply named R%d outside the configuration, reached only R%d, "+
		"added back since and a member", k+1, x, x)
	switch {
	case outcome == nil:
		return fmt.Sprintf("%s: it had no request answered within %d ticks (its requests were given up on, or never sent)",
			what, budget)
	case outcome.Outcome == client.Indeterminate:
		return fmt.Sprintf("%s: it gave up at %s on a request sent at %s (%d sends, one per %s): a client that tries every "+
			"slot in turn reaches R%d within %d sends", what, doneAt, sentAt, clientAttemptsMax, clientRetryPeriod, x, n)
	case !run.alerts.slowDisks && sim.Duration(doneAt-sentAt) > bound:
		first := sim.Duration(n-1) * clientRetryPeriod
		return fmt.Sprintf("%s: its request sent at %s was answered at %s, after %s; a client that tries every slot in "+
			"turn sends to R%d within %s of its first send (one send per %s), and the reply follows within %s", what,
			sentAt, doneAt, sim.Duration(doneAt-sentAt), x, first, clientRetryPeriod, bound-first)
	}
	st.served++
	return run.convergedAfterRound("the client_config round", livenessTicks)
}

// clientConfigBound is how long a request of a client that reaches one replica of n slots may
// take: its sends try every slot in turn, one per retry period, so the one to the reachable
// replica leaves within n-1 periods; the forward, the commit (a prepare and its acks, a disk
// write) and the reply take a few message delays, and two more periods cover a checkpoint's
// writes or a retry that crossed the reply.
func clientConfigBound(n, messageSlackTicks int) sim.Duration {
	return sim.Duration(n+2)*clientRetryPeriod + sim.Duration(4*messageSlackTicks)*sim.TickInterval
}

// clientConfigRestore replaces x's disk and adds it back, then waits for the cluster to
// converge with it; "" when the change could not be made in its budget (x stays outside,
// which the liveness checks accept), the failure when the cluster does not converge.
func (run *swarmRun) clientConfigRestore(x, livenessTicks int) string {
	c := run.c
	if c.IsMember(x) {
		return ""
	}
	wiping, failed := true, error(nil)
	run.storage.replacing = x
	ReplaceDisk(c, x, run.onReplacedDisk, func(err error) { wiping, failed = false, err })
	run.runChecked(func() bool { return !wiping }, reconfigRestoreTicks)
	run.storage.replacing = -1
	switch {
	case wiping:
		return fmt.Sprintf("client_config: the replaced disk of R%d was not formatted within %d ticks", x, reconfigRestoreTicks)
	case failed != nil:
		return fmt.Sprintf("client_config: formatting the replaced disk of R%d: %v", x, failed)
	}
	if !run.reconfigTo(vsr.Change{Kind: vsr.ChangeAddReplica, Replica: x}, reconfigRestoreTicks) {
		return ""
	}
	if !run.runChecked(run.converged, reconfigRestoreTicks) {
		return fmt.Sprintf("no convergence within %d ticks after R%d was added back (client_config round)", reconfigRestoreTicks, x)
	}
	return ""
}

// reconfigTo asks for change (again every reconfigRetryTicks while no primary takes it) until
// its configuration is established; false if it is not within ticks or is refused.
func (run *swarmRun) reconfigTo(change vsr.Change, ticks int) bool {
	c := run.c
	var awaited uint32
	asked, tick, refused := -reconfigRetryTicks, 0, false
	return run.runChecked(func() bool {
		tick++
		if refused || awaited > 0 && established(c, awaited) {
			return true
		}
		if !refused && tick-asked > reconfigRetryTicks {
			if rep, err := ClusterReconfigChange(c, change); err == nil {
				awaited, asked = rep.Epoch, tick
			} else {
				refused = !retriable(err)
				asked = tick
			}
		}
		return false
	}, ticks) && !refused
}

// clientsIdleWithin runs until no client has a request in flight, at most ticks.
func (run *swarmRun) clientsIdleWithin(ticks int) bool {
	return run.runChecked(run.clientsIdle, ticks)
}

// clientConfigState counts the rounds run, those skipped after they began, and those whose
// client was served.
type clientConfigState struct{ rounds, skipped, served uint64 }

func (s clientConfigState) counters(m map[string]uint64) {
	m["coverage.mark.client_config.round"] += s.rounds
	m["coverage.mark.client_config.skipped"] += s.skipped
	m["coverage.mark.client_config.served"] += s.served
}
