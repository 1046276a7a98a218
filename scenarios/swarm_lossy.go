package scenarios

import (
	"fmt"

	"vopr/cluster/client"
	"vopr/sim"
)

// Service through a lossy network. Every message of the protocol may be lost, and each step
// that waits for one has a retry: a client resends its request (to the next replica) or its
// stale read (to the standby it asked), a primary resends prepares, a backup that executed a
// request answers the retry from its client table. A path without its retry (a read retried
// where no one serves it, a reply not resent for a duplicate request) turns each lost message
// into a request given up on, which the fault phase's checks accept as indeterminate and the
// liveness phase, run on a whole network, never meets.
//
// So once the healed cluster has held its view (and the other rounds are over), with every
// member up: the network loses lossyLossMin to lossyLossMax of its packets, on every path,
// and nothing else; the clients send requests (and, in seeds with standbys, a share of their
// gets to a standby as stale reads) for lossyLoadTicks; then the loss lasts until every
// request in flight is done. No request or stale read sent in the round may end
// indeterminate: a client gives up only after RetryTicks*AttemptsMax (6 s by default), and
// once its operation has run, each of its sends and the answer both get through with a
// probability of 0.72 at least (a retry is answered from the client table), so a correct
// cluster gives up on one, in the eighteen sends left after the few that execute it, with a
// probability below 1e-9, and on one of a round's few hundred below 1e-6. Then
// the network is whole again and the cluster must converge. The loss is drawn from the run's
// "swarm/lossy" stream.
const (
	lossyLossMin   = 0.05
	lossyLossMax   = 0.15
	lossyLoadTicks = 200
)

func (run *swarmRun) lossyRound(seed uint64, livenessTicks int) string {
	c := run.c
	if run.alerts == nil || run.lasting == lastingClock || run.swarm.Failover || c.Primary() < 0 ||
		livenessTicks < swarmLivenessTicksDefault || !run.converged() {
		return ""
	}
	for i := 0; i < c.MemberCount(); i++ {
		if c.IsMember(i) && !run.gone[i] && c.Replica(i) == nil {
			return ""
		}
	}
	loss := lossyLossMin + (lossyLossMax-lossyLossMin)*sim.Stream(seed, "swarm/lossy").Float64()
	saved := c.Network.Options()
	lossy := saved
	lossy.PacketLossProbability = loss
	lossy.PacketReplayProbability, lossy.PacketReorderProbability, lossy.PacketCorruptionProbability = 0, 0, 0
	lossy.PathClogProbability, lossy.PartitionProbability = 0, 0
	if err := c.Network.SetOptions(lossy); err != nil {
		panic("swarm: lossy round: " + err.Error())
	}
	c.Network.SetFaultsEnabled(true)
	c.Trace.Emitf(sim.LevelShort, -1, "nemesis", "lossy: the network loses %.0f%% of its packets on every path; the clients "+
		"send for %d ticks", 100*loss, lossyLoadTicks)
	l := &run.lossy
	l.on, l.since, l.gaveUp, l.reads = true, c.Loop.Now(), "", run.standbysServeReads()
	run.load = true
	if run.knobs.duringLossy != nil {
		run.knobs.duringLossy(c)
	}
	run.runChecked(func() bool { return l.gaveUp != "" }, lossyLoadTicks)
	run.load = false
	drain := livenessTicks / 2 // far past a client's give-up (RetryTicks*AttemptsMax: 6 s by default)
	drained := run.runChecked(func() bool { return l.gaveUp != "" || run.clientsIdle() }, drain)
	l.on, l.reads = false, false
	if err := c.Network.SetOptions(saved); err != nil {
		panic("swarm: lossy round: " + err.Error())
	}
	c.Network.SetFaultsEnabled(false)
	l.rounds++
	c.Trace.Emitf(sim.LevelShort, -1, "nemesis", "lossy ends: the network is whole")
	switch {
	case run.safety() != "":
		return ""
	case l.gaveUp != "":
		return l.gaveUp + fmt.Sprintf(", on a network that lost %.0f%% of its packets and nothing else", 100*loss)
	case !drained:
		return fmt.Sprintf("a client still had a request in flight %d ticks after the lossy round's load stopped", drain)
	case !run.runChecked(run.converged, livenessTicks/2):
		return fmt.Sprintf("no convergence within %d ticks after the lossy round", livenessTicks/2)
	}
	run.idleAfterRound() // a standby's lag counts the heartbeats the loss took (swarm seed 2028051673)
	return ""
}

// lossyDone notes a request or stale read of client i, sent at sentAt, that ended as r: one
// sent during the round and given up on fails it.
func (run *swarmRun) lossyDone(i int, what string, sentAt sim.Time, r client.Result) {
	l := &run.lossy
	if !l.on || l.gaveUp != "" || sentAt < l.since || r.Outcome != client.Indeterminate {
		return
	}
	l.gaveUp = fmt.Sprintf("client c%d gave up at %s on %s, sent at %s in the lossy round", i+1, run.c.Loop.Now(), what, sentAt)
}

// standbysServeReads reports whether the swarm sends stale reads and every standby serves
// them without a throttle (one over its limit drops reads by design).
func (run *swarmRun) standbysServeReads() bool {
	c := run.c
	if run.staleReads == nil {
		return false
	}
	for s := 0; s < c.StandbyCount(); s++ {
		rep := c.Replica(c.ReplicaCount() + s)
		if rep == nil || rep.ReadsMaxQPS() != 0 {
			return false
		}
	}
	return true
}

// clientsIdle reports whether no client has a request in flight.
func (run *swarmRun) clientsIdle() bool {
	for i := 0; i < run.c.ClientCount(); i++ {
		if run.c.Client(i).Busy() {
			return false
		}
	}
	return true
}

// lossyState is the round while on, what failed it, and the rounds run.
type lossyState struct {
	on     bool
	reads  bool     // the clients send stale reads to standbys in the round
	since  sim.Time // the round's start: requests sent earlier are not judged
	gaveUp string
	rounds uint64
}
