package scenarios

import (
	"fmt"

	"vopr/cluster/vsr"
	"vopr/sim"
)

// A backup that hears the primary's prepares but not its commit heartbeats. A backup left
// behind past the log window learns it from two sources: the primary's commit heartbeat,
// which carries the primary's checkpoint (onCommit asks for a state sync when that is more
// than half an interval past what it executed), and its own repair rounds, which ask the
// primary by number for the ops past its head and count the rounds in which nothing moved
// (checkStuck: past vsr.RepairStuckRoundsMax, it fetches a checkpoint). The heartbeat
// always came first in the other rounds (cut_catchup's frozen backup hears both), so the
// fallback was never judged: the mutant vsr.check_stuck_forgets_last_op, which counts every
// round with a non-zero head as progress, survived 200 swarm seeds. Heartbeats and prepares
// do not share a fate in production: a heartbeat is a small periodic message that a
// middlebox's rate limit, a separate path or a lossy burst may drop while the prepares that
// follow each request get through, and a backup that relies on it alone lags for as long as
// the loss lasts, one failure from unavailability, with nothing a client sees.
//
// So in one eligible seed in stuckBackupOdds (as cut_catchup's: three or more active
// replicas and a load that gets past the backup in time), after every other round: a
// backup X is frozen (its process paused: it runs up no view of its own) and cut off while
// the clients write, until the others have committed stuckBackupLead ops past its head (no
// log holds its next op any more). Then its partition heals with the load still running,
// and every commit heartbeat delivered to X is dropped while every other message flows; X
// must be normal with every op committed at the heal executed within cut_catchup's bound
// (cutCatchUpTicks: the stuck rounds counted twice, the transfer and the repair above it).
// Then the heartbeats flow again, the load stops and the cluster must converge. The draws
// come from the run's "swarm/stuck_backup" stream, so every other seed runs as before.
const (
	// stuckBackupOdds: the round runs in one eligible seed in stuckBackupOdds.
	stuckBackupOdds = 4
	// stuckBackupLead is how far past X's head the others must commit: past the log window
	// (the primary's log no longer holds X's next op, asked for by number), and a pipeline
	// more.
	stuckBackupLead = vsr.LogSlotsMax + vsr.CheckpointInterval/2
)

func (run *swarmRun) stuckBackupRound(seed uint64, livenessTicks int) string {
	c := run.c
	active, p, ok := run.roundCluster(livenessTicks, 3)
	if !ok {
		return ""
	}
	r := sim.Stream(seed, "swarm/stuck_backup")
	on, pick := r.IntN(stuckBackupOdds) == 0, r.Int()
	if !on || (stuckBackupLead+vsr.CheckpointInterval-1)/vsr.CheckpointInterval*run.checkpointTicks() > catchUpBehindTicksMax {
		return "" // a load too slow to get past X in time: the round would only cost CPU
	}
	run.stuckBackup.rounds++
	backups := others(active, p)
	x := backups[pick%len(backups)]
	run.runChecked(run.logsWritten, livenessTicks/4) // nothing acknowledged lives only in memory (swarm_lasting.go)
	head := c.Replica(x).TraceState().Op
	c.Trace.Emitf(sim.LevelShort, x, "nemesis", "stuck_backup: backup R%d is frozen and cut off at op %d while the clients write", x, head)
	run.load = true
	c.Nodes[x].Pause()
	c.Network.Isolate(x)
	passed := run.runChecked(func() bool { return run.committedBesides(x) >= head+stuckBackupLead }, catchUpBehindTicksMax)
	w := &stuckBackupWatch{x: x, head: head, target: run.committedBesides(x)}
	c.Network.SetDeliver(func(from, to int, msg []byte) {
		if cmd, ok := vsr.PeekCommand(msg); ok && to == x && cmd == vsr.CommandCommit {
			w.dropped++
			return
		}
		c.Nodes[to].Deliver(from, msg)
	})
	c.Network.Heal()
	c.Nodes[x].Unpause()
	run.clients.again(c.Loop.Now(), fmt.Sprintf("the stuck_backup round healed backup R%d's partition", x))
	c.Trace.Emitf(sim.LevelShort, x, "nemesis", "stuck_backup: R%d's partition heals, its commit heartbeats are dropped, the "+
		"clients keep writing (the others passed it: %t, committed to op %d)", x, passed, w.target)
	reason := ""
	if passed && run.safety() == "" {
		w.limit = run.cutCatchUpTicks(seed, x)
		run.runChecked(func() bool {
			rep := c.Replica(x)
			if rep == nil {
				return w.observe(false, vsr.TraceState{})
			}
			return w.observe(true, rep.TraceState())
		}, w.limit)
		if run.safety() == "" {
			reason = w.verdict()
		}
		if reason == "" {
			run.stuckBackup.judged++
			c.Trace.Emitf(sim.LevelShort, x, "nemesis", "stuck_backup: R%d executed op %d after %d ticks (bound %d), %d commit "+
				"heartbeats dropped", x, w.target, w.ticks, w.limit, w.dropped)
		}
	}
	c.Network.SetDeliver(func(from, to int, msg []byte) { c.Nodes[to].Deliver(from, msg) }) // sim.NewWorld's
	run.load = false
	if reason != "" {
		return reason
	}
	return run.convergedAfterRound(fmt.Sprintf("backup R%d, past the log window without commit heartbeats, caught up under load", x), livenessTicks)
}

// stuckBackupWatch follows backup X after the heal, one sample a tick: it must be normal and
// have executed target (the others' commit number at the heal) within limit ticks. It
// remembers where X's head stood and since when, for the verdict.
type stuckBackupWatch struct {
	x             int
	head, target  uint64 // X's head when it was frozen; the op it must execute
	limit, ticks  int    // the bound; the samples seen
	dropped       uint64 // commit heartbeats dropped on their way to X
	done, seen    bool
	last          vsr.TraceState
	up            bool
	headSince     int // the sample since which X's head has not moved
	firstSeenHead uint64
}

// observe takes X's state at one tick (up false while X is down) and reports whether X is
// done: normal, with target executed.
func (w *stuckBackupWatch) observe(up bool, s vsr.TraceState) bool {
	if !w.seen || up != w.up || s.Op != w.last.Op {
		w.headSince = w.ticks
	}
	if !w.seen {
		w.firstSeenHead = s.Op
	}
	w.seen, w.up, w.last = true, up, s
	w.ticks++
	w.done = w.done || (up && s.Status == vsr.StatusNormal && s.CommitMin >= w.target)
	return w.done
}

// verdict is "" if X got there, or the failure: X, its ops and how long its head stood still.
func (w *stuckBackupWatch) verdict() string {
	if w.done {
		return ""
	}
	elapsed := max(w.ticks-1, 0) // the first sample is the heal's
	state := "down"
	if w.up {
		s := w.last
		state = fmt.Sprintf("%s in view %d, head op %d (there for the last %d ticks), executed to op %d, commit number %d, "+
			"checkpoint %d", s.Status, s.View, s.Op, elapsed-w.headSince, s.CommitMin, s.CommitMax, s.Checkpoint)
	}
	return fmt.Sprintf("backup R%d, frozen and cut off at op %d until its peers had committed %d ops past it (no log holds its "+
		"next op), then back hearing the primary's prepares but none of its commit heartbeats (%d dropped), had not executed "+
		"op %d (committed at the heal) %d ticks later while the clients kept writing: %s (head op %d at the heal): its repair "+
		"rounds never fetched a checkpoint (checkStuck)", w.x, w.head, stuckBackupLead, w.dropped, w.target, elapsed, state,
		w.firstSeenHead)
}
