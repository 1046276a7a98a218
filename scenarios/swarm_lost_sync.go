package scenarios

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"vopr/cluster/kv"
	"vopr/cluster/storage"
	"vopr/cluster/vsr"
	"vopr/sim"
)

// A lost checkpoint recovered from a peer that fails mid-transfer. A replica whose checkpoint
// did not survive on disk (disk damage: it reports the checkpoint lost and stays recovering)
// takes no part until a peer's checkpoint is installed, fetched chunk by chunk from one peer.
// That peer may crash, or the link to it fail, part-way through: the replica must then get
// a checkpoint from another peer, which by the time it asks may have moved on to a newer
// checkpoint than the chunks it holds. Until it does, the cluster runs one failure closer to
// unavailability. The catchup round (swarm_catchup.go) exercises the behind path (a replica
// whose checkpoint is intact but old) with every sender up; the late checkpoint loss
// (faults/nemesis_late.go) strikes before the heal, where the sender stays up and its peers
// hold the same checkpoint. Neither has the lost-checkpoint path meet a sender gone mid-way
// and peers gone past the chunks held: the mutant vsr.state_lost_assembly_never_ages kept
// such a stale partial snapshot for ever, refusing every newer one.
//
// So after the catchup round, in seeds whose chunks are small (swarm_sync_chunk.go), once the
// clients have grown the snapshot to lostSyncChunksMin chunks or more (lostSyncFill): every
// checkpoint file of backup X rots (one sector each, as the late loss does) and X reboots,
// cut off from every peer but backup A. As X takes chunk k of A's snapshot (k drawn, before
// the last), X is cut off from A too and A goes down. Then, in three rounds of four
// ("moved"), X stays cut off while the clients write until every other active replica has
// checkpointed past the snapshot X holds part of (A restarts after up to an election timeout,
// so that three replicas keep a quorum); in the others ("same"), X's links to the peers
// still up heal at once, and the load stays stopped: they hold A's checkpoint. With the load
// stopped and X's links healed (A still down in "same"), X must be normal and have executed
// what the others committed within catchUpTicks of the snapshot then served: the restart
// and sync request spacing (SyncRequestTicksMin) and the receiver giving up its partial
// transfer (half a sender's pin time) are within catchUpSlackTicks; a transfer takes one
// round trip per chunk and its repair catchUpRepairTrips more, tripled for the tail of a sum
// of exponential delays; and the disk operations of the install and the repair are
// catchUpDiskOps. The draws come from the run's "swarm/lost_sync" stream.
//
// The round costs the CPU of up to two checkpoint intervals of load (the fill's, "moved"'s)
// and a transfer: it runs in seeds whose load commits two intervals within
// lostSyncLoadTicksMax by the estimate of checkpointTicks (slow disks and a lone client can
// take ten times that), and in one of those in lostSyncOdds.
const (
	lostSyncOdds         = 4
	lostSyncLoadTicksMax = 600
)

// lostSyncState is the transfer the round watches (while armed) and the rounds timed.
type lostSyncState struct {
	armed   bool
	x, from int    // the replica that lost its checkpoint, the peer serving it
	pick    int    // draws the chunk after which the transfer is cut
	chunk   int    // the seed's chunk size
	cut     bool   // the transfer was cut
	op      uint64 // the checkpoint of the snapshot cut, its chunks, and those X took
	chunks  uint32
	took    uint32
	rounds  uint64 // timed
	moved   uint64 // of which the others checkpointed past the snapshot cut
	// replayed: rounds whose X fell back past every rotten checkpoint and replayed its own
	// log instead of reporting its checkpoint lost (not timed: nothing to sync).
	replayed uint64
}

func (s lostSyncState) counters(counters map[string]uint64) {
	counters["coverage.mark.lost_sync.round"] += s.rounds
	counters["coverage.mark.lost_sync.moved"] += s.moved
	counters["lost_sync.replayed"] += s.replayed
}

// onLostSyncChunk sees a sync delivered to X (before X takes it) while the round is armed: at
// the drawn chunk of A's snapshot, X is cut off from every node, so that its request for the
// next chunk is lost.
func (run *swarmRun) onLostSyncChunk(msg []byte) {
	s := &run.lostSync
	m, err := vsr.Decode(msg, run.c.ClusterID())
	if err != nil || int(m.Header.Replica) != s.from || s.cut {
		return
	}
	h := m.Header
	chunks := uint32((h.Client + uint64(s.chunk) - 1) / uint64(s.chunk))
	if chunks < 2 || h.Request+1 >= chunks || h.Request < uint32(s.pick)%(chunks-1) {
		return
	}
	s.cut, s.op, s.chunks, s.took = true, h.Op, chunks, h.Request+1
	run.c.Trace.Emitf(sim.LevelShort, s.x, "nemesis", "lost_sync: R%d's link to R%d fails as it takes chunk %d of %d of "+
		"the checkpoint at op %d", s.x, s.from, h.Request, chunks, h.Op)
	run.c.Network.Isolate(s.x)
}

func (run *swarmRun) lostSyncRound(seed uint64, livenessTicks int) string {
	c := run.c
	active, p, ok := run.roundCluster(livenessTicks, 3)
	if !ok || !run.checked { // the transfer is watched through onReplicaReceive
		return ""
	}
	r := sim.Stream(seed, "swarm/lost_sync")
	on, pickX, pickFrom, pickChunk, moved := r.IntN(lostSyncOdds) == 0, r.Int(), r.Int(), r.Int(), r.IntN(4) != 0
	restartTicks := 1 + r.IntN(c.Replica(p).Config().ElectionTimeoutTicks)
	chunk := drawSyncChunk(seed, run.work.mix)
	if !on || chunk == 0 || 2*run.checkpointTicks() > lostSyncLoadTicksMax || !run.lostSyncFill(chunk, livenessTicks) {
		return ""
	}
	if p = c.Primary(); p < 0 {
		return ""
	}
	backups := others(active, p)
	x := backups[pickX%len(backups)]
	backups = append(backups[:pickX%len(backups)], backups[pickX%len(backups)+1:]...)
	a := backups[pickFrom%len(backups)]
	run.runChecked(run.logsWritten, livenessTicks/4) // nothing acknowledged lives only in memory (swarm_lasting.go)
	s := &run.lostSync
	*s = lostSyncState{armed: true, x: x, from: a, pick: pickChunk, chunk: chunk, rounds: s.rounds, moved: s.moved,
		replayed: s.replayed}
	defer func() { s.armed = false }()
	if !run.lostSyncCut(r, moved, livenessTicks) {
		if run.safety() != "" {
			return ""
		}
		return run.lostSyncEnd(x, -1, livenessTicks) // taken whole (or never offered): nothing to time
	}
	c.CrashReplica(a)
	if moved {
		run.load = true
		run.clients.again(c.Loop.Now(), fmt.Sprintf("the lost_sync round took R%d down", a))
		run.runChecked(func() bool { return false }, restartTicks)
		c.StartReplica(a)
		if run.runChecked(func() bool { return run.othersCheckpointed(x, s.op) }, catchUpBehindTicksMax) {
			s.moved++
		}
		run.load = false
	}
	c.Network.Heal() // A stays down in "same" until X has recovered
	if run.safety() != "" {
		return ""
	}
	s.rounds++
	if run.knobs.afterLostSyncHeal != nil {
		run.knobs.afterLostSyncHeal(c, x)
	}
	if reason := run.lostSyncTimed(moved); reason != "" {
		return reason
	}
	return run.lostSyncEnd(x, a, livenessTicks)
}

// lostSyncCut rots X's checkpoint and reboots it, cut off from every peer but A, until the
// drawn chunk of A's snapshot cuts it off from A too (onLostSyncChunk). It reports whether
// the transfer was cut (not if X had no checkpoint file, recovered from its own log, or took
// the whole snapshot).
func (run *swarmRun) lostSyncCut(r *rand.Rand, moved bool, livenessTicks int) bool {
	c, s := run.c, &run.lostSync
	x, a := s.x, s.from
	disk := c.Nodes[x].Disk
	var names []string
	for _, name := range disk.Names() {
		if size, err := disk.Size(name); err == nil && size >= storage.SectorSize && strings.HasPrefix(name, "checkpoint-") {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return false
	}
	c.Trace.Emitf(sim.LevelShort, x, "nemesis", "lost_sync: R%d's checkpoint rots and it reboots, cut off from every peer "+
		"but R%d; the transfer is cut part-way, then R%d goes down (moved=%t)", x, a, a, moved)
	c.Network.Isolate(x)
	c.Network.Uncut(x, a)
	c.Network.Uncut(a, x)
	// The heal switched the disks' faults off, and with them what reads see of any damage:
	// they are on again on X's disk from the damage until its recovery has read it.
	c.CrashReplica(x) // first: a write in flight then lands or not before the damage
	// The checkers see the crash before the damage and the restart, back within the tick: what
	// they read of the disk at the crash is its durable state, and the damage is what the
	// restart then finds (checkpoint_monotonic's restarted). Seen only at the next tick's
	// inspection, after X had recovered, fallen back to the format's state and removed both
	// rotten files, the crash showed a disk without damage (swarm seed 2030600404).
	run.inspect()
	disk.SetFaultsEnabled(true)
	for _, name := range names {
		// Sized again: the crash may have cut an unsynced tail, or the whole file (swarm seed
		// 2041601878: a checkpoint file of no sector left, a harness panic).
		if size, err := disk.Size(name); err == nil && size >= storage.SectorSize {
			disk.CorruptSector(name, storage.SectorSize*r.Int64N(size/storage.SectorSize))
		}
	}
	c.StartReplica(x)
	if run.runChecked(func() bool { return run.opened(x) }, livenessTicks/4) && !c.Replica(x).Inspect().CheckpointLost {
		// Every rotten checkpoint fell back (the older one, or the format's state with the
		// whole log from op 1 on disk) and X replayed its log: no lost checkpoint, no sync.
		s.replayed++
		c.Trace.Emitf(sim.LevelShort, x, "nemesis", "lost_sync: R%d recovered from its own log (checkpoint op %d): "+
			"no lost checkpoint to sync", x, c.Replica(x).CheckpointOp())
	}
	disk.SetFaultsEnabled(false)
	run.runChecked(func() bool { return s.cut || run.isNormal(x) }, livenessTicks/2)
	s.armed = false
	return s.cut && run.safety() == ""
}

// isNormal reports whether replica i runs in normal status (one whose checkpoint is lost
// stays recovering).
func (run *swarmRun) isNormal(i int) bool {
	rep := run.c.Replica(i)
	return rep != nil && rep.TraceState().Status == vsr.StatusNormal
}

// lostSyncTimed holds X, its links healed, to recovering and executing what the others have
// committed within catchUpTicks. It returns why it did not, or "".
func (run *swarmRun) lostSyncTimed(moved bool) string {
	c, s := run.c, &run.lostSync
	x, a := s.x, s.from
	snapshot := run.snapshotBytes()
	limit := run.catchUpTicks(snapshot, s.chunk)
	target, from, ok := run.waitExecuted(x, limit, "lost_sync", "recovered and executed")
	if ok || run.safety() != "" {
		return ""
	}
	state := "down"
	if rep := c.Replica(x); rep != nil {
		st := rep.TraceState()
		state = fmt.Sprintf("%s, checkpoint lost %t, executed to op %d", st.Status, rep.Inspect().CheckpointLost, st.CommitMin)
	}
	return fmt.Sprintf("replica R%d lost its checkpoint and took %d of %d chunks of R%d's checkpoint at op %d before "+
		"R%d went down; %d ticks after its links healed at %s (the others checkpointed to op %d meanwhile: moved=%t) it "+
		"had not recovered and executed op %d (%s): a snapshot of %d bytes in chunks of %d bytes and the repair above "+
		"it take about %d round trips of %d ticks", x, s.took, s.chunks, a, s.op, a, limit, from, run.othersCheckpoint(x),
		moved, target, state, snapshot, s.chunk, run.catchUpTrips(snapshot, s.chunk), ticksOf(run.roundTrip()))
}

// lostSyncFill makes the snapshot at least lostSyncChunksMin chunks long on every active
// replica: the clients put values of kv.ValueSizeMax bytes to keys never written (as the
// catchup round's fill, swarm_catchup.go), then write on until every active replica has
// checkpointed with them; then the load stops and the cluster converges. It reports whether
// the snapshot is that long.
func (run *swarmRun) lostSyncFill(chunk, livenessTicks int) bool {
	want := int64(lostSyncChunksMin-1)*int64(chunk) + 1
	need := want - run.newestCheckpointBytes()
	if need <= 0 {
		return true
	}
	k := &run.catchUp
	k.filled, k.fillOps, k.filling = 0, int((need+kv.ValueSizeMax-1)/kv.ValueSizeMax), true
	run.load = true
	run.clients.again(run.c.Loop.Now(), "the lost_sync round fills the state machine")
	run.runChecked(func() bool { return k.filled >= k.fillOps && run.newestCheckpointBytes() >= want }, catchUpBehindTicksMax)
	k.filling, run.load = false, false
	return run.runChecked(run.converged, livenessTicks/2) && run.newestCheckpointBytes() >= want
}

// lostSyncChunksMin is the fewest chunks the round's snapshot travels in.
const lostSyncChunksMin = 3

// newestCheckpointBytes is the smallest, over the running active replicas, of the size of
// each one's newest checkpoint file (names sort by op).
func (run *swarmRun) newestCheckpointBytes() int64 {
	least := int64(-1)
	active, _ := run.c.Members()
	for _, i := range active {
		if run.c.Replica(i) == nil {
			continue
		}
		newest, size := "", int64(0)
		d := run.c.Nodes[i].Disk
		for _, name := range d.Names() {
			if n, err := d.Size(name); err == nil && strings.HasPrefix(name, "checkpoint-") && name > newest {
				newest, size = name, n
			}
		}
		if least < 0 || size < least {
			least = size
		}
	}
	return max(least, 0)
}

// lostSyncEnd heals the network, restarts A if it is down, and waits for convergence.
func (run *swarmRun) lostSyncEnd(x, a, livenessTicks int) string {
	c := run.c
	c.Network.Heal()
	if a >= 0 && c.Replica(a) == nil {
		c.StartReplica(a)
	}
	return run.convergedAfterRound(fmt.Sprintf("R%d recovered its lost checkpoint", x), livenessTicks)
}

// othersCheckpoint is the lowest checkpoint of the running active replicas other than x.
func (run *swarmRun) othersCheckpoint(x int) uint64 {
	lowest := ^uint64(0)
	active, _ := run.c.Members()
	for _, i := range active {
		if rep := run.c.Replica(i); rep != nil && i != x {
			lowest = min(lowest, rep.CheckpointOp())
		}
	}
	return lowest
}
