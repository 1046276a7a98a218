package scenarios

import (
	"fmt"

	"vopr/cluster/vsr"
	"vopr/sim"
)

// A backup cut off by the network, not restarted, catches up under load. The catchup round
// (swarm_catchup.go) takes its backup down and restarts it: a restarted replica opens,
// recovers and learns it is behind from the answers to its own requests. A backup that keeps
// running through a partition takes other paths back. If its process runs on, it times out
// into views of its own while cut off, and at the heal it takes the cluster through a view
// change whose start_view shows it the checkpoint it lacks. If its process was frozen
// meanwhile (a VM migrated, a stop-the-world pause, so it runs up no view), it wakes normal
// in the cluster's view with a whole executed log, hears prepares far past its head (too
// far ahead of its checkpoint to append) and commit heartbeats, and must tell from them, or
// from its repair rounds asking for ops by number that no log holds any more, to fetch a
// checkpoint instead. Either way it must do so while the clients write: a backup that
// catches up only once the load stops leaves the cluster one failure away from
// unavailability for as long as the clients keep writing, with nothing a client sees (the
// other replicas serve them), and the liveness phase, which waits for convergence with the
// load stopped, passes it.
//
// So in one eligible seed in cutCatchUpOdds (three or more active replicas, and a load that
// checkpointTicks estimates gets past X within catchUpBehindTicksMax), after the other
// rounds (last, so that it changes no other round's trace): a backup X is isolated (its
// process frozen, one time in two) while the clients write, until the others have committed
// past X's head by the log window and a checkpoint interval more
// (vsr.LogSlotsMax+vsr.CheckpointInterval: no peer's log holds the ops X lacks) and
// checkpointed past it by the log window. Then the partition heals with the load still
// running, and X must be normal with every op committed at the heal executed, within
// cutCatchUpTicks, while the clients keep writing; then the load stops and the cluster must
// converge. Every client must also be served anew after the heal (swarm_clients.go's
// again): a request sent after the heal and given up on while a later one was answered
// fails the run. The draws come from the run's "swarm/cut_catchup" stream.
const (
	// cutCatchUpOdds: the round runs in one eligible seed in cutCatchUpOdds (its CPU: about
	// 320 ops of load with X cut off, and the catch-up).
	cutCatchUpOdds = 3
	// cutCatchUpLead is how far past X's head the others must commit: no log holds X's next
	// op any more.
	cutCatchUpLead = vsr.LogSlotsMax + vsr.CheckpointInterval
)

// cutCatchUpState counts the rounds, those timed (the others got past X in time), and the
// timed ones whose backup was frozen.
type cutCatchUpState struct{ rounds, timed, frozen uint64 }

func (s cutCatchUpState) counters(counters map[string]uint64) {
	counters["coverage.mark.catchup.cut_round"] += s.rounds
	counters["coverage.mark.catchup.cut_timed"] += s.timed
	counters["coverage.mark.catchup.cut_frozen"] += s.frozen
}

func (run *swarmRun) cutCatchUpRound(seed uint64, livenessTicks int) string {
	c := run.c
	active, p, ok := run.roundCluster(livenessTicks, 3)
	if !ok {
		return ""
	}
	r := sim.Stream(seed, "swarm/cut_catchup")
	on, pick, frozen := r.IntN(cutCatchUpOdds) == 0, r.Int(), r.IntN(2) == 0
	if !on || cutCatchUpLead/vsr.CheckpointInterval*run.checkpointTicks() > catchUpBehindTicksMax {
		return "" // a load too slow to get past X in time: the round would only cost CPU
	}
	backups := others(active, p)
	x := backups[pick%len(backups)]
	run.runChecked(run.logsWritten, livenessTicks/4) // nothing acknowledged lives only in memory (swarm_lasting.go)
	head := c.Replica(x).TraceState().Op
	run.cutCatchUp.rounds++
	c.Trace.Emitf(sim.LevelShort, x, "nemesis", "cut_catchup: backup R%d is cut off at op %d while the clients write (frozen: %t)", x, head, frozen)
	run.load = true
	if frozen {
		c.Nodes[x].Pause()
	}
	c.Network.Isolate(x)
	passed := run.runChecked(func() bool {
		return run.committedBesides(x) >= head+cutCatchUpLead && run.othersCheckpointed(x, head+vsr.LogSlotsMax)
	}, catchUpBehindTicksMax)
	c.Network.Heal()
	if frozen {
		c.Nodes[x].Unpause()
	}
	run.clients.again(c.Loop.Now(), fmt.Sprintf("the cut_catchup round healed backup R%d's partition", x))
	c.Trace.Emitf(sim.LevelShort, x, "nemesis", "cut_catchup: R%d's partition heals while the clients keep writing "+
		"(the others passed it: %t, committed to op %d)", x, passed, run.committedBesides(x))
	if passed && run.safety() == "" {
		run.cutCatchUp.timed++
		run.cutCatchUp.frozen += uint64(boolInt(frozen))
		if run.knobs.afterCutCatchUpHeal != nil {
			run.knobs.afterCutCatchUpHeal(c, x)
		}
		if reason := run.cutCatchUpTimed(seed, x, head); reason != "" {
			run.load = false
			return reason
		}
	}
	run.load = false
	return run.convergedAfterRound(fmt.Sprintf("backup R%d, cut off past the log window, caught up under load", x), livenessTicks)
}

// cutCatchUpTicks bounds X's catch-up after the heal. It is the catchup round's bound for
// the snapshot the others hold (catchUpTicks: the first message that tells X it is behind,
// the spacing of its sync requests, the transfer's chunks and the repair above the
// checkpoint at three times their mean round trips, and the disk operations on the slowest
// disk), plus what a replica that kept running adds: the repair rounds it counts before it
// presumes its missing ops compacted away (vsr.RepairStuckRoundsMax, each at most the seed's
// RepairTicks and the timeout's jitter of two ticks), twice over, as the first count may
// start before the first prepare after the heal reaches X; and the view change that X, back
// from views of its own, takes the cluster through, once timed out and started over (the
// seed's ViewChangeTimeoutTicks). Over the first 300 seeds of 2039000000 the correct code
// took at most a sixth of it; a backup that waits for the load to stop never makes it.
func (run *swarmRun) cutCatchUpTicks(seed uint64, x int) int {
	cfg := run.c.Replica(x).Config()
	chunk := drawSyncChunk(seed, run.work.mix)
	rounds := 2 * vsr.RepairStuckRoundsMax * (cfg.RepairTicks + 2)
	return run.catchUpTicks(run.snapshotBytes(), chunk) + rounds + cfg.ViewChangeTimeoutTicks
}

// cutCatchUpTimed waits for X, just healed, to be normal and have executed every op the
// others had committed at the heal, with the load running. It returns why it failed, or "".
func (run *swarmRun) cutCatchUpTimed(seed uint64, x int, head uint64) string {
	limit := run.cutCatchUpTicks(seed, x)
	target, from, ok := run.waitExecuted(x, limit, "cut_catchup", "executed")
	if ok || run.safety() != "" {
		return ""
	}
	state := run.catchUpState(x)
	return fmt.Sprintf("backup R%d, cut off at op %d until its peers had committed %d ops past it, had not executed op %d "+
		"(committed when its partition healed at %s) %d ticks later while the clients kept writing (%s; the others "+
		"committed to op %d): it did not rejoin the quorum, one more failure from unavailability", x, head, cutCatchUpLead,
		target, from, limit, state, run.committedBesides(x))
}
