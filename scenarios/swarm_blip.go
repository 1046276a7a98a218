package scenarios

import (
	"fmt"

	"vopr/sim"
)

// The short outage (a blip). A timeout that retries backs off (vsr/timeout.go): the primary
// resends an unacknowledged prepare after one period, then two, four, eight, and stays at
// eight. Each new prepare restarts the countdown, and with it the backoff: the prepare just
// sent deserves a prompt resend whatever its predecessors waited. A timer that kept the
// backoff of earlier firings across the restart would resend a prepare lost in a brief outage
// only after the capped eight periods, a recovery several times slower after every short loss
// under load, which no safety check and no generous liveness budget sees. The long pause
// (swarm_pause.go) cannot tell either: it runs the resend to its cap on purpose. Nor does
// the fault phase: the resend stops (and forgets its firings) whenever the pipeline drains.
//
// So once the healed cluster has converged and held its view (after the rounds of
// swarm_isolation.go and swarm_deposed.go): every backup is paused and cut off from the
// primary; one client sends a request, which the primary prepares and then resends, backing
// off, for eight periods (so three firings at least); then the other clients send theirs,
// and once the primary has prepared nothing new for one to one and a half periods (so the
// first resend after the newest prepare was lost too) the backups resume. The primary's
// prepared ops must then all commit within two resend periods of the resume (the latest the
// next resend comes when the backoff restarted) plus the slack of blipSlackTicks for the
// message and the disk writes it takes. The round times only seeds whose network and disks
// make that bound at most blipLimitPeriodsMax periods, so that it tells a restarted backoff
// from one at its cap; the others skip it. The draw comes from the run's own "swarm/blip"
// stream.
const blipLimitPeriodsMax = 6

func (run *swarmRun) blipRound(seed uint64, livenessTicks int) string {
	c := run.c
	active, p, ok := run.roundCluster(livenessTicks, 2)
	if !ok {
		return ""
	}
	backups := others(active, p)
	resend := c.Replica(p).Config().PrepareResendTicks
	if 2*resend+1+run.blipSlackTicks(active, 1) > blipLimitPeriodsMax*resend {
		return "" // the network or the disks are too slow for the bound to tell a backoff
	}
	if c.ClientCount() < 2 {
		return ""
	}
	r := sim.Stream(seed, "swarm/blip")
	quiet := resend + 3 + r.IntN(resend/2) // past the first resend (period plus its jitter of 2)
	c.Trace.Emitf(sim.LevelShort, p, "nemesis", "blip: every backup paused and cut off; one client's request backs the "+
		"resend off, then the others' restart it, and %d ticks later the backups resume", quiet)
	for _, i := range backups {
		c.Nodes[i].Pause()
		c.Network.Isolate(i)
	}
	budget := livenessTicks / 4
	// Stage 1: one client's request, left unacknowledged for eight resend periods (three
	// firings at least: 1+2+4 periods plus their jitter), so the resend has backed off.
	op := c.Replica(p).TraceState().Op
	first, held := run.blipRequests(func(i int) bool { return i == 0 }, op, 8*resend, budget)
	// Stage 2: the other clients' requests, each a new prepare that restarts the resend; the
	// backups return quiet ticks after the last of them.
	_, calm := run.blipRequests(func(i int) bool { return i != 0 }, first, quiet, budget)
	c.Network.Heal()
	for _, i := range backups {
		c.Nodes[i].Unpause()
	}
	if !held || !calm || c.Replica(p) == nil {
		return "" // a client did not reach the primary, or the run broke: nothing to time
	}
	// Each op prepared in the outage is written by every backup, one after the other: the
	// slack counts their writes (swarm seed 2027962544: seven ops on slow disks committed
	// about 45 ms apart, past a bound that counted one).
	in := c.Replica(p).TraceState()
	limit := 2*resend + 1 + run.blipSlackTicks(active, int(in.Op-in.CommitMax))
	if limit > blipLimitPeriodsMax*resend {
		return "" // too much to write for the bound to tell a backoff
	}
	run.blip.rounds++
	if run.knobs.afterBlip != nil {
		run.knobs.afterBlip(c, backups)
	}
	if !run.runChecked(run.pipelineDrained, limit) {
		if run.safety() != "" || c.Primary() != p {
			return ""
		}
		now := c.Replica(p).TraceState()
		return fmt.Sprintf("primary R%d's prepared ops (to %d, committed %d) did not commit within %d ticks after its backups returned "+
			"from an outage of %d ticks since its last prepare: the resend backs off from its period (%d ticks) at each new prepare, "+
			"whatever it backed off to before",
			p, now.Op, now.CommitMax, limit, quiet, resend)
	}
	if !run.runChecked(run.converged, livenessTicks/2) {
		return fmt.Sprintf("no convergence within %d ticks after a blip of the backups", livenessTicks/2)
	}
	return ""
}

// blipRequests makes the clients that pick chooses send one request each (those that are
// idle), waits until the primary has prepared beyond op, and then until it has prepared
// nothing new for quiet ticks. It returns the primary's op then, and false if that did not
// happen within budget ticks (a client may reach the primary only on a retry).
func (run *swarmRun) blipRequests(pick func(int) bool, op uint64, quiet, budget int) (uint64, bool) {
	c, p := run.c, run.c.Primary()
	run.load, run.loadClients = true, pick
	run.runChecked(func() bool { return false }, 1)
	run.load, run.loadClients = false, nil
	last, since := op, 0
	settled := func() bool {
		rep := c.Replica(p)
		if rep == nil {
			return false
		}
		if now := rep.TraceState().Op; now != last {
			last, since = now, 0
			return false
		}
		since++
		return last != op && since > quiet
	}
	ok := run.runChecked(settled, budget)
	return last, ok
}

// blipSlackTicks is the time a resent prepare takes to commit once it is sent: a message to
// the backup, its disk writes (three, to be safe: the prepare, the sync and the log's
// metadata) at the slowest replica's speed (the primary's own write may still be on its
// way), and the prepare_ok back. The bound is each
// latency's floor plus ten times its mean: an exponential latency exceeds that with
// probability e^-10 (the sum of several far less often).
func (run *swarmRun) blipSlackTicks(replicas []int, ops int) int {
	net := run.c.Network.Options()
	slow := 1
	for _, i := range replicas {
		slow = max(slow, run.c.Nodes[i].Disk.SlowMultiplier())
	}
	d := run.swarm.Disk
	writes := sim.Duration(3 * max(ops, 1))
	floor := 2*net.OneWayDelayMin + writes*sim.Duration(slow)*d.WriteLatencyMin
	means := 2*net.OneWayDelayMean + writes*sim.Duration(slow)*d.WriteLatencyMean
	slack := floor + 10*means
	return int((slack + sim.TickInterval - 1) / sim.TickInterval)
}

// blipCounts are the blip rounds timed.
type blipCounts struct{ rounds uint64 }
