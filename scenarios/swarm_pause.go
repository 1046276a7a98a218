package scenarios

import (
	"fmt"

	"vopr/sim"
)

// The long pause of a quorum (lastingPause, swarm_lasting.go). A replica retries what gets no
// answer (a prepare, a view-change message, a request for its view's log) on timeouts that
// back off, up to a cap (vsr/timeout.go: 8x the period), so that when the peers come back the
// retry follows within a capped period. The fault phase's outages are short (the nemesis
// keeps at most f replicas down or paused, a partition heals within seconds), so no retry
// ever backs off far, and the cluster recovers through fresh timeouts (a restarted replica
// asks for its view's log at once; a backup cut off starts a view change). A prepare the
// backups never received is different: a backup learns of an uncommitted op only from a
// prepare, so the primary's resend is the only way it commits, however long the resend has
// backed off. Here, once the healed cluster has converged, every active replica but the
// primary is paused (a stopped process: no ticks, so no view change) and cut off from it;
// each client sends one request, which the primary prepares and can not commit; the pause
// lasts pauseTicks (20 to 40 s: a capped resend waits 0.8 s, an uncapped one has doubled
// past 10 s); then the backups resume, the primary's prepared ops must commit within a few
// capped resend periods (pipelineDrained, pauseDrainTicks), and the replicas converge within
// the convergence budget.
const (
	pauseTicksMin  = 2000
	pauseTicksSpan = 2000
)

// takePause pauses and cuts off the backups once the healed cluster has converged; false if
// the seed did not draw it.
func (run *swarmRun) takePause() bool {
	if run.lasting != lastingPause {
		return false
	}
	c := run.c
	p := c.Primary()
	if p < 0 {
		return false
	}
	active, _ := c.Members()
	run.lastingReplica, run.lastingTaken = p, true
	c.Trace.Emitf(sim.LevelShort, p, "nemesis", "lasting_pause: every backup pauses for %s, cut off from the primary",
		sim.Duration(run.pauseTicks)*sim.TickInterval)
	for _, i := range active {
		if i != p {
			c.Nodes[i].Pause()
			c.Network.Isolate(i)
			run.paused = append(run.paused, i)
		}
	}
	run.clients.again(c.Loop.Now(), "the backups paused")
	return true
}

// pauseRound runs the pause with one request per client, resumes the backups, and then
// requires the primary's prepared ops committed and the replicas converged within half the
// liveness budget (the load stays off: a new prepare would show the backups the ops they
// missed, and they would repair them without the resend).
func (run *swarmRun) pauseRound(livenessTicks int) (progressed, converged bool) {
	c := run.c
	run.load = true
	run.runChecked(func() bool { return false }, 1) // every idle client sends one request
	run.load = false
	run.runChecked(func() bool { return false }, run.pauseTicks)
	c.Trace.Emitf(sim.LevelShort, run.lastingReplica, "nemesis", "lasting_pause ends: %v resume", run.paused)
	c.Network.Heal()
	for _, i := range run.paused {
		c.Nodes[i].Unpause()
	}
	run.lastingEnded = true
	run.alerts.heal() // the pause's alerts (quorum lost) are its own, as the fault phase's are
	drainTicks := run.pauseDrainTicks()
	if !run.runChecked(run.pipelineDrained, drainTicks) {
		run.livenessReason = fmt.Sprintf("the primary's prepared ops did not commit within %d ticks after a %s pause "+
			"of its backups ended", drainTicks, sim.Duration(run.pauseTicks)*sim.TickInterval)
		return true, false
	}
	return true, run.runChecked(run.converged, livenessTicks/2)
}

// pauseDrainTicks is how long the primary has, once its backups resume, to commit what it
// prepared: the backups learn of those ops only from its resend, which backs off to at most
// 8 prepare-resend periods (vsr/timeout.go), and once they have them an ack is a disk write
// and a message away. Four capped periods leave room for a resend lost to a backup still
// working through what it held while paused; three times that on the slow disks the heal
// keeps (a write there takes up to hundreds of ms).
func (run *swarmRun) pauseDrainTicks() int {
	ticks := 4 * (run.c.Replica(run.lastingReplica).Config().PrepareResendTicks << 3)
	if run.alerts.slowDisks {
		ticks *= 3
	}
	return ticks
}

// pipelineDrained reports whether the primary has committed every op it prepared.
func (run *swarmRun) pipelineDrained() bool {
	p := run.c.Primary()
	if p < 0 {
		return false
	}
	in := run.c.Replica(p).TraceState()
	return in.Op == in.CommitMax
}
