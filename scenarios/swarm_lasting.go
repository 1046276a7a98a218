package scenarios

import (
	"fmt"

	"vopr/cluster/vsr"
	"vopr/sim"
)

// Lasting minority faults. VSR stays live while a minority of its replicas is faulty, for as
// long as they are: healing every fault before the liveness phase let a bug that stalls the
// cluster only while one replica is sick pass, because the heal cured the symptom too. In
// half of the healed seeds (their own stream, so other seeds keep their draws), the heal
// leaves one replica sick through the liveness phase, and the cluster must still serve every
// client and converge:
//   - lastingClock: the primary's wall clock stays far off true time. It can no longer
//     timestamp, so it must give way (it stops its heartbeats and the backups elect another);
//     it converges with the others as a backup.
//   - lastingDown: once the healed cluster has served every client and converged, one
//     replica (the primary in half of them) goes down and stays down. The others must serve
//     the clients anew and converge without it; then it restarts, and must catch up.
//   - lastingRemoved: once the healed cluster has converged, a replica is removed from the
//     configuration for good (swarm_removed.go): the clients must be served in the new
//     membership, on their first attempts.
//   - lastingPause (half of the seeds that draw lastingRemoved): once the healed cluster has
//     converged, the backups pause for long while the primary holds prepares they never
//     received: its backed-off resend must still come within a capped period
//     (swarm_pause.go).
//   - lastingBehind: once the healed cluster has converged, the next view's primary goes down
//     until the others are a log window past it, then leads that view with its peers' logs
//     compacted past its head (swarm_behind.go).
const (
	lastingNone = iota
	lastingClock
	lastingDown
	lastingRemoved
	lastingBehind
	lastingPause
)

// lastingFaultOdds: one healed seed in lastingFaultOdds draws each kind. Every seed that
// draws one still converges whole in the end (the replica kept down restarts and catches up),
// so the fully healed check loses nothing.
const lastingFaultOdds = 4

// leaveLastingFault sets this seed's lasting fault, if it draws one the cluster can live
// with: at least three active replicas (a quorum of healthy ones remains), no failover (which
// takes the old replicas down itself), some fault drawn (a fault-free swarm's alerts must
// never fire), and the default liveness budget at least (a view change and a catch-up must
// fit: a run cut short by --ticks-max, as the gate's and shrink's are, stays fully healed).
func (run *swarmRun) leaveLastingFault(seed uint64, livenessTicks int) {
	r := sim.Stream(seed, "swarm/lasting")
	kind := r.IntN(lastingFaultOdds) + 1
	c := run.c
	active, _ := c.Members()
	p := c.Primary()
	if kind > lastingBehind || run.swarm.Failover || run.alerts == nil || run.alerts.faultFree || len(active) < 3 || p < 0 ||
		livenessTicks < swarmLivenessTicksDefault {
		return
	}
	run.lasting, run.lastingReplica = kind, p
	switch kind {
	case lastingClock:
		offset := (2 + r.Int64N(20)) * vsr.ClockToleranceNs
		if r.IntN(2) == 0 {
			offset = -offset
		}
		c.Trace.Emitf(sim.LevelShort, p, "nemesis", "lasting_clock: the primary's clock stays %s off", sim.Duration(offset))
		c.Nodes[p].Clock.SetOffset(offset)
	case lastingDown:
		run.lastingPick = r.IntN(2 * len(active)) // the primary in half, else any active one
	case lastingBehind:
		run.behindStepNs = int64(4+r.IntN(9)) * vsr.ClockToleranceNs
	case lastingRemoved:
		if r.IntN(2) == 0 {
			run.lasting, run.pauseTicks = lastingPause, pauseTicksMin+r.IntN(pauseTicksSpan+1)
		}
	}
}

// takeLastingDown takes the replica drawn for lastingDown down, once the healed cluster has
// served every client and converged: every replica then holds what it acknowledged, so the
// others hold every committed op, and the one down is the only sick replica. Taken down at
// the heal, it could hold the only intact copy of a committed op whose other copy the fault
// phase had damaged, a second failure no cluster of three survives (swarm seed 2027329168:
// op 10 unexecutable on the two left). The load starts again, and every client must be
// served anew.
func (run *swarmRun) takeLastingDown() bool {
	if run.lasting != lastingDown {
		return false
	}
	c := run.c
	active, _ := c.Members()
	run.lastingReplica = c.Primary()
	if run.lastingPick < len(active) || run.lastingReplica < 0 {
		run.lastingReplica = active[run.lastingPick%len(active)]
	}
	c.Trace.Emitf(sim.LevelShort, run.lastingReplica, "nemesis", "lasting_down: the replica stays down")
	c.CrashReplica(run.lastingReplica)
	run.lastingTaken = true
	run.load = true
	run.clients.again(c.Loop.Now(), fmt.Sprintf("R%d was taken down to stay down", run.lastingReplica))
	return true
}

// logsWritten reports whether every running member holds its whole log durable, from its
// checkpoint to its op. A cluster converged by commit numbers may still have a backup
// writing a backlog of committed ops one at a time on a slow disk (a backup executes what
// it holds before it is written). Taking another replica down then leaves the quorum
// waiting on that backlog: slow, not stuck, yet a client's whole retry budget long (swarm
// seed 2027700213: replica 1 about twenty ops behind at up to 65 ms a disk operation, four
// an op, and a client gave up after 6 s). The lasting faults that take a replica down (down,
// and behind: swarm seed 2027754434, replica 2 forty ops behind as the next view's primary
// went down, and no op committed for 6 s) wait for it, within a bound: an op left to the
// checkpoint (vsr's leftToCheckpoint) is never written, and then the fault goes ahead
// regardless.
func (run *swarmRun) logsWritten() bool {
	active, _ := run.c.Members()
	for _, i := range active {
		r := run.c.Replica(i)
		if r == nil {
			continue
		}
		// The count of durable prepares, not copies of them and a whole inspection (this
		// runs at every tick of the rounds that wait for it).
		op, checkpointOp, durable := r.DurableLog()
		if uint64(durable) < op-min(op, checkpointOp) {
			return false
		}
	}
	return true
}

// lastingDownReplica is the replica the lasting fault keeps down, or -1.
func (run *swarmRun) lastingDownReplica() int {
	if (run.lasting != lastingDown && run.lasting != lastingBehind) || !run.lastingTaken || run.lastingEnded {
		return -1
	}
	return run.lastingReplica
}

// endLastingDown restarts the replica the lasting fault kept down, once the others have
// converged without it; the caller then waits for it to catch up.
func (run *swarmRun) endLastingDown() bool {
	i := run.lastingDownReplica()
	if i < 0 {
		return false
	}
	run.c.Trace.Emitf(sim.LevelShort, i, "nemesis", "lasting_down ends: the replica restarts")
	run.c.StartReplica(i)
	run.lastingEnded = true
	return true
}

// lastingCounters reports the lasting fault drawn.
func (run *swarmRun) lastingCounters(counters map[string]uint64) {
	switch run.lasting {
	case lastingClock:
		counters["coverage.lasting.clock"]++
	case lastingDown:
		counters["coverage.lasting.down"]++
	case lastingRemoved:
		counters["coverage.lasting.removed"]++
	case lastingPause:
		counters["coverage.lasting.pause"]++
	case lastingBehind:
		counters["coverage.lasting.behind"]++
		run.behindCounters(counters)
	}
}

// lastingServeTicks is how long the clients have to be served after the heal: half the
// liveness budget, or three times that on the slow disks the heal keeps. The quorum may
// then need the slowest disk, and a new primary that rewrites its log on one is slow, not
// stuck (swarm seed 20261369: a replica kept down, 64 ops written one by one at up to 680 ms
// a write, served 25 s after the heal). So is a primary that serves six clients at two ops a
// second, each append four writes and syncs one after another at 91 ms on average: a
// request waits behind a full pipeline and a queue of retries, and a client that gives up
// after its twentieth retry (6 s) sends its next request to the back of the queue (swarm
// seed 2032600852, every replica up: one client unserved 15 s after the heal).
func (run *swarmRun) lastingServeTicks(livenessTicks int) int {
	if run.alerts.slowDisks {
		return 3 * livenessTicks / 2
	}
	return livenessTicks / 2
}
