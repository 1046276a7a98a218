package faults

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"vopr/cluster/vsr"
	"vopr/internal/assert"
	"vopr/internal/coverage"
	"vopr/sim"
)

// The long pause: a process stopped for tens of seconds, not the fraction of a second to two
// seconds the nemesis's pause/unpause pair gives (ReplicaPauseProbability and
// ReplicaUnpauseProbability per tick). Real deployments see such stalls: a VM live-migrated
// or suspended, a stop-the-world collection of a big heap, SIGSTOP (Jepsen's pause nemesis).
// Once per run, in a quarter of the seeds, one replica (in half of those the primary, if it
// may be taken down then) is paused for 10 to 40 s during the fault phase; the availability
// bound holds as for every pause (it counts as unavailable, and the nemesis's own unpause
// leaves it alone). What the process sees is what sim.Node's pause models: no ticks, no
// messages, no I/O completions while stopped; the messages that reached it meanwhile wait in
// its socket buffer (sim.HeldMessagesMax, the rest are dropped) and are read at once when it
// resumes, among them the pongs of its last pings, answered tens of seconds ago, and votes
// and prepares of views long gone; its timers are as it left them (one tick later), its
// clocks ran on. In half of those runs its wall clock is also wrong by more than the clock
// tolerance when it resumes, in one of two ways drawn:
//
//   - stale: the wall clock stood still while the process was stopped (a resumed VM's clock
//     reads the time it was suspended at until NTP steps it), so it resumes behind true time
//     by the length of the pause;
//   - stepped: the clock was stepped while the process was stopped (NTP or an operator
//     correcting the host meanwhile, the wrong way), by 1 to 30 s either way on top of the
//     tolerance.
//
// The wrong clock stays wrong until the heal resynchronises every clock (NTP at last). The
// fault phase is made long enough for the pause to end at least tailTicks before the heal
// (ArmLongPause), so the resumed replica rejoins a cluster under the other faults.
//
// The move draws only from its own stream (sim.Stream(seed, "swarm/long_pause")), and does
// nothing at all in the seeds where it is off: those keep their traces.

// The move's action names.
const (
	ActionLongPause        = "pause.long"
	ActionLongUnpause      = "unpause.long"
	ActionLongPauseSkipped = "pause.long_skipped"
	ActionLongPauseClock   = "clock.long_pause"
	longPauseTicksMin      = 1000 // 10 s
	longPauseTicksMax      = 4000 // 40 s
	longPauseWaitTicksMax  = 300  // how long the move waits for a replica it may pause
	longPauseTailTicksMin  = 200  // the fault phase goes on at least this long after the resume
	longPauseTailTicksMax  = 1000
	// longPauseStepNsMax bounds the stepped clock's error beyond the tolerance.
	longPauseStepNsMax = 30 * int64(sim.Second)
)

// The move's clock faults.
const (
	longPauseClockNone = iota
	longPauseClockStale
	longPauseClockStepped
)

// The move's coverage marks.
var (
	MarkLongPause = coverage.Declare("long_pause.paused",
		"a replica was paused for 10 to 40 s during the fault phase")
	MarkLongPausePrimary = coverage.Declare("long_pause.primary",
		"the replica paused for 10 to 40 s was the primary when it stopped")
	MarkLongPauseResumed = coverage.Declare("long_pause.resumed",
		"a replica resumed after a pause of 10 to 40 s, with the messages held for it")
	MarkLongPauseClock = coverage.Declare("long_pause.clock",
		"a replica resumed from a long pause with its wall clock off by more than the clock tolerance")
	MarkLongPauseDeposed = coverage.Declare("long_pause.deposed",
		"the primary paused for 10 to 40 s resumed after the others had moved to a later view")
)

// longPause is the move's plan and state.
//
// Invariants: r == nil iff the move is off; replica >= 0 from the pause to the resume (or
// until something else ended the pause: a crash); done once it is over or given up.
type longPause struct {
	r       *rand.Rand
	start   uint64 // the first tick the move tries to pause a replica at
	ticks   uint64 // the pause's length
	primary bool   // aim at the primary
	clock   int    // longPauseClock*
	stepNs  int64  // the clock step (stepped), at stepAt
	stepAt  uint64
	replica int
	view    uint32 // the paused replica's view as it stopped
	wasLead bool   // it was the primary
	resume  uint64 // the tick it resumes at
	stepped bool
	done    bool
}

// ArmLongPause draws the long pause from r (sim.Stream(seed, "swarm/long_pause")) for a fault
// phase of faultTicks ticks, and returns the fault phase's length with room for it: longer
// if the pause drawn would end less than its tail before the heal. Off in three seeds out
// of four, and where no replica may ever be taken down (UnavailableMax = 0): the length
// is unchanged.
func (n *Nemesis) ArmLongPause(r *rand.Rand, faultTicks int) int {
	assert.That(r != nil, "long pause: nil rand")
	on := r.IntN(4) == 0
	p := longPause{r: r, replica: -1}
	p.ticks = uint64(longPauseTicksMin + r.IntN(longPauseTicksMax-longPauseTicksMin+1))
	p.start = uint64(1 + faultTicks/10 + r.IntN(max(faultTicks*4/10, 1)))
	p.primary = r.IntN(2) == 0
	p.clock = longPauseClockNone
	if r.IntN(2) == 0 {
		p.clock = longPauseClockStale + r.IntN(2)
	}
	p.stepNs = vsr.ClockToleranceNs + 1 + r.Int64N(longPauseStepNsMax)
	if r.IntN(2) == 0 {
		p.stepNs = -p.stepNs
	}
	p.stepAt = uint64(r.Int64N(int64(p.ticks))) // after the pause began
	tail := longPauseTailTicksMin + r.IntN(longPauseTailTicksMax-longPauseTailTicksMin+1)
	if !on || n.atlas.UnavailableMax == 0 {
		return faultTicks
	}
	n.long = p
	return max(faultTicks, int(p.start)+longPauseWaitTicksMax+int(p.ticks)+tail)
}

// LongPauseArmed reports whether ArmLongPause drew the long pause for this run: a run
// with it is not fault-free, whatever fault kinds its swarm drew.
func (n *Nemesis) LongPauseArmed() bool { return n.long.r != nil }

// longPaused reports whether replica i is the one the long pause holds now: the nemesis's
// own unpause must not end it early.
func (n *Nemesis) longPaused(i int) bool {
	return n.long.r != nil && n.long.replica == i && !n.long.done
}

// stepLongPause is one tick of the move: nothing where it is off.
func (n *Nemesis) stepLongPause(c *sim.Cluster) {
	p := &n.long
	if p.r == nil || p.done || n.tick < p.start {
		return
	}
	if p.replica < 0 {
		n.takeLongPause(c)
		return
	}
	i := p.replica
	if c.Nodes[i].Status() != sim.NodePaused { // crashed meanwhile (an aimed move, a removal)
		n.record(c, i, ActionLongUnpause, "ended early: "+c.Nodes[i].Status().String())
		p.done = true
		return
	}
	if p.clock == longPauseClockStepped && !p.stepped && n.tick >= p.resume-p.ticks+p.stepAt {
		p.stepped = true
		n.record(c, i, ActionLongPauseClock, "stepped by "+sim.Duration(p.stepNs).String()+" while paused")
		c.Nodes[i].Clock.Step(p.stepNs)
	}
	if n.tick < p.resume {
		return
	}
	n.resumeLongPause(c, i)
}

// takeLongPause pauses the replica the move aims at, if the availability bound lets it;
// it gives up after longPauseWaitTicksMax ticks of waiting.
func (n *Nemesis) takeLongPause(c *sim.Cluster) {
	p := &n.long
	if n.tick >= p.start+longPauseWaitTicksMax {
		n.record(c, -1, ActionLongPauseSkipped, "no replica it may pause")
		p.done = true
		return
	}
	candidates := n.mayTakeDown(c)
	primary, in, found := n.primary(c, -1)
	i := -1
	switch {
	case p.primary && found && slices.Contains(candidates, primary):
		i = primary
	case !p.primary:
		var backups []int
		for _, j := range candidates {
			if !found || j != primary {
				backups = append(backups, j)
			}
		}
		if len(backups) > 0 {
			i = backups[p.r.IntN(len(backups))]
		}
	}
	if i < 0 {
		return // wait for one
	}
	p.replica, p.resume = i, n.tick+p.ticks
	p.wasLead = found && i == primary
	if r := c.Replica(i); r != nil {
		p.view = r.Inspect().View
	}
	role := "backup"
	if p.wasLead {
		role = fmt.Sprintf("primary of view %d", in.View)
		n.hits.Hit(MarkLongPausePrimary)
	}
	n.record(c, i, ActionLongPause, fmt.Sprintf("for %s (%s)", sim.Duration(p.ticks)*sim.TickInterval, role))
	n.hits.Hit(MarkLongPause)
	c.Nodes[i].Pause()
}

// resumeLongPause resumes the paused replica, its clock stale first if the move drew that.
func (n *Nemesis) resumeLongPause(c *sim.Cluster, i int) {
	p := &n.long
	p.done = true
	clock := c.Nodes[i].Clock
	if p.clock == longPauseClockStale {
		behind := -int64(sim.Duration(p.ticks) * sim.TickInterval)
		n.record(c, i, ActionLongPauseClock, "stale by "+sim.Duration(behind).String()+" at the resume")
		clock.Step(behind)
	}
	deposed := false
	if p.wasLead {
		for j := 0; j < n.swarm.Replicas; j++ {
			if r := c.Replica(j); j != i && r != nil && c.Nodes[j].Status() == sim.NodeUp && r.Inspect().View > p.view {
				deposed = true
			}
		}
	}
	n.record(c, i, ActionLongUnpause, fmt.Sprintf("after %s, clock error %s", sim.Duration(p.ticks)*sim.TickInterval,
		sim.Duration(clock.ErrorNs())))
	n.hits.Hit(MarkLongPauseResumed)
	if e := clock.ErrorNs(); max(e, -e) > vsr.ClockToleranceNs {
		n.hits.Hit(MarkLongPauseClock)
	}
	if deposed {
		n.hits.Hit(MarkLongPauseDeposed)
	}
	n.stableUntil[i] = n.tick + uint64(n.o.ReplicaStabilityTicks)
	c.Nodes[i].Unpause()
}
