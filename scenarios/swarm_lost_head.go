package scenarios

import (
	"fmt"
	"strings"

	"vopr/cluster/storage"
	"vopr/cluster/vsr"
	"vopr/faults"
	"vopr/sim"
)

// A head op of lost identity, repaired from a peer while the primary cannot hear us. The
// repair_peer round damages an op below the backup's head, whose identity the next op's
// parent link keeps; the swarm's own disk faults only seldom destroy the head op's entry and
// its redundant record together while the backup cannot reach the primary on an idle cluster
// (make soak, swarm seed 3567225002287448461: R2 knew op 226 existed, not its checksum; no op
// above named it; a prepare of unknown checksum is asked of the primary alone, which did not
// hear R2, and R2 stalled at commit 225 for good though a standby held op 226). The mutant
// vsr.commit_checksum_not_learned (the backup no longer takes the committed op's checksum
// from the primary's commit heartbeat) survived swarm seeds 1-200.
//
// So, once the repair_peer round is over, in one seed in lostHeadOdds (drawn from the run's
// "swarm/lost_head" stream, so that every other seed keeps its draws and its trace) with at
// least three active replicas, on the quiet healed cluster: a backup X whose head op h is
// committed and above every member's checkpoint goes down; one sector of every entry of h in
// its log segments rots, and so does h's redundant record: recovery knows h exists (an
// entry and a record damaged both are never taken for a torn append), not which prepare it
// holds. X restarts with its link TO the primary cut one way (it hears the primary's
// heartbeats, the primary hears nothing of it), and, where the cluster has standbys, in half
// the rounds its links to every active peer too, so that only standbys can serve h. Once X
// has read its disk back (normal in the primary's view, its head at h, h not executed) it
// must execute h within lostHeadTicks, without a state sync, and once its log is written hold
// h's prepare as it held it before.
//
// The bound. The runbook pages (P1, ReplicationLagHigh) on a replica whose lag passes
// 1000 ms, and every resolution it offers for lag (scenario 4: disk, network, CPU,
// compaction, isolate and rejoin) removes a bottleneck and lets the replica catch up on its
// own; none makes the primary hear a replica it cannot hear, nor names a prepare for it.
// So the protocol must repair the op itself, in the repair rounds the replica already runs:
// one commit heartbeat to learn h's checksum (HeartbeatTicks, its jitter and 1% of clock),
// then repair_peer's bound for h holders reachable among k peers (repairPeerTicks: the rounds
// of one random peer each that miss every holder with odds below repairPeerMissOdds, the
// answer's round trips, the disk's writes). With the primary deaf, no state sync rescues X:
// a replica stuck on h would stay behind, and page, forever.
const lostHeadOdds = 3

// lostHeadState counts the rounds timed, those where X came back without h's identity (the
// class the round aims at), and those where only standbys could serve.
type lostHeadState struct {
	rounds, unknown, standbyOnly uint64
}

func (s lostHeadState) counters(counters map[string]uint64) {
	counters["coverage.mark.lost_head.round"] += s.rounds
	counters["coverage.mark.lost_head.unknown_identity"] += s.unknown
	counters["coverage.mark.lost_head.standby_only"] += s.standbyOnly
}

func (run *swarmRun) lostHeadRound(seed uint64, livenessTicks int) string {
	r := sim.Stream(seed, "swarm/lost_head")
	on, pickX, pickSector, standbyOnly := r.IntN(lostHeadOdds) == 0, r.Int(), r.Int64(), r.IntN(2) == 0
	if !on || run.viewDrift != "" || run.safety() != "" {
		return ""
	}
	c := run.c
	active, p, ok := run.roundCluster(livenessTicks, 3)
	if !ok {
		return ""
	}
	run.runChecked(run.logsWritten, livenessTicks/4) // h's entry is on X's disk
	if p = c.Primary(); p < 0 || !run.converged() {
		return ""
	}
	backups := others(active, p)
	x := backups[pickX%len(backups)]
	_, standbys := c.Members()
	var peers []int
	for _, i := range append(append([]int(nil), active...), standbys...) {
		if i != x {
			peers = append(peers, i)
		}
	}
	op, prepare, ok := run.lostHeadOp(x, peers)
	if !ok {
		return ""
	}
	cut := make([]bool, c.MemberCount())
	cut[p] = true
	if standbyOnly && len(standbys) > 0 {
		for _, i := range active {
			cut[i] = i != x
		}
	} else {
		standbyOnly = false
	}
	holders := 0
	for _, i := range peers {
		if !cut[i] && run.repairPeerHolds(i, op, prepare) {
			holders++
		}
	}
	if holders == 0 {
		return ""
	}
	disk := c.Nodes[x].Disk
	c.Trace.Emitf(sim.LevelShort, x, "nemesis", "lost_head: R%d's head op %d loses its entry and its redundant "+
		"record and it restarts, its links to %v cut one way (the primary R%d's among them): %d of its %d peers hold "+
		"op %d", x, op, repairPeerKeys(cut), p, holders, len(peers), op)
	checkpoint := c.Replica(x).CheckpointOp()
	c.CrashReplica(x)
	run.inspect()
	if !run.lostHeadRot(x, op, pickSector) {
		c.StartReplica(x)
		return run.convergedAfterRound(fmt.Sprintf("R%d restarted (no entry and record of op %d to rot)", x, op),
			livenessTicks)
	}
	for _, i := range repairPeerKeys(cut) {
		c.Network.Cut(x, i)
	}
	disk.SetFaultsEnabled(true) // reads see the damage until X's recovery has read it (as repair_peer)
	c.StartReplica(x)
	target := run.committedBesides(x)
	opened := func() bool { return c.Replica(x) != nil && c.Replica(x).TraceState().Status != vsr.StatusRecovering }
	run.runChecked(opened, livenessTicks/4)
	disk.SetFaultsEnabled(false)
	if run.safety() != "" {
		return ""
	}
	rep := c.Replica(x)
	in := rep.Inspect()
	if in.Status != vsr.StatusNormal || in.Op < target || in.CommitMin >= target || in.CheckpointOp < checkpoint ||
		run.repairPeerBehindView(in.View, cut) {
		return run.repairPeerEnd(x, op, livenessTicks) // nothing of the class to time (see repairPeerRound)
	}
	if run.knobs.afterRepairPeerOpen != nil { // repair_peer's knob, at the same point of this round
		run.knobs.afterRepairPeerOpen(c, x)
	}
	unknown := in.Op == op && in.LogHead.IsZero()
	run.repairPeer.lostHead.rounds++
	if unknown {
		run.repairPeer.lostHead.unknown++
	}
	if standbyOnly {
		run.repairPeer.lostHead.standbyOnly++
	}
	syncs, from := in.Metrics.StateSyncs, c.Loop.Now()
	limit := run.lostHeadTicks(rep.Config(), holders, len(peers))
	executed := func() bool {
		rep := c.Replica(x)
		return rep != nil && rep.TraceState().CommitMin >= target
	}
	done := run.runChecked(executed, limit)
	if run.safety() != "" || c.Replica(x) == nil {
		return ""
	}
	now := c.Replica(x).Inspect()
	identity := "its disk still named it"
	if unknown {
		identity = "of unknown checksum: no op above names it on the quiet cluster, only the primary's commit heartbeat does"
	}
	switch {
	case !done:
		return fmt.Sprintf("lost_head: replica R%d, its head op %d's log entry and redundant record damaged (%s) and its "+
			"links to %v cut one way (the primary R%d's among them), had not executed op %d %d ticks after it "+
			"recovered at %s (%s, head op %d, executed to op %d, commit %d, %d state syncs): it waited for op %d's "+
			"prepare, which %d of its %d peers held intact and could hear it asked by checksum; the bound is one "+
			"commit heartbeat and %d repair rounds of one random peer each (miss odds below %g)", x, op, identity,
			repairPeerKeys(cut), p, target, limit, from, now.Status, now.Op, now.CommitMin, now.CommitMax,
			now.Metrics.StateSyncs-syncs, op, holders, len(peers), run.repairPeerRounds(holders, len(peers)),
			repairPeerMissOdds)
	case now.Metrics.StateSyncs != syncs:
		return fmt.Sprintf("lost_head: replica R%d, its head op %d's entry and record damaged, installed a peer's "+
			"checkpoint (%d state syncs) to get past it, though %d of its %d peers it could reach held op %d intact",
			x, op, now.Metrics.StateSyncs-syncs, holders, len(peers), op)
	}
	c.Trace.Emitf(sim.LevelShort, x, "nemesis", "lost_head: R%d executed op %d after %d ticks (bound %d)", x, target,
		int((c.Loop.Now()-from)/sim.Time(sim.TickInterval)), limit)
	c.Network.Heal()
	if run.runChecked(run.logsWritten, livenessTicks/4) && c.Replica(x) != nil && c.Replica(x).CheckpointOp() < op &&
		!run.repairPeerHolds(x, op, prepare) {
		return fmt.Sprintf("lost_head: replica R%d executed its head op %d after its entry and record were damaged, "+
			"but once its log was written it does not hold the prepare it held before", x, op)
	}
	return run.repairPeerEnd(x, op, livenessTicks)
}

// lostHeadOp is x's head op where the cluster is quiet: committed and executed by x, the
// head of every active replica, above every member's checkpoint, held by x on its disk. It
// returns the op and x's prepare.
func (run *swarmRun) lostHeadOp(x int, peers []int) (uint64, []byte, bool) {
	c := run.c
	in := c.Replica(x).Inspect()
	floor := in.CheckpointOp
	for _, i := range peers {
		rep := c.Replica(i)
		if rep == nil {
			return 0, nil, false
		}
		floor = max(floor, rep.CheckpointOp())
		if c.IsMember(i) && rep.Inspect().Op > in.Op {
			return 0, nil, false // not quiet: a later op names the head
		}
	}
	if in.Op <= floor || in.CommitMin < in.Op {
		return 0, nil, false
	}
	held := c.Replica(x).InspectDisk().Prepares
	if len(held) == 0 || held[len(held)-1].Op != in.Op {
		return 0, nil, false
	}
	return in.Op, held[len(held)-1].Prepare, true
}

// lostHeadRot flips a bit in one sector (drawn) of every entry of op in x's log segments,
// and in the redundant record of each: recovery then knows op was appended, not what it
// held. It reports whether it found an entry and its record.
func (run *swarmRun) lostHeadRot(x int, op uint64, pick int64) bool {
	disk := run.c.Nodes[x].Disk
	entries, records := 0, 0
	for _, name := range disk.Names() {
		if !strings.HasPrefix(name, "log-") {
			continue
		}
		image := disk.Pristine(name)
		rotted := map[int64]bool{} // one flip per sector: a second would undo the first
		for _, e := range readWrittenLog(disk, name) {
			if e.op != op {
				continue
			}
			if at, ok := faults.RecordSectorOf(image, e.offset); ok && !rotted[at] {
				disk.CorruptSector(name, at)
				rotted[at] = true
				records++
			}
			sectors := (e.size + storage.SectorSize - 1) / storage.SectorSize
			disk.CorruptSector(name, e.offset+storage.SectorSize*(pick%sectors))
			entries++
		}
	}
	return entries > 0 && records > 0
}

// lostHeadTicks bounds the repair of the head: one commit heartbeat that names its checksum
// (the period, a jitter of two ticks, a tick of sampling, 1% for a slow clock), then
// repairPeerTicks.
func (run *swarmRun) lostHeadTicks(cfg vsr.Config, holders, k int) int {
	return (cfg.HeartbeatTicks+3)*101/100 + 1 + run.repairPeerTicks(cfg, holders, k)
}
