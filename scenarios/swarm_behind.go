package scenarios

import (
	"fmt"

	"vopr/cluster/vsr"
	"vopr/sim"
)

// The primary left behind a compacted log (lastingBehind, swarm_lasting.go). A replica that
// lacks ops no peer holds any more (they checkpointed past them, and a replica keeps in its
// log only the ops above its checkpoint once it restarts) can only catch up by a state sync.
// A backup learns that from the primary's heartbeat; a new primary has no one ahead of it to
// tell it, and must see for itself that its repairs get nowhere and fetch a peer's
// checkpoint. The fault phase rarely builds that state: the nemesis keeps a replica down for
// seconds, and a lagging replica hears a heartbeat before it can lead. So, once the healed
// cluster has served every client and converged, and every member has written its log
// (logsWritten, swarm_lasting.go: else the quorum left waits on a backlog), the replica that
// leads the next view (X) goes down, as its head ends a checkpoint interval (behindAligned),
// while the others run the load until each has checkpointed past X's head (or
// behindTicksMax passes); then X
// restarts just as the primary goes down and every other replica (standbys too) restarts,
// keeping of its log only the ops above its checkpoint, so that X, which has heard no
// heartbeat, leads the view change with a log whose next op only the peers' checkpoints
// hold. The clients must be served anew and the others converge without the old primary;
// then it restarts and catches up.
//
// While X is down, every running replica's wall clock is stepped ahead together by
// behindStepNs (2 to 6 s: their cluster time agrees, they stamp ops ahead of true time), and
// the step is undone at the switch, as an operator fixing the clocks would: X then leads
// with a clock seconds behind the head op's timestamp, an op it got by the view change, not
// as a prepare, and must stamp above it (commit_timestamp's monotonic rule).

// behindTicksMax bounds the wait for the others to checkpoint past X's head: a slow workload
// (one client on slow disks) may never get there, and the seed goes on anyway.
const behindTicksMax = 3000

// behindAlignTicks bounds the wait, under load, for X's head to end a checkpoint interval
// (behindAligned).
const behindAlignTicks = 500

// behindAligned reports whether X's head is the op just below a checkpoint: X then goes down
// holding every op up to it, the others' next checkpoint is the op after it, and the view
// change names that op by its successor's parent. X installs the log, holding the head of the
// log it must commit, and starts its view as a normal primary with one committed op to
// execute that no peer holds any more (their logs begin above their checkpoints): only a
// state sync, which X must ask of a peer, lets it execute (vsr: checkStuck). With a wider
// gap, X cannot name the ops and the view change moves on to another primary.
func (run *swarmRun) behindAligned(x int) bool {
	rep := run.c.Replica(x)
	return rep == nil || rep.TraceState().Op%vsr.CheckpointInterval == vsr.CheckpointInterval-1
}

// takeBehind runs the lasting fault up to X's restart and the primary's crash, once the
// healed cluster has converged; it returns false if the seed did not draw it.
func (run *swarmRun) takeBehind() bool {
	if run.lasting != lastingBehind {
		return false
	}
	c := run.c
	p := c.Primary()
	if p < 0 {
		return false
	}
	in := c.Replica(p).Inspect()
	_, outside := c.Configuration()
	x := vsr.PrimaryIndex(in.View+1, run.swarm.Replicas, outside)
	if x == p || c.Replica(x) == nil {
		return false
	}
	run.load = true
	run.clients.again(c.Loop.Now(), fmt.Sprintf("R%d, the next view's primary, was about to be taken down", x))
	run.runChecked(func() bool { return run.behindAligned(x) }, behindAlignTicks)
	head := c.Replica(x).TraceState().Op
	c.Trace.Emitf(sim.LevelShort, x, "nemesis", "lasting_behind: the next view's primary goes down at op %d", head)
	c.CrashReplica(x)
	stepped := run.stepClocks(run.behindStepNs)
	run.behindPassed = run.runChecked(func() bool { return run.othersCheckpointed(x, head) }, behindTicksMax)
	c.Trace.Emitf(sim.LevelShort, x, "nemesis", "lasting_behind: R%d restarts, the primary R%d goes down and the others restart (passed=%t)",
		x, p, run.behindPassed)
	for _, i := range stepped {
		c.Nodes[i].Clock.Step(-run.behindStepNs)
	}
	c.CrashReplica(p)
	active, standbys := c.Members()
	var restart []int
	for _, i := range append(active, standbys...) { // standbys keep old ops in their logs too
		if i != p && i != x && c.Replica(i) != nil {
			c.CrashReplica(i)
			restart = append(restart, i)
		}
	}
	run.inspect() // the checkers see the crashes before the new incarnations' events
	for _, i := range append(restart, x) {
		c.StartReplica(i)
	}
	run.lastingReplica, run.lastingTaken, run.behindReplica = p, true, x
	// The move's crash of every replica and its clock steps are its own view changes, as the
	// fault phase's are: the storm rule's window starts again here (make soak's seed
	// 3567225002287448255 counted 11 of them, 3 s after the heal, in a cluster that converged
	// and then made none).
	run.alerts.heal()
	run.clients.again(c.Loop.Now(), fmt.Sprintf("R%d restarted behind its peers' checkpoints as the primary R%d went down", x, p))
	return true
}

// behind runs the liveness phase's tests with X restarted and the old primary down: every
// client served anew and the others converged without it; then it restarts and catches up.
func (run *swarmRun) behind(livenessTicks int) (progressed, converged bool) {
	progressed, converged = run.serveAndConverge(livenessTicks)
	run.behindLed = run.c.Primary() == run.behindReplica
	if converged && run.endLastingDown() {
		converged = run.runChecked(run.converged, livenessTicks/2)
	}
	return progressed, converged
}

// stepClocks steps the wall clock of every running replica by deltaNs, and returns them.
func (run *swarmRun) stepClocks(deltaNs int64) []int {
	var stepped []int
	for i := 0; i < run.c.MemberCount(); i++ {
		if run.c.Replica(i) != nil && run.c.IsMember(i) {
			run.c.Nodes[i].Clock.Step(deltaNs)
			stepped = append(stepped, i)
		}
	}
	run.c.Trace.Emitf(sim.LevelShort, -1, "nemesis", "lasting_behind: the clocks of %v step %s", stepped, sim.Duration(deltaNs))
	return stepped
}

// othersCheckpointed reports whether every active replica but x has checkpointed past op.
func (run *swarmRun) othersCheckpointed(x int, op uint64) bool {
	active, _ := run.c.Members()
	for _, i := range active {
		if rep := run.c.Replica(i); i != x && (rep == nil || rep.CheckpointOp() <= op) {
			return false
		}
	}
	return true
}

// behindCounters reports the lasting fault's reach: the others checkpointed past X's head, and X
// led a view (whatever else it then did).
func (run *swarmRun) behindCounters(counters map[string]uint64) {
	if run.lasting != lastingBehind {
		return
	}
	if run.behindPassed {
		counters["coverage.lasting.behind_passed"]++
	}
	if run.behindLed {
		counters["coverage.lasting.behind_led"]++
	}
}
