package scenarios

import (
	"fmt"
	"math"

	"vopr/cluster/vsr"
	"vopr/sim"
)

// A storage fault at a checkpoint, a crash, and a view change. A replica that was behind
// and takes part in a view change repairs the ops it lacks and executes the committed ones
// from memory, ahead of its log writes: it may start a checkpoint before the log under it is
// written, and the view change has a superblock of its own to write (the new log view) at
// the same time. If the checkpoint then fails (a write error, a failed sync, a full disk)
// and the replica crashes soon after, what it finds on its disk at the restart must not
// claim more than it holds: its log view is the claim that wins the next view change, and a
// log view persisted over a log without the ops the view began with loses those ops, which
// a quorum had committed and the clients were told (vsr's logDurable counted the ops of the
// checkpoint in flight as logged: TestFailedCheckpointNeverPersistsALogViewOverAHole). The
// fault phase reaches the failed checkpoint under a concurrent superblock write, but never
// the crash and the view change after it, and never with the replica's log view the
// newest in that view change.
//
// So in one eligible seed in checkpointCrashOdds (an odd number of active replicas, at least
// three), once the healed cluster has held its view (after the other rounds): a backup y is
// cut off from the other replicas while the clients write, until the primary's op is the
// next checkpoint op at least checkpointCrashLagMin above y's (the last ops one request at a
// time). The view change that follows begins at the checkpoint op: W, all the replicas but
// a quorum with y, are cut off, and y returns to the primary and the rest of the quorum,
// which elect a new view with it; y must repair its gap and checkpoint at once. A fault is
// aimed at y's disk meanwhile: a write error, a full disk or a failed sync of the checkpoint
// file, or a write error or a failed sync of the superblock (the view change's own write).
// After it strikes y crashes: at the next superblock sync, or after a few more I/O
// completions; and if it never strikes, at the end of the wait. Then the rest of the quorum
// goes down, y restarts and elects a view with W, whose log views are older than any y
// took part in, so that y's claim counts; the clients write in that view (a new primary whose
// log lacks an acknowledged op fails acked_survive, and a read of a lost write the
// linearizability check), and the replicas down restart. The cluster must then converge. The
// draws come from the run's "swarm/checkpoint_crash" stream.
const (
	checkpointCrashOdds = 3
	// checkpointCrashLagMin is the fewest ops y falls behind: a log to repair and write.
	checkpointCrashLagMin = 12
	// checkpointCrashStepsMax bounds the single requests that take the primary's op to the
	// checkpoint op.
	checkpointCrashStepsMax = 64
)

// The faults the round aims at y's disk, by the kind drawn.
const (
	crashFaultCheckpointWrite = iota
	crashFaultCheckpointNoSpace
	crashFaultCheckpointSync
	crashFaultSuperblockWrite
	crashFaultSuperblockSync
	crashFaultKinds
)

var crashFaultNames = [crashFaultKinds]string{"checkpoint_write", "checkpoint_no_space", "checkpoint_sync",
	"superblock_write", "superblock_sync"}

// checkpointCrashState counts the rounds, those whose view change began at the checkpoint
// op, those whose fault struck (and y crashed after it), and those whose last view was
// elected; hook is the armed crash of the round under way.
type checkpointCrashState struct {
	rounds, reached, struck, elected uint64
	// newest counts the restarts of y with a log view newer than every one of W's: its log
	// is the one the view change with W takes.
	newest uint64
	// struckBy counts the faults that struck by kind.
	struckBy [crashFaultKinds]uint64
	hook     checkpointCrashHook
}

func (s checkpointCrashState) counters(counters map[string]uint64) {
	counters["coverage.mark.checkpoint_crash.round"] += s.rounds
	counters["coverage.mark.checkpoint_crash.reached"] += s.reached
	counters["coverage.mark.checkpoint_crash.struck"] += s.struck
	counters["coverage.mark.checkpoint_crash.elected"] += s.elected
	counters["coverage.mark.checkpoint_crash.newest_log_view"] += s.newest
	for kind, n := range s.struckBy {
		counters["coverage.mark.checkpoint_crash.struck."+crashFaultNames[kind]] += n
	}
}

// checkpointCrashHook crashes y after the aimed fault: at the first superblock sync that
// completes after it (atSuperblock), or at the left-th completion after it.
type checkpointCrashHook struct {
	name                  string // the file the fault is aimed at
	atSuperblock          bool
	left                  int
	struck, crashed, sync bool
}

// completion is y's Node.OnCompletion while the fault is armed: true crashes y.
func (k *checkpointCrashHook) completion(io sim.IOCompletion) bool {
	if k.crashed {
		return false
	}
	if !k.struck {
		failed := io.Name == k.name && io.Err != nil
		k.struck = failed && (io.Op == sim.IOWrite && !k.sync || io.Op == sim.IOSync && k.sync)
		return false
	}
	k.left--
	if k.atSuperblock {
		k.crashed = io.Name == "superblock" && io.Op == sim.IOSync && io.Err == nil
	} else {
		k.crashed = k.left <= 0
	}
	return k.crashed
}

func (run *swarmRun) checkpointCrashRound(seed uint64, livenessTicks int) string {
	c := run.c
	active, p, ok := run.roundCluster(livenessTicks, 3)
	if !ok || len(active)%2 == 0 || c.ClientCount() == 0 {
		return ""
	}
	r := sim.Stream(seed, "swarm/checkpoint_crash")
	on, pick, turn, kind, atSuperblock, after := r.IntN(checkpointCrashOdds) == 0, r.Int(), r.Int(), r.IntN(crashFaultKinds),
		r.IntN(2) == 0, 1+r.IntN(8)
	if !on {
		return ""
	}
	backups := others(active, p)
	y := backups[pick%len(backups)]
	rest := others(backups, y)
	rest = append(rest[turn%len(rest):], rest[:turn%len(rest)]...)
	quorum := len(active)/2 + 1
	w, g := rest[:len(active)-quorum], append([]int{p}, rest[len(active)-quorum:]...)
	run.checkpointCrash.rounds++
	budget := run.electionBudget(livenessTicks)
	end := func() string {
		c.Network.Heal()
		for _, i := range active {
			if c.Replica(i) == nil {
				c.StartReplica(i)
			}
		}
		run.load = false
		return run.convergedAfterRound(fmt.Sprintf("the checkpoint_crash round crashed R%d after a %s fault", y,
			crashFaultNames[kind]), livenessTicks)
	}

	// The lag: y cut off while the clients write, up to the checkpoint op.
	run.runChecked(run.logsWritten, livenessTicks/4) // nothing acknowledged lives only in memory (swarm_lasting.go)
	head := c.Replica(p).TraceState().Op
	cp := (head/vsr.CheckpointInterval + 1) * vsr.CheckpointInterval
	if cp-head < checkpointCrashLagMin {
		cp += vsr.CheckpointInterval
	}
	c.Trace.Emitf(sim.LevelShort, y, "nemesis", "checkpoint_crash: R%d cut off at op %d while the clients write to "+
		"checkpoint %d; then a view change with it without %v, a %s fault on its disk, a crash, and a view change with %v",
		y, head, cp, w, crashFaultNames[kind], w)
	run.cutOff(y, active)
	run.clients.again(c.Loop.Now(), fmt.Sprintf("the checkpoint_crash round cut R%d off", y))
	run.load = true
	slack := uint64(c.ClientCount() + 1)
	run.runChecked(func() bool { return c.Primary() != p || c.Replica(p).TraceState().Op+slack >= cp }, budget)
	run.load = false
	if !run.checkpointCrashStep(p, cp, budget) {
		return end()
	}
	// The view change begins at the checkpoint op, with W holding every op to it.
	if !run.runChecked(func() bool { return run.committedBy(others(active, y), cp) && run.logsWritten() }, budget) {
		return end()
	}
	run.checkpointCrash.reached++
	disk, node := c.Nodes[y].Disk, c.Nodes[y]
	hook := &run.checkpointCrash.hook
	*hook = checkpointCrashHook{name: checkpointFileName(cp), atSuperblock: atSuperblock, left: after}
	switch kind {
	case crashFaultCheckpointWrite, crashFaultCheckpointNoSpace:
		disk.ArmWriteErrorHealed(hook.name, 0, math.MaxInt64, kind == crashFaultCheckpointNoSpace)
	case crashFaultCheckpointSync:
		hook.sync = true
		disk.ArmSyncError(hook.name)
	case crashFaultSuperblockWrite:
		hook.name = "superblock"
		disk.ArmWriteErrorHealed(hook.name, 0, math.MaxInt64, false)
	case crashFaultSuperblockSync:
		hook.name, hook.sync = "superblock", true
		disk.ArmSyncError(hook.name)
	}
	previous := node.OnCompletion
	node.OnCompletion = func(io sim.IOCompletion) bool {
		return hook.completion(io) || previous != nil && previous(io)
	}
	for _, i := range w {
		run.cutOff(i, active)
	}
	for _, i := range g {
		c.Network.Uncut(i, y)
		c.Network.Uncut(y, i)
	}
	// The wait ends early if y checkpointed past the fault's reach (a state sync, say).
	missed := func() bool {
		rep := c.Replica(y)
		return rep != nil && !hook.struck && rep.Inspect().CheckpointOp >= cp
	}
	run.runChecked(func() bool { return hook.crashed || c.Replica(y) == nil || missed() }, budget)
	node.OnCompletion = previous
	disk.DisarmWriteError()
	disk.DisarmSyncError()
	if hook.struck {
		run.checkpointCrash.struck++
		run.checkpointCrash.struckBy[kind]++
	}
	if run.safety() != "" {
		return ""
	}
	c.Trace.Emitf(sim.LevelShort, y, "nemesis", "checkpoint_crash: the fault struck: %t; R%d down, then %v, and it "+
		"elects a view with %v", hook.struck, y, g, w)
	c.CrashReplica(y)
	for _, i := range g {
		c.CrashReplica(i)
	}
	c.Network.Heal()
	c.StartReplica(y)
	if run.runChecked(func() bool { return run.opened(y) }, livenessTicks/4) && run.logViewNewest(y, w) {
		run.checkpointCrash.newest++
	}
	quorumUp := append([]int{y}, w...)
	if !run.runChecked(func() bool { return run.normalTogether(quorumUp) }, budget) {
		return end()
	}
	run.checkpointCrash.elected++
	// The clients write in that view: the checkers read what it kept.
	acked := run.acked
	run.clients.again(c.Loop.Now(), fmt.Sprintf("the checkpoint_crash round elected a view of %v", quorumUp))
	run.load = true
	run.runChecked(func() bool { return run.acked >= acked+2*c.ClientCount() }, budget)
	run.load = false
	run.runChecked(run.pipelineDrained, budget)
	return end()
}

// checkpointCrashStep takes the primary p's op to cp one request at a time (the clients
// idle): false if it passes cp, the primary changes, or a request is not answered in time.
func (run *swarmRun) checkpointCrashStep(p int, cp uint64, budget int) bool {
	c := run.c
	for step := 0; step < checkpointCrashStepsMax; step++ {
		idle := func() bool {
			for i := 0; i < c.ClientCount(); i++ {
				if c.Client(i).Busy() {
					return false
				}
			}
			return c.Primary() != p || run.pipelineDrained()
		}
		if !run.runChecked(idle, budget) || c.Primary() != p {
			return false
		}
		if op := c.Replica(p).TraceState().Op; op >= cp {
			return op == cp
		}
		run.load, run.loadClients = true, func(i int) bool { return i == step%c.ClientCount() }
		run.runChecked(func() bool { return false }, 1)
		run.load, run.loadClients = false, nil
	}
	return false
}

// cutOff cuts replica i off from every other member of active, both ways (its clients keep
// their paths).
func (run *swarmRun) cutOff(i int, active []int) {
	for _, j := range active {
		if j != i {
			run.c.Network.Cut(i, j)
			run.c.Network.Cut(j, i)
		}
	}
}

// committedBy reports whether every replica of replicas runs and has committed op.
func (run *swarmRun) committedBy(replicas []int, op uint64) bool {
	for _, i := range replicas {
		rep := run.c.Replica(i)
		if rep == nil || rep.TraceState().CommitMax < op {
			return false
		}
	}
	return true
}

// normalTogether reports whether every replica of replicas runs normal in one view.
func (run *swarmRun) normalTogether(replicas []int) bool {
	var view uint32
	for k, i := range replicas {
		rep := run.c.Replica(i)
		if rep == nil {
			return false
		}
		in := rep.TraceState()
		if in.Status != vsr.StatusNormal || (k > 0 && in.View != view) {
			return false
		}
		view = in.View
	}
	return true
}

// logViewNewest reports whether replica y runs with a log view newer than every one of the
// running replicas of w.
func (run *swarmRun) logViewNewest(y int, w []int) bool {
	rep := run.c.Replica(y)
	if rep == nil {
		return false
	}
	in := rep.InspectState()
	for _, i := range w {
		if other := run.c.Replica(i); other != nil {
			o := other.InspectState()
			if o.Epoch != in.Epoch || o.LogView >= in.LogView { // one configuration: the rounds run in one
				return false
			}
		}
	}
	return true
}
