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
// its log segments rots, and so does h's redundant record, and likewise for the ops just
// below h (1 to lostHeadOpsMax ops in all, drawn): recovery knows they exist (an entry and a
// record damaged both are never taken for a torn append), not which prepares they hold. X
// restarts with its link TO the primary cut one way (it hears the primary's heartbeats, the
// primary hears nothing of it), and, where the cluster has standbys, in half the rounds its
// links to every active peer too, so that only standbys can serve. Once X has read its disk
// back (normal in the primary's view, its head at h, h not executed) it must execute h within
// lostHeadTicks, without a state sync, and once its log is written hold each damaged op's
// prepare as it held it before. Only the primary's commit heartbeat names h; each op below
// is named by the parent link of the one above once that is repaired.
//
// The bound. The runbook pages (P1, ReplicationLagHigh) on a replica whose lag passes
// 1000 ms, and every resolution it offers for lag (scenario 4: disk, network, CPU,
// compaction, isolate and rejoin) removes a bottleneck and lets the replica catch up on its
// own; none makes the primary hear a replica it cannot hear, nor names a prepare for it.
// So the protocol must repair the op itself, in the repair rounds the replica already runs:
// one commit heartbeat to learn h's checksum (HeartbeatTicks, its jitter and 1% of clock),
// then, for each damaged op in turn, repair_peer's bound for the holders X reaches among its
// peers (repairPeerTicks: the rounds of one random peer each that miss every holder with odds
// below repairPeerMissOdds, the answer's round trips, the disk's writes). With the primary
// deaf, no state sync rescues X (it asks the primary for one, after RepairStuckRoundsMax):
// a replica stuck on h would stay behind, and page, forever.
const (
	lostHeadOdds   = 3
	lostHeadOpsMax = 3
)

// lostHeadState counts the rounds timed, those where X came back without h's identity (the
// class the round aims at), and those where only standbys could serve.
type lostHeadState struct {
	rounds, unknown, standbyOnly, commitAhead uint64
}

func (s lostHeadState) counters(counters map[string]uint64) {
	counters["coverage.mark.lost_head.round"] += s.rounds
	counters["coverage.mark.lost_head.unknown_identity"] += s.unknown
	counters["coverage.mark.lost_head.standby_only"] += s.standbyOnly
	counters["coverage.mark.lost_head.commit_ahead"] += s.commitAhead
}

func (run *swarmRun) lostHeadRound(seed uint64, livenessTicks int) string {
	r := sim.Stream(seed, "swarm/lost_head")
	on, pickX, pickSector, standbyOnly := r.IntN(lostHeadOdds) == 0, r.Int(), r.Int64(), r.IntN(2) == 0
	lost := 1 + r.IntN(lostHeadOpsMax) // how many ops at the head lose their identity
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
	x, peers, standbys := run.repairPeerSubject(active, p, pickX)
	ops := run.lostHeadOps(x, peers, lost)
	if len(ops) == 0 {
		return ""
	}
	op, low := ops[len(ops)-1].Op, ops[0].Op
	cut, standbyOnly := repairPeerCut(run.c.MemberCount(), active, p, x, standbyOnly && len(standbys) > 0)
	holders := 0
	for _, i := range peers {
		if !cut[i] && run.lostHeadHolds(i, ops) {
			holders++
		}
	}
	if holders == 0 {
		return ""
	}
	c.Trace.Emitf(sim.LevelShort, x, "nemesis", "lost_head: R%d's head ops %d to %d lose their entries and redundant "+
		"records and it restarts, its links to %v cut one way (the primary R%d's among them): %d of its %d peers hold "+
		"them", x, low, op, repairPeerKeys(cut), p, holders, len(peers))
	checkpoint := c.Replica(x).CheckpointOp()
	c.CrashReplica(x)
	run.inspect()
	if !run.lostHeadRot(x, ops, pickSector) {
		c.StartReplica(x)
		return run.convergedAfterRound(fmt.Sprintf("R%d restarted (no entries and records of ops %d-%d to rot)", x,
			low, op), livenessTicks)
	}
	ahead, aheadOK := run.lostHeadCommitAhead(seed, x, p, op, standbyOnly, livenessTicks)
	if len(ahead) > 0 {
		holders = 0
		for _, i := range peers {
			if !cut[i] && run.lostHeadHolds(i, ops) && run.lostHeadHolds(i, ahead) {
				holders++
			}
		}
	}
	in, target, failed := run.reopenCut(x, cut, livenessTicks)
	if failed {
		return ""
	}
	rep := c.Replica(x)
	head := target // X's head must be at the commit, or at op below the ops committed while it was down
	if len(ahead) > 0 {
		head = op
	}
	if !aheadOK || holders == 0 || (len(ahead) > 0 && target != ahead[len(ahead)-1].Op) ||
		in.Status != vsr.StatusNormal || in.Op < head || in.CommitMin >= target || in.CheckpointOp < checkpoint ||
		run.repairPeerBehindView(in.View, cut) {
		return run.repairPeerEnd(x, op, livenessTicks) // nothing of the class to time (see repairPeerRound)
	}
	if len(ahead) > 0 {
		run.repairPeer.lostHead.commitAhead++
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
	limit := run.lostHeadTicks(rep.Config(), len(ops)+len(ahead), holders, len(peers))
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
	lostOps := fmt.Sprintf("its head op %d's log entry and redundant record damaged (%s)", op, identity)
	if len(ops) > 1 {
		below := fmt.Sprintf("op %d", low)
		if low < op-1 {
			below = fmt.Sprintf("ops %d-%d", low, op-1)
		}
		lostOps = fmt.Sprintf("its head op %d's log entry and redundant record damaged (%s), and those of %s below "+
			"it (each named by the op above once that is repaired),", op, identity, below)
	}
	switch {
	case !done:
		return fmt.Sprintf("lost_head: replica R%d, %s and its links to %v cut one way (the primary R%d's among "+
			"them), had not executed op %d %d ticks after it recovered at %s (%s, head op %d, executed to op %d, "+
			"commit %d, %d state syncs): it waited for op %d's prepare, which %d of its %d peers held intact and "+
			"could hear it asked by checksum; the bound is one commit heartbeat and %d repair rounds of one random "+
			"peer each per op (miss odds below %g)", x, lostOps, repairPeerKeys(cut), p, target, limit, from,
			now.Status, now.Op, now.CommitMin, now.CommitMax, now.Metrics.StateSyncs-syncs, now.CommitMin+1, holders,
			len(peers), run.repairPeerRounds(holders, len(peers)), repairPeerMissOdds)
	case now.Metrics.StateSyncs != syncs:
		return fmt.Sprintf("lost_head: replica R%d, its head op %d's entry and record damaged, installed a peer's "+
			"checkpoint (%d state syncs) to get past it, though %d of its %d peers it could reach held op %d intact",
			x, op, now.Metrics.StateSyncs-syncs, holders, len(peers), op)
	}
	c.Trace.Emitf(sim.LevelShort, x, "nemesis", "lost_head: R%d executed op %d after %d ticks (bound %d)", x, target,
		int((c.Loop.Now()-from)/sim.Time(sim.TickInterval)), limit)
	c.Network.Heal()
	if run.runChecked(run.logsWritten, livenessTicks/4) && c.Replica(x) != nil {
		for _, h := range append(append([]vsr.HeldPrepare(nil), ops...), ahead...) {
			if c.Replica(x).CheckpointOp() < h.Op && !run.repairPeerHolds(x, h.Op, h.Prepare) {
				return fmt.Sprintf("lost_head: replica R%d executed its head op %d after the entries and records of "+
					"ops %d-%d were damaged, but once its log was written it does not hold op %d's prepare as it "+
					"held it before", x, op, low, op, h.Op)
			}
		}
	}
	return run.repairPeerEnd(x, op, livenessTicks)
}

// lostHeadCommitAhead lets the primary p commit one or two ops past X's head op while X is
// down, in half the rounds (drawn from the run's "swarm/lost_head_ahead" stream, so that the
// other draws and seeds keep their traces) where not only standbys serve X: the clients each
// send one request, and the other replicas commit it. X then comes back with nothing it holds
// naming its head, under a commit heartbeat naming an op above it (swarm seed 2027006076 with
// its timing shifted: R0 at head 239 under commit 240 asked the deaf primary for the ops by
// number, 312 times; vsr.commit_above_head_not_learned). It returns the prepares committed
// above op as the primary holds them, and false where the round cannot be timed (the ops did
// not commit, or the primary does not hold them all).
func (run *swarmRun) lostHeadCommitAhead(seed uint64, x, p int, op uint64, standbyOnly bool, livenessTicks int) ([]vsr.HeldPrepare, bool) {
	r := sim.Stream(seed, "swarm/lost_head_ahead")
	on, n := r.IntN(2) == 0, 1+r.IntN(2)
	c := run.c
	if !on || standbyOnly || c.ClientCount() == 0 || c.Replica(p) == nil {
		return nil, true
	}
	run.blipRequests(func(i int) bool { return i < n }, op, 5, livenessTicks/4)
	rep := c.Replica(p)
	if rep == nil || c.Primary() != p {
		return nil, false
	}
	top := rep.TraceState().Op
	if top <= op {
		return nil, true // no client was idle: nothing committed above X's head
	}
	if !run.runChecked(func() bool { return run.committedBesides(x) >= top }, livenessTicks/4) {
		return nil, false
	}
	target := run.committedBesides(x)
	var ahead []vsr.HeldPrepare
	for _, h := range c.Replica(p).InspectDisk().Prepares {
		if h.Op > op && h.Op <= target {
			ahead = append(ahead, h)
		}
	}
	if len(ahead) != int(target-op) {
		return nil, false
	}
	c.Trace.Emitf(sim.LevelShort, x, "nemesis", "lost_head: the primary R%d committed ops %d-%d while R%d was down",
		p, op+1, target, x)
	return ahead, true
}

// lostHeadOps are the top n ops of x's log (fewer where the log holds fewer) where the
// cluster is quiet: committed and executed by x, x's head the head of every active replica,
// above every member's checkpoint, held by x on its disk. Nil where the cluster is not so.
func (run *swarmRun) lostHeadOps(x int, peers []int, n int) []vsr.HeldPrepare {
	c := run.c
	in := c.Replica(x).Inspect()
	floor := in.CheckpointOp
	for _, i := range peers {
		rep := c.Replica(i)
		if rep == nil {
			return nil
		}
		floor = max(floor, rep.CheckpointOp())
		if c.IsMember(i) && rep.Inspect().Op > in.Op {
			return nil // not quiet: a later op names the head
		}
	}
	if in.Op <= floor || in.CommitMin < in.Op {
		return nil
	}
	held := c.Replica(x).InspectDisk().Prepares
	var ops []vsr.HeldPrepare
	for k := len(held) - 1; k >= 0 && len(ops) < n; k-- {
		if held[k].Op != in.Op-uint64(len(ops)) || held[k].Op <= floor {
			break
		}
		ops = append([]vsr.HeldPrepare{held[k]}, ops...)
	}
	return ops
}

// lostHeadHolds reports whether replica i holds every one of ops as x held it.
func (run *swarmRun) lostHeadHolds(i int, ops []vsr.HeldPrepare) bool {
	for _, h := range ops {
		if !run.repairPeerHolds(i, h.Op, h.Prepare) {
			return false
		}
	}
	return true
}

// lostHeadRot flips a bit in one sector (drawn) of every entry of the ops in x's log
// segments, and in the redundant record of each: recovery then knows the ops were appended,
// not what they held. It reports whether it found an entry and its record of every op.
func (run *swarmRun) lostHeadRot(x int, ops []vsr.HeldPrepare, pick int64) bool {
	disk := run.c.Nodes[x].Disk
	entries, records := map[uint64]bool{}, map[uint64]bool{}
	lost := map[uint64]bool{}
	for _, h := range ops {
		lost[h.Op] = true
	}
	for _, name := range disk.Names() {
		if !strings.HasPrefix(name, "log-") {
			continue
		}
		image := disk.Pristine(name)
		rotted := map[int64]bool{} // one flip per sector: a second would undo the first
		for _, e := range readWrittenLog(disk, name) {
			if !lost[e.op] {
				continue
			}
			if at, ok := faults.RecordSectorOf(image, e.offset); ok && !rotted[at] {
				disk.CorruptSector(name, at)
				rotted[at] = true
				records[e.op] = true
			}
			sectors := (e.size + storage.SectorSize - 1) / storage.SectorSize
			if at := e.offset + storage.SectorSize*(pick%sectors); !rotted[at] {
				disk.CorruptSector(name, at)
				rotted[at] = true
			}
			entries[e.op] = true
		}
	}
	return len(entries) == len(ops) && len(records) == len(ops)
}

// lostHeadTicks bounds the repair of n ops at the head: one commit heartbeat that names the
// head's checksum (the period, a jitter of two ticks, a tick of sampling, 1% for a slow
// clock), then repairPeerTicks for each op in turn (each is named by the one above once that
// is repaired).
func (run *swarmRun) lostHeadTicks(cfg vsr.Config, n, holders, k int) int {
	return (cfg.HeartbeatTicks+3)*101/100 + 1 + n*run.repairPeerTicks(cfg, holders, k)
}
