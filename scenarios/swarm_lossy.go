package scenarios

import (
	"fmt"
	"math"

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
// member up: the network loses a share of its packets, on every path, and nothing else; the
// clients send requests (and, in seeds with standbys, a share of their gets to a standby as
// stale reads) for lossyLoadTicks; then the loss lasts until every request in flight is done.
// No request or stale read sent in the round may end indeterminate. Then the network is whole
// again and the cluster must converge.
//
// A correct cluster still gives up on a request when every try of one of its steps is lost,
// and not every step gets the client's whole RetryTicks*AttemptsMax (6 s by default) of
// tries: a retry of an executed request is answered from the client table (a send and its
// answer are through with (1-loss)^2), but an op waiting for its quorum gets prepare and
// prepare_ok round trips only at the primary's resend schedule, which backs off to 8x
// PrepareResendTicks (sends at 0, 0.1, 0.3, 0.7, 1.5 s and every 0.8 s after: ten round trips
// in 6 s), each lost with 1-(1-loss)^2. Swarm seed 2042003975 drew 15%: every round trip of op
// 637 was lost (5 prepares, 5 prepare_oks) and its client gave up; at 15% a two-replica cluster
// gives up on a request with a chance near 5e-6, so on one of a round's few dozen near 1e-4.
// lossyModel bounds that chance from the run's configuration (resend period and heartbeat of
// the primary, the client's retry budget, the quorum, the network's delays), and the loss is
// drawn (from the run's "swarm/lossy" stream) between lossyLossMin and the largest loss at
// which the bound stays under lossyGiveUpMax per request: under 1e-6 for a round's hundred
// requests (a cap under lossyLossMin lowers the floor to half the cap). By default, for two
// replicas, the cap is 6.5-7.7% by the network's delays.
const (
	lossyLossMin   = 0.05
	lossyLossMax   = 0.15
	lossyLoadTicks = 200
	lossyGiveUpMax = 1e-8 // per request; a round sends a few dozen (19 in swarm seed 2042003975)
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
	// A backup still writing a backlog of ops to a slow disk (what the earlier rounds left)
	// answers no prepare of the round until it is through: let the disks catch up first.
	if !run.runChecked(run.disksIdle, livenessTicks/2) {
		return ""
	}
	model := run.lossyModel()
	if model.giveUp(0) > lossyGiveUpMax {
		return "" // the disks alone may take the client's budget: no loss to judge
	}
	hi := min(lossyLossMax, model.lossCap())
	lo := min(lossyLossMin, hi/2)
	loss := lo + (hi-lo)*sim.Stream(seed, "swarm/lossy").Float64()
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

// disksIdle reports whether no member's disk has an operation in flight (the storage engine
// issues its next write as the previous completes, so an idle disk has no backlog).
func (run *swarmRun) disksIdle() bool {
	now := run.c.Loop.Now()
	for i := 0; i < run.c.MemberCount(); i++ {
		if run.c.IsMember(i) && !run.gone[i] && run.c.Nodes[i].Disk.InFlightUntil() > now {
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

// lossyModel is what a request needs from a correct cluster on a network that only loses
// packets, in the run's configuration, in ticks. The primary's resend schedule is restated
// from cluster/vsr's timeouts (a checker does not share the code it checks).
type lossyModel struct {
	resend    int    // PrepareResendTicks
	heartbeat int    // HeartbeatTicks: a backup learns a commit within one
	retry     int    // the client's RetryTicks
	attempts  int    // the client's AttemptsMax
	members   []bool // the replica slots the client tries in turn, members or not
	primary   int    // the slot of the client's first send
	votes     int    // backups' prepare_oks a commit needs: the quorum less the primary's own
	hop       int    // a message's delay: OneWayDelayMin + 3*OneWayDelayMean, rounded up
	// disk bounds the time an op's request waits at the primary and its prepare at a backup
	// for the disks: the writes of a full pipeline of ops ahead of it and its own, at the
	// slowest member's speed (swarm seed 9700000577: 85 ms writes, an op's four took 0.35 s,
	// and the request waited 3 s of its 6 s for the ops ahead while the primary's resends
	// backed off).
	disk int
}

const (
	lossyResendJitterMax = 2 // cluster/vsr: the prepare_resend timeout's jitter
	lossyResendShiftMax  = 3 // cluster/vsr: timeout.again backs off to 8x its period at most
	lossyPipelineMax     = 8 // cluster/vsr: PipelinePrepareMax, the ops a primary has in flight
	lossyOpWrites        = 4 // a backup's writes of an op before its prepare_ok: entry, sync, record, sync
)

func (run *swarmRun) lossyModel() lossyModel {
	c := run.c
	p := c.Primary()
	cfg := c.Replica(p).Config()
	m := lossyModel{resend: cfg.PrepareResendTicks, heartbeat: cfg.HeartbeatTicks,
		retry: int(clientRetryPeriod / sim.TickInterval), attempts: clientAttemptsMax, primary: p}
	active := 0
	for i := 0; i < c.ReplicaCount(); i++ {
		m.members = append(m.members, c.IsMember(i) && !run.gone[i])
		if c.IsMember(i) {
			active++
		}
	}
	m.votes = active/2 + 1 - 1
	net := c.Network.Options()
	m.hop = int((net.OneWayDelayMin + 3*net.OneWayDelayMean + sim.TickInterval - 1) / sim.TickInterval)
	slow := 1
	for i := 0; i < c.ReplicaCount(); i++ {
		if m.members[i] {
			slow = max(slow, c.Nodes[i].Disk.SlowMultiplier())
		}
	}
	// Each latency's floor plus the mean-based bound the other rounds use (swarm_suffix.go):
	// w exponential writes exceed (2w+16) means with a negligible chance.
	d, w := run.swarm.Disk, sim.Duration(lossyOpWrites*(lossyPipelineMax+1))
	m.disk = ticksOf(sim.Duration(slow) * (w*d.WriteLatencyMin + (2*w+16)*d.WriteLatencyMean))
	return m
}

// lossCap is the largest loss (to 1e-4) at which giveUp stays under lossyGiveUpMax.
func (m lossyModel) lossCap() float64 {
	lo, hi := 0.0, 1.0
	for hi-lo > 1e-4 {
		if mid := (lo + hi) / 2; m.giveUp(mid) <= lossyGiveUpMax {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

// giveUp bounds the chance that a correct cluster gives up on a request at loss p: its sends
// go to the primary, then to every slot in turn (a backup forwards it: two messages); from
// the first that reaches the primary the op waits for its quorum (unanswered).
func (m lossyModel) giveUp(p float64) float64 {
	gaveUp, unreached := 0.0, 1.0
	for j := 0; j < m.attempts; j++ {
		reach := 0.0
		switch slot := m.slot(j); {
		case slot == m.primary:
			reach = 1 - p
		case m.members[slot]:
			reach = (1 - p) * (1 - p)
		}
		gaveUp += unreached * reach * m.unanswered(p, m.retry*j+m.hop)
		unreached *= 1 - reach
	}
	return gaveUp + unreached
}

func (m lossyModel) slot(send int) int { return (m.primary + send) % len(m.members) }

// unanswered is the chance that an op whose request reached the primary at tick at (from the
// client's first send) is not answered within the client's budget: each prepare send is a
// round trip to every backup, through with (1-p)^2, and the op commits on the first send by
// which enough backups had one through. A backup answers only once its disk is through
// (m.disk): the sends before count as one then (its prepare_ok of one of them), and the
// schedule runs from the request's arrival, where the primary's resends back off soonest.
func (m lossyModel) unanswered(p float64, at int) float64 {
	budget := m.retry * m.attempts
	missed, before := 0.0, 0.0 // before: the chance it committed on an earlier send
	for i, s := range m.answerableSends(budget) {
		commit := at + s + 2*m.hop
		if commit > budget {
			break
		}
		by := m.quorumWithin(1-(1-p)*(1-p), i+1)
		missed += (by - before) * m.noAnswer(p, commit)
		before = by
	}
	return missed + 1 - before
}

// prepareSends are the ticks, from an op's first prepare, of the primary's sends of it while
// it waits: the resend timeout fires after its period, then 2x, 4x and 8x it for good, each
// late by the jitter at most. (A new prepare restarts the timeout: under load they come sooner.)
func (m lossyModel) prepareSends(until int) []int {
	sends := []int{0}
	for k, t := 1, m.resend+lossyResendJitterMax; t < until; k++ {
		sends = append(sends, t)
		t += m.resend<<min(k, lossyResendShiftMax) + lossyResendJitterMax
	}
	return sends
}

// answerableSends are prepareSends as the backups can answer them: those before m.disk
// merged into one at m.disk.
func (m lossyModel) answerableSends(until int) []int {
	sends := m.prepareSends(until)
	if m.disk <= 0 {
		return sends
	}
	out := []int{m.disk}
	for _, s := range sends {
		if s > m.disk {
			out = append(out, s)
		}
	}
	return out
}

// quorumWithin is the chance that at least votes backups had a round trip through within n
// prepare sends, each lost with lost.
func (m lossyModel) quorumWithin(lost float64, n int) float64 {
	backups := -1 // the primary is one of the members
	for _, member := range m.members {
		if member {
			backups++
		}
	}
	got := 1 - math.Pow(lost, float64(n))
	sum := 0.0
	for k := m.votes; k <= backups; k++ {
		ways := 1.0
		for i := 0; i < k; i++ {
			ways = ways * float64(backups-i) / float64(i+1)
		}
		sum += ways * math.Pow(got, float64(k)) * math.Pow(1-got, float64(backups-k))
	}
	return sum
}

// noAnswer is the chance that an op committed at tick commit is not answered in the budget:
// the primary's reply is lost, and so is every later send of the client or its answer from a
// client table: the primary's, or (a heartbeat after the commit) a backup's that learned it.
func (m lossyModel) noAnswer(p float64, commit int) float64 {
	budget := m.retry * m.attempts
	miss := 1.0
	if commit+m.hop <= budget {
		miss = p
	}
	for j := 0; j < m.attempts; j++ {
		s, slot := m.retry*j, m.slot(j)
		switch {
		case s+2*m.hop > budget || s < commit:
		case slot == m.primary:
			miss *= 1 - (1-p)*(1-p)
		case m.members[slot] && s >= commit+m.heartbeat+m.hop:
			miss *= 1 - (1-p)*(1-p)*(1-p)
		}
	}
	return miss
}
