package scenarios

import (
	"bytes"
	"fmt"
	"math"
	"strings"

	"vopr/cluster/storage"
	"vopr/cluster/vsr"
	"vopr/sim"
)

// Repair from any peer that holds the op. A replica that finds a committed op damaged on its
// disk, and knows which prepare the op holds (its checksum, from the entry's redundant
// record or the next op's parent link), may take that prepare from any replica whose copy
// matches: protocol-aware recovery means any correct copy serves, and the replica need not
// state-sync a checkpoint, nor wait for the primary, to repair one op. The fault phase
// rarely meets a replica whose one reachable copy is not the primary's: the primary usually
// holds every op and answers, and where it does not, the replica stalls some repair rounds
// and state-syncs, which the liveness phase then accepts (the mutant
// vsr.repair_by_checksum_asks_primary asked the primary alone, and over 200 swarm seeds
// only shifted the counts of repairs and state syncs).
//
// So after the other rounds, in one seed in repairPeerOdds with at least three active
// replicas: a backup X goes down, one sector of its log entry for a committed op o rots
// (o above every member's checkpoint and below X's head, so every peer holds o's prepare in
// its log and X keeps the ops above o that name it), and X restarts with its link TO the
// primary cut one way: it still hears the primary's heartbeats, and stays a normal backup of
// the view, but nothing it sends reaches the primary. Where the cluster has standbys, in half
// those rounds X's links to every active peer are cut the same way, so that only the
// standbys can serve o. Once X has read its disk back (normal in the view, its log's head at
// least the committed op), it must execute every op the others committed, o included,
// within repairPeerTicks, without installing a peer's checkpoint (StateSyncs unchanged), and
// once its log is written it must hold o's prepare as it held it before the damage.
//
// The bound: where X asks one peer drawn at random per repair round, h holders reachable of
// its k peers answer a round with probability h/k; repairPeerRounds rounds fail with odds
// below repairPeerMissOdds. A round is X's repair period (its RepairTicks, its jitter, a tick
// of sampling, clocks up to 1% slow); the answer's round trip may take up to repairPeerTrips
// mean round trips, and X's disk repairPeerDiskOps writes. The round times X only where
// some holder is reachable: with none, X legitimately waits (or state-syncs from a peer that
// can reach it). The draws come from the run's "swarm/repair_peer" stream.
const (
	repairPeerOdds     = 3
	repairPeerMissOdds = 1e-6
	repairPeerTrips    = 10
	repairPeerDiskOps  = 10
)

// repairPeerState counts the rounds timed, and those where only standbys could serve.
type repairPeerState struct {
	rounds, standbyOnly uint64
	lostHead            lostHeadState // the lost_head round that follows (swarm_lost_head.go)
}

func (s repairPeerState) counters(counters map[string]uint64) {
	counters["coverage.mark.repair_peer.round"] += s.rounds
	counters["coverage.mark.repair_peer.standby_only"] += s.standbyOnly
	s.lostHead.counters(counters)
}

// repairPeerRound runs the repair_peer round, then, if it passed, the lost_head round
// (swarm_lost_head.go), which draws from a stream of its own.
func (run *swarmRun) repairPeerRound(seed uint64, livenessTicks int) string {
	if failure := run.repairPeerOnce(seed, livenessTicks); failure != "" {
		return failure
	}
	return run.lostHeadRound(seed, livenessTicks)
}

func (run *swarmRun) repairPeerOnce(seed uint64, livenessTicks int) string {
	c := run.c
	active, p, ok := run.roundCluster(livenessTicks, 3)
	if !ok {
		return ""
	}
	r := sim.Stream(seed, "swarm/repair_peer")
	on, pickX, pickOp, pickSector, standbyOnly := r.IntN(repairPeerOdds) == 0, r.Int(), r.Int(), r.Int64(), r.IntN(2) == 0
	if !on {
		return ""
	}
	run.runChecked(run.logsWritten, livenessTicks/4) // o's entry is on X's disk
	if p = c.Primary(); p < 0 || !run.converged() {
		return ""
	}
	x, peers, standbys := run.repairPeerSubject(active, p, pickX)
	op, prepare, ok := run.repairPeerOp(x, peers, pickOp)
	if !ok {
		return ""
	}
	cut, standbyOnly := repairPeerCut(run.c.MemberCount(), active, p, x, standbyOnly && len(standbys) > 0)
	holders := 0
	for _, i := range peers {
		if !cut[i] && run.repairPeerHolds(i, op, prepare) {
			holders++
		}
	}
	if holders == 0 {
		return ""
	}
	c.Trace.Emitf(sim.LevelShort, x, "nemesis", "repair_peer: R%d's log entry for op %d rots and it restarts, its links "+
		"to %v cut one way (the primary R%d's among them): %d of its %d peers hold op %d", x, op, repairPeerKeys(cut), p,
		holders, len(peers), op)
	checkpoint := c.Replica(x).CheckpointOp()
	c.CrashReplica(x)
	run.inspect() // the checkers see the crash before X, back within the tick, executes again
	if !run.repairPeerRot(x, op, pickSector) {
		c.StartReplica(x)
		return run.convergedAfterRound(fmt.Sprintf("R%d restarted (no entry of op %d to rot)", x, op), livenessTicks)
	}
	in, target, failed := run.reopenCut(x, cut, livenessTicks)
	if failed {
		return ""
	}
	rep := c.Replica(x)
	if in.Status != vsr.StatusNormal || in.Op < target || in.CommitMin >= target || in.CheckpointOp < checkpoint ||
		run.repairPeerBehindView(in.View, cut) {
		// Not a backup of the view that knows its log (a view change, a head lost with the
		// damage), or nothing left to repair: no repair to time. Nor where a fault of the
		// disk's own (its faults are on while it recovers) struck X's checkpoint and it fell
		// back below the others' checkpoints: it needs a state sync then, which it asks of
		// the primary it cannot reach (swarm seed 2031300182: a read corruption of checkpoint
		// 64, a fallback to 0). Nor where X came back normal in an older view than the
		// primary's (see repairPeerBehindView).
		return run.repairPeerEnd(x, op, livenessTicks)
	}
	if run.knobs.afterRepairPeerOpen != nil {
		run.knobs.afterRepairPeerOpen(c, x)
	}
	run.repairPeer.rounds++
	if standbyOnly {
		run.repairPeer.standbyOnly++
	}
	syncs, from := in.Metrics.StateSyncs, c.Loop.Now()
	limit := run.repairPeerTicks(rep.Config(), holders, len(peers))
	executed := func() bool {
		rep := c.Replica(x)
		return rep != nil && rep.TraceState().CommitMin >= target
	}
	done := run.runChecked(executed, limit)
	if run.safety() != "" || c.Replica(x) == nil {
		return ""
	}
	ticks := int((c.Loop.Now() - from) / sim.Time(sim.TickInterval))
	now := c.Replica(x).Inspect()
	switch {
	case !done:
		return fmt.Sprintf("replica R%d, its log entry for committed op %d damaged and its links to %v cut one way, had "+
			"not executed op %d %d ticks after it recovered at %s (%s, executed to op %d, %d state syncs) though %d of its "+
			"%d peers held op %d's prepare intact and could hear it: asking one peer at random per repair round, it "+
			"misses for %d rounds with odds below %g", x, op, repairPeerKeys(cut), target, limit, from, now.Status,
			now.CommitMin, now.Metrics.StateSyncs-syncs, holders, len(peers), op,
			run.repairPeerRounds(holders, len(peers)), repairPeerMissOdds)
	case now.Metrics.StateSyncs != syncs:
		return fmt.Sprintf("replica R%d, its log entry for committed op %d damaged, installed a peer's checkpoint (%d "+
			"state syncs) to get past it, though %d of its %d peers it could reach held op %d's prepare intact",
			x, op, now.Metrics.StateSyncs-syncs, holders, len(peers), op)
	}
	c.Trace.Emitf(sim.LevelShort, x, "nemesis", "repair_peer: R%d executed op %d after %d ticks (bound %d)", x, target,
		ticks, limit)
	c.Network.Heal()
	// Once X checkpoints past op, compaction may drop its entry: nothing to hold then (swarm
	// seed 2030701830: a checkpoint at 1792 over op 1750).
	if run.runChecked(run.logsWritten, livenessTicks/4) && c.Replica(x) != nil && c.Replica(x).CheckpointOp() < op &&
		!run.repairPeerHolds(x, op, prepare) {
		return fmt.Sprintf("replica R%d executed op %d after its entry was damaged, but once its log was written it does "+
			"not hold the prepare it held before (repaired with another, or not written back)", x, op)
	}
	return run.repairPeerEnd(x, op, livenessTicks)
}

// repairPeerOp draws the op to damage on x: committed, above every member's checkpoint and
// below x's head, held by x on its disk. It returns the op and x's prepare.
func (run *swarmRun) repairPeerOp(x int, peers []int, pick int) (uint64, []byte, bool) {
	c := run.c
	floor := c.Replica(x).CheckpointOp()
	for _, i := range peers {
		rep := c.Replica(i)
		if rep == nil {
			return 0, nil, false
		}
		floor = max(floor, rep.CheckpointOp())
	}
	in := c.Replica(x).Inspect()
	var ops []vsr.HeldPrepare
	for _, h := range c.Replica(x).InspectDisk().Prepares {
		if h.Op > floor && h.Op < in.Op && h.Op <= in.CommitMin {
			ops = append(ops, h)
		}
	}
	if len(ops) == 0 {
		return 0, nil, false
	}
	h := ops[pick%len(ops)]
	return h.Op, h.Prepare, true
}

// repairPeerHolds reports whether replica i, a normal member, holds op's prepare as durable,
// with these bytes.
func (run *swarmRun) repairPeerHolds(i int, op uint64, prepare []byte) bool {
	rep := run.c.Replica(i)
	if rep == nil || !run.c.IsMember(i) || rep.TraceState().Status != vsr.StatusNormal {
		return false
	}
	for _, h := range rep.InspectDisk().Prepares {
		if h.Op == op {
			return bytes.Equal(h.Prepare, prepare)
		}
	}
	return false
}

// repairPeerBehindView reports whether a replica normal in view cannot join the running view
// while its links cut are: the running view is newer, and its primary is among the links cut.
// Only a view's primary sends the view's log (start_view) that a replica of an older view
// needs before it may execute in the newer one, and it answers a request for it: with the
// request cut, the replica waits for the link (or a view change), as it should. The round
// takes X down right after the view it checks converged, so X's superblock write of that
// view may still be in flight, and the crash lose it (swarm seed 2031800181: R2 came back
// normal in view 25, the primary R1 of view 26 cut, and stalled in view 26's view change).
func (run *swarmRun) repairPeerBehindView(view uint32, cut []bool) bool {
	q := run.c.Primary()
	return q >= 0 && cut[q] && run.c.Replica(q).Inspect().View > view
}

// repairPeerRot flips a bit in one sector (drawn) of every entry of op in x's log segments
// (the disk's written bytes: older copies too). It reports whether there was one.
func (run *swarmRun) repairPeerRot(x int, op uint64, pick int64) bool {
	disk := run.c.Nodes[x].Disk
	rotted := false
	for _, name := range disk.Names() {
		if !strings.HasPrefix(name, "log-") {
			continue
		}
		for _, e := range readWrittenLog(disk, name) {
			if e.op == op {
				sectors := (e.size + storage.SectorSize - 1) / storage.SectorSize
				disk.CorruptSector(name, e.offset+storage.SectorSize*(pick%sectors))
				rotted = true
			}
		}
	}
	return rotted
}

// repairPeerRounds is how many repair rounds of one request to a peer drawn at random miss
// holders of k peers with odds below repairPeerMissOdds.
func (run *swarmRun) repairPeerRounds(holders, k int) int {
	if holders >= k {
		return 1
	}
	return int(math.Ceil(math.Log(repairPeerMissOdds) / math.Log(1-float64(holders)/float64(k))))
}

// repairPeerTicks bounds the repair: repairPeerRounds repair periods (the period, its jitter
// of two ticks, a tick of sampling, and 1% for a slow clock), repairPeerTrips mean round
// trips for the answer, and repairPeerDiskOps disk writes at their mean latency on the
// slowest disk (a checkpoint X takes again as it executes from its own, during which it
// executes nothing).
func (run *swarmRun) repairPeerTicks(cfg vsr.Config, holders, k int) int {
	period := (cfg.RepairTicks+3)*101/100 + 1
	d := run.swarm.Disk
	slow := 1
	for i := 0; i < run.c.MemberCount(); i++ {
		slow = max(slow, run.c.Nodes[i].Disk.SlowMultiplier())
	}
	disk := repairPeerDiskOps * sim.Duration(slow) * (d.WriteLatencyMin + d.WriteLatencyMean)
	return run.repairPeerRounds(holders, k)*period + repairPeerTrips*ticksOf(run.roundTrip()) + ticksOf(disk)
}

// repairPeerEnd heals the network and waits for convergence.
func (run *swarmRun) repairPeerEnd(x int, op uint64, livenessTicks int) string {
	run.c.Network.Heal()
	return run.convergedAfterRound(fmt.Sprintf("R%d repaired its damaged op %d", x, op), livenessTicks)
}

// repairPeerKeys lists the nodes cut, in order.
func repairPeerKeys(cut []bool) []int {
	var keys []int
	for i := range cut {
		if cut[i] {
			keys = append(keys, i)
		}
	}
	return keys
}

// repairPeerSubject picks the round's backup X among the active members other than the
// primary p, and lists the members X's repair may ask: every other active member and standby.
func (run *swarmRun) repairPeerSubject(active []int, p, pickX int) (x int, peers, standbys []int) {
	backups := others(active, p)
	x = backups[pickX%len(backups)]
	_, standbys = run.c.Members()
	for _, i := range append(append([]int(nil), active...), standbys...) {
		if i != x {
			peers = append(peers, i)
		}
	}
	return x, peers, standbys
}

// repairPeerCut is which of X's links a round cuts one way: the primary p's, and with
// standbyOnly every other active member's too, so that only standbys can serve X.
func repairPeerCut(members int, active []int, p, x int, standbyOnly bool) ([]bool, bool) {
	cut := make([]bool, members)
	cut[p] = true
	if standbyOnly {
		for _, i := range active {
			cut[i] = i != x
		}
	}
	return cut, standbyOnly
}

// reopenCut restarts the crashed X with its links cut one way as cut says and runs until it
// has opened. The heal switched the disks' faults off, and with them what reads see of the
// damage: they are on again on X's disk until its recovery has read it (as lost_sync).
// failed: a safety violation ended the run. target is what the others had committed when X
// restarted.
func (run *swarmRun) reopenCut(x int, cut []bool, livenessTicks int) (in vsr.Inspection, target uint64, failed bool) {
	c := run.c
	for _, i := range repairPeerKeys(cut) {
		c.Network.Cut(x, i)
	}
	disk := c.Nodes[x].Disk
	disk.SetFaultsEnabled(true)
	c.StartReplica(x)
	target = run.committedBesides(x)
	opened := func() bool { return c.Replica(x) != nil && c.Replica(x).TraceState().Status != vsr.StatusRecovering }
	run.runChecked(opened, livenessTicks/4)
	disk.SetFaultsEnabled(false)
	if run.safety() != "" {
		return in, target, true
	}
	return c.Replica(x).Inspect(), target, false
}
