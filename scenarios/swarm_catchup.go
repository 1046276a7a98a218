package scenarios

import (
	"fmt"
	"strconv"
	"strings"

	"vopr/cluster/kv"
	"vopr/cluster/vsr"
	"vopr/sim"
)

// Catching up under load. A replica that fell behind (down for maintenance, a crash, a long
// partition) must become a full member again while the cluster keeps serving: until it does,
// the cluster runs one failure away from unavailability. Once its peers have checkpointed
// past it, it cannot repair from their logs and must fetch a checkpoint (state sync), in
// chunks (swarm_sync_chunk.go) whose transfer may take many round trips and outlast several
// checkpoint intervals; then it repairs the ops above that checkpoint while new ones commit.
// Both race a moving target: a transfer that starts over with each newer checkpoint, a
// sender that drops the snapshot being sent when its checkpoint moves on, or a repair that
// chases the head without reaching it, never finish while the clients write, and all of
// them finish as soon as the clients stop. The liveness phase waits for the replicas to
// converge only with the load stopped, so it passes them all (the mutant
// vsr.sync_assembly_idle_never_reset restarted a transfer at every checkpoint).
//
// So once the healed cluster has held its view (after the other rounds), in seeds with at
// least three active replicas: one backup goes down while the clients write, until every
// other active replica has checkpointed twice past the backup's head. Then the backup
// restarts and the clients keep writing; it must execute every op committed when it came
// back (lap 1), within catchUpTicks, while the load goes on. Then the load stops and the
// cluster must converge.
//
// A transfer is tested against a newer checkpoint only if it outlasts a checkpoint interval
// of the load, and the time a receiver keeps a transfer before a newer snapshot may replace
// it. Where the seed's chunks are small (swarm_sync_chunk.go), the clients first put values
// of kv.ValueSizeMax bytes to keys never written until the state machine takes that long,
// with room to spare, to send at the network's mean round trip (catchUpFillOps), as a
// production state machine takes many of its 1 MB messages. The round grows a state only
// up to catchUpFillMax bytes, because every replica re-encodes its whole state for its
// digest at every tick with a commit: about 60 ms of CPU per round at 300 KB, in one seed
// in thirty. Seeds that would need more (whole-message chunks, a fast
// network, a slow load) run the round one time in catchUpRepairOdds, without the fill: a
// short transfer, and mostly log repair under load. There the backup must also execute,
// within catchUpTicks again, every op committed when it got there (lap 2): it keeps up with
// the head, not only with a point the head has left. (After a fill, lap 2 would mostly be
// a second transfer of the same size, at the same cost.) The draws come from the run's
// "swarm/catchup" stream. The backup may also return on a slow disk, and then run lap 2
// after a fill too (swarm_slow_catchup.go).
const (
	catchUpRepairOdds = 8
	catchUpFillMax    = 320 << 10
	// catchUpPatienceTicks is how long a receiver keeps a transfer before a newer snapshot
	// may replace it (half a sender's pin time, vsr's syncPinTicksMax).
	catchUpPatienceTicks = 50
	// catchUpBehindTicksMax bounds the wait for the others to checkpoint past the backup
	// down (a slow load may not get there: the backup then just restarts).
	catchUpBehindTicksMax = swarmLivenessTicksDefault / 2
	// catchUpSlackTicks covers what does not depend on the snapshot: the restart, the first
	// heartbeat that tells the backup it is behind, the spacing of its sync requests
	// (vsr.SyncRequestTicksMin), and a transfer the receiver gives up on after half its
	// sender's pin time (a newer snapshot then starts over).
	catchUpSlackTicks = 200
	// catchUpRepairTrips are the round trips allowed for repairing the ops above the
	// checkpoint installed (its interval and the pipeline above it).
	catchUpRepairTrips = 16
	// catchUpDiskOps are the disk operations allowed in sequence on the backup: reading its
	// log back at the restart, writing the checkpoint and the superblock, and the log
	// writes of the ops repaired.
	catchUpDiskOps = 30
)

func (run *swarmRun) catchUpRound(seed uint64, livenessTicks int) string {
	c := run.c
	active, p, ok := run.roundCluster(livenessTicks, 3)
	if !ok {
		return ""
	}
	r := sim.Stream(seed, "swarm/catchup")
	repair, pick := r.IntN(catchUpRepairOdds) == 0, r.Int()
	chunk := drawSyncChunk(seed, run.work.mix)
	k := &run.catchUp
	k.filled, k.fillOps = 0, run.catchUpFillOps(chunk)
	if k.fillOps < 0 {
		if !repair {
			return ""
		}
		k.fillOps = 0
	}
	backups := others(active, p)
	x := backups[pick%len(backups)]
	run.runChecked(run.logsWritten, livenessTicks/4) // nothing acknowledged lives only in memory (swarm_lasting.go)
	head := c.Replica(x).TraceState().Op
	c.Trace.Emitf(sim.LevelShort, x, "nemesis", "catchup: backup R%d goes down at op %d while the clients write (first %d puts "+
		"of %d bytes)", x, head, k.fillOps, kv.ValueSizeMax)
	run.load, k.filling = true, true
	run.clients.again(c.Loop.Now(), fmt.Sprintf("the catchup round took backup R%d down", x))
	c.CrashReplica(x)
	passed := run.runChecked(func() bool {
		return k.filled >= k.fillOps && run.othersCheckpointed(x, head+vsr.CheckpointInterval)
	}, catchUpBehindTicksMax)
	k.filling = false
	c.Trace.Emitf(sim.LevelShort, x, "nemesis", "catchup: R%d restarts while the clients keep writing (the others "+
		"passed it: %t)", x, passed)
	trips := run.drawSlowCatchUp(seed, k.fillOps > 0)
	c.StartReplica(x)
	if passed && run.safety() == "" {
		// The laps count from the end of Open, and the disk turns slow only then: Open reads
		// the whole log back, a scan that grows with the log, and the round is about the
		// catch-up (swarm seed 2031000849: 4076 ops read on a disk slowed x41 from the
		// restart outlasted both laps' bounds).
		run.runChecked(func() bool { return run.opened(x) }, livenessTicks/4)
		if trips > 0 {
			run.slowCatchUpDisk(x, trips)
		}
		k.x, k.chunk, k.watching = x, chunk, true
		reason := run.catchUpLaps(x, head, chunk)
		k.watching = false
		if reason != "" {
			run.load = false
			return reason
		}
	}
	run.load = false
	if run.knobs.afterCatchUpLaps != nil {
		run.knobs.afterCatchUpLaps(c, x)
	}
	run.fastCatchUpDisk(x)
	return run.convergedAfterRound(fmt.Sprintf("backup R%d caught up under load", x), livenessTicks)
}

// catchUpFillOps is how many puts of kv.ValueSizeMax bytes grow the state machine to the
// size whose transfer outlasts a checkpoint interval of the load with room to spare: in
// chunks of chunk bytes at the network's mean round trip, it takes a quarter more than the
// interval's estimate (checkpointTicks), and catchUpPatienceTicks more. It returns -1 where
// that is more than catchUpFillMax (whole-message chunks, a fast network, a slow load).
func (run *swarmRun) catchUpFillOps(chunk int) int {
	if chunk == 0 {
		return -1
	}
	trip := ticksOf(run.roundTrip())
	transfer := 5*run.checkpointTicks()/4 + catchUpPatienceTicks
	size := int64((transfer+trip-1)/trip) * int64(chunk)
	if size > catchUpFillMax {
		return -1
	}
	return int(max(0, size-run.snapshotBytes()) / kv.ValueSizeMax)
}

// checkpointTicks estimates how long the clients take to commit a checkpoint interval: each
// has one request in flight, which takes about two round trips (to the primary and back,
// and the primary's prepare to a quorum and back) and a disk write, and a tick before the
// client sends the next.
func (run *swarmRun) checkpointTicks() int {
	d := run.swarm.Disk
	op := 2*ticksOf(run.roundTrip()) + ticksOf(d.WriteLatencyMin+d.WriteLatencyMean) + 1
	return vsr.CheckpointInterval * op / run.c.ClientCount()
}

// catchUpLaps times backup x, just restarted behind its peers' checkpoints, catching up
// while the load goes on: one lap after a fill, two without, each to the highest commit
// number the others held at its start, each within catchUpTicks; two after a fill too where
// its disk is slow (swarm_slow_catchup.go). It returns why it failed, or "".
func (run *swarmRun) catchUpLaps(x int, head uint64, chunk int) string {
	c := run.c
	snapshot := run.snapshotBytes()
	limit := run.catchUpTicks(snapshot, chunk)
	run.catchUp.rounds++
	if run.catchUp.fillOps > 0 {
		run.catchUp.transfers++
	}
	if run.knobs.afterCatchUpReturn != nil {
		run.knobs.afterCatchUpReturn(c, x)
	}
	laps := []string{"came back", "had executed what was committed when it came back"}
	if run.catchUp.fillOps > 0 && !run.catchUp.slowed {
		laps = laps[:1]
	}
	for _, since := range laps {
		target, from, ok := run.waitExecuted(x, limit, "catchup", "executed")
		if ok {
			continue
		}
		if run.safety() != "" {
			return ""
		}
		state := run.catchUpState(x)
		return fmt.Sprintf("backup R%d, down at op %d until its peers had checkpointed past it, had not executed op %d "+
			"(committed when it %s at %s) %d ticks later while the clients kept writing (%s; the others committed to op %d): "+
			"a snapshot of %d bytes in chunks of %d bytes (0: whole) and the repair above it take about %d round trips "+
			"of %d ticks%s", x, head, target, since, from, limit, state, run.committedBesides(x), snapshot, chunk,
			run.catchUpTrips(snapshot, chunk), ticksOf(run.roundTrip()), run.slowCatchUpNote(x))
	}
	return ""
}

// catchUpTicks bounds one lap of the catch-up: catchUpSlackTicks, three times the expected
// round trips (the snapshot's chunks and the repair's), and catchUpDiskOps disk operations at
// their mean latency on the slowest disk. A lap's round trips are many exponential latencies
// in sequence (a chunk asks for the next), whose sum exceeds twice its mean with a
// negligible probability; the third covers a transfer given up once and started over with a
// newer checkpoint (a sender whose checkpoint moves on twice during a transfer pins the
// snapshot it served last, which may be its newer one, whose first chunk it sent in answer
// to a periodic sync request, and then refuses the rest of the one being sent).
func (run *swarmRun) catchUpTicks(snapshot int64, chunk int) int {
	d := run.swarm.Disk
	slow := 1
	for i := 0; i < run.c.MemberCount(); i++ {
		slow = max(slow, run.c.Nodes[i].Disk.SlowMultiplier())
	}
	disk := catchUpDiskOps * sim.Duration(slow) * (d.WriteLatencyMin + d.WriteLatencyMean + d.ReadLatencyMin + d.ReadLatencyMean)
	return catchUpSlackTicks + 3*run.catchUpTrips(snapshot, chunk)*ticksOf(run.roundTrip()) + ticksOf(disk)
}

// catchUpTrips is the round trips a catch-up takes: one per chunk of the snapshot, and the
// repair's.
func (run *swarmRun) catchUpTrips(snapshot int64, chunk int) int {
	chunks := 1
	if chunk > 0 {
		chunks = int((snapshot + int64(chunk) - 1) / int64(chunk))
	}
	return chunks + catchUpRepairTrips
}

// roundTrip is the mean of a request and its answer on the network: a one-way delay is the
// larger of its floor and an exponential draw of its mean, so at most their sum.
func (run *swarmRun) roundTrip() sim.Duration {
	net := run.c.Network.Options()
	return 2 * (net.OneWayDelayMin + net.OneWayDelayMean)
}

// ticksOf is d in ticks, rounded up, at least one.
func ticksOf(d sim.Duration) int {
	return max(1, int((d+sim.TickInterval-1)/sim.TickInterval))
}

// committedBesides is the highest commit number of the running active replicas other than x.
// waitExecuted runs the cluster, checked, until replica x is normal and has executed every op
// the others had committed when the wait began (target), or limit ticks pass (ok false). On
// success it traces how long that took: "<round>: R<x> <what> op <target> after <n> ticks".
func (run *swarmRun) waitExecuted(x, limit int, round, what string) (target uint64, from sim.Time, ok bool) {
	c := run.c
	target, from = run.committedBesides(x), c.Loop.Now()
	executed := func() bool { return run.isNormal(x) && c.Replica(x).TraceState().CommitMin >= target }
	if !run.runChecked(executed, limit) {
		return target, from, false
	}
	c.Trace.Emitf(sim.LevelShort, x, "nemesis", "%s: R%d %s op %d after %d ticks (bound %d)",
		round, x, what, target, int((c.Loop.Now()-from)/sim.Time(sim.TickInterval)), limit)
	return target, from, true
}

// catchUpState describes replica x for a failed catch-up: down, or its status, how far it
// executed and its checkpoint.
func (run *swarmRun) catchUpState(x int) string {
	rep := run.c.Replica(x)
	if rep == nil {
		return "down"
	}
	s := rep.TraceState()
	return fmt.Sprintf("%s, executed to op %d, checkpoint %d", s.Status, s.CommitMin, s.Checkpoint)
}

// committedBesides is the highest commit number any active replica other than x knows.
func (run *swarmRun) committedBesides(x int) uint64 {
	return run.highestBesides(x, func(s vsr.TraceState) uint64 { return s.CommitMax })
}

// highestBesides is the highest of of(state) over the active replicas running other than x.
func (run *swarmRun) highestBesides(x int, of func(vsr.TraceState) uint64) uint64 {
	var most uint64
	active, _ := run.c.Members()
	for _, i := range active {
		if rep := run.c.Replica(i); rep != nil && i != x {
			most = max(most, of(rep.TraceState()))
		}
	}
	return most
}

// snapshotBytes is the largest checkpoint file on the active replicas' disks (what an
// operator's ls shows): the size of the snapshot a state sync sends, within its header.
func (run *swarmRun) snapshotBytes() int64 {
	var most int64
	active, _ := run.c.Members()
	for _, i := range active {
		d := run.c.Nodes[i].Disk
		for _, name := range d.Names() {
			if !strings.HasPrefix(name, "checkpoint-") {
				continue
			}
			if n, err := d.Size(name); err == nil {
				most = max(most, n)
			}
		}
	}
	return most
}

// nextOp is client i's next operation: the workload's, or while the round fills the state
// machine, a put of kv.ValueSizeMax bytes to a key never written ("f<client>.<n>", a value
// of the same name padded with "x": unique, and no other value's substring).
func (run *swarmRun) nextOp(i int) kv.Op {
	k := &run.catchUp
	if !k.filling || k.filled >= k.fillOps {
		return run.work.next(i, run.keyPrefix, run.deletes)
	}
	k.filled++
	name := "f" + strconv.Itoa(i) + "." + strconv.Itoa(k.filled)
	key := run.keyPrefix + name
	run.work.writing[key]++ // the workload's observe counts the write done
	return kv.Op{Kind: kv.KindPut, Key: key, Value: name + "." + strings.Repeat("x", kv.ValueSizeMax-len(name)-1)}
}

// catchUpState is the fill while on, the backup's disk while slowed (and its multiplier
// before), and the rounds timed (transfers: those after a fill; slow: on a slow disk). While
// watching, the round counts the snapshots that reach its backup x (in chunks of chunk
// bytes, 0: whole) while its own checkpoint write is in flight (overlap).
type catchUpState struct {
	filling, slowed                  bool
	filled, fillOps                  int
	watching                         bool
	x, chunk, wasSlow                int
	rounds, transfers, slow, overlap uint64
}

func (k catchUpState) counters(counters map[string]uint64) {
	counters["coverage.mark.catchup.round"] += k.rounds
	counters["coverage.mark.catchup.transfer"] += k.transfers
	counters["coverage.mark.catchup.slow_disk"] += k.slow
	counters["coverage.mark.catchup.sync_in_checkpoint"] += k.overlap
}
