package faults

import (
	"fmt"
	"slices"

	"vopr/cluster/storage"
	"vopr/cluster/vsr"
	"vopr/sim"
)

// The aimed moves (issue 10, "faults aimed where bugs live"): rather than striking a random
// replica at a random tick, each sets up a shape that protocol bugs need.
//
//   - Primary isolation: the current primary loses the other replicas but keeps its clients,
//     so it prepares ops nobody else sees (an uncommitted suffix). Once the others have
//     elected a new primary, the old one is reconnected and the new one cut off in turn, so
//     that a second view change runs while the old primary still holds its suffix from an
//     older log view: the do_view_change choice must take the newer log view, not the longer
//     log. Each phase gives up after isolationTicksMax.
//   - Crash at an I/O point: an armed crash strikes the next replica (that the availability
//     bound allows) to reach the point: as its superblock sync completes (the process dies
//     before it learns of it, so nothing after the superblock is issued: between the
//     superblock and the log), just after it sends start_view, or just after a checkpoint.
//   - Correlated damage (nemesis_correlated.go).
//   - Ring and bridge partitions of the replicas (clients keep every path), for a while.
//   - Clock faults on the current primary: a step, a drift or an offset.
//
// Each is traced and counted like every action, and marks the shape it reached (marks.go).

// The aimed moves' action names.
const (
	ActionPrimaryIsolate       = "partition.primary"
	ActionPrimaryNext          = "partition.primary_next"
	ActionReconnect            = "partition.reconnect"
	ActionRing                 = "partition.ring"
	ActionBridge               = "partition.bridge"
	ActionCrashSuperblock      = "crash.superblock"
	ActionCrashStartView       = "crash.start_view"
	ActionCrashCheckpoint      = "crash.checkpoint"
	ActionDiskCorruptTail      = "disk.corrupt_tail"
	ActionDiskCorruptWhileDown = "disk.corrupt_while_down"
	ActionClockPrimaryStep     = "clock.primary_step"
	ActionClockPrimaryDrift    = "clock.primary_drift"
	ActionClockPrimaryOffset   = "clock.primary_offset"
	ActionUpgradeStraggler     = "upgrade.straggler"
	ActionDiskMisdirectRecord  = "disk.misdirect_record"
)

const (
	// isolationTicksMax bounds each phase of a primary isolation: the wait for the others'
	// view change (5 s; an election takes well under a second).
	isolationTicksMax = 500
	// A ring or bridge lasts shapeTicksMin..shapeTicksMax ticks.
	shapeTicksMin, shapeTicksMax = 100, 1000
	// crashAtIOWaitTicks is how long an armed crash at an I/O point waits for a replica to
	// reach it.
	crashAtIOWaitTicks = 300
)

// crashAtIOPoints are the points a crash at I/O may be armed for, by their action names.
var crashAtIOPoints = []string{ActionCrashSuperblock, ActionCrashStartView, ActionCrashCheckpoint}

// The phases of a primary isolation.
const (
	isolationIdle = iota
	isolationFirst
	isolationSecond
	isolationBehind // the primary left behind (nemesis_behind.go)
)

// primaryIsolation is the state of the primary-isolation move.
//
// Invariants: phase == isolationIdle iff no cut of the move is in place; in isolationSecond,
// next != old and nextView > oldView.
type primaryIsolation struct {
	phase   int
	old     int    // the primary cut off first
	oldView uint32 // its view then
	oldOp   uint64 // its op_number then
	next    int    // the primary the others elected, cut off in turn
	// nextView is the view next leads; repaired is set once old installed a log of that view
	// or later (its log_view reached it).
	nextView uint32
	repaired bool
	suffix   bool // the suffix mark was counted for this move
	// misdirect: a misdirect is armed on old's disk (misdirectSuffixRecords); rebooted: the
	// reboot after it landed was decided.
	misdirect, rebooted bool
	shape               sim.Shape
	until               uint64 // the tick the phase gives up at
}

// ioCrash is an armed crash at an I/O point; until == 0 when none is armed.
type ioCrash struct {
	point string
	until uint64
}

// Install hooks the nemesis into c's replicas for the moves that strike inside a replica's
// own calls (crashes at I/O points) or watch them (state syncs: the primary left behind's,
// and those the synced checkpoint loss strikes).
// Without those on, it installs nothing.
func (n *Nemesis) Install(c *sim.Cluster) {
	if n.o.CrashAtIOProbability == 0 && n.o.PrimaryBehindProbability == 0 && n.o.SyncedCheckpointLossProbability == 0 &&
		n.o.FirstPrepareCrashProbability == 0 && n.divergent.r == nil && n.syncError.r == nil && n.cutNoSpace.r == nil {
		return
	}
	n.installCutNoSpace(c)
	c.SetFaultHooks(sim.FaultHooks{
		Completion: func(i int, io sim.IOCompletion) bool { return n.onCompletion(c, i, io) },
		Sent:       func(from, _ int, msg []byte) { n.onSent(c, from, msg) },
		Event:      func(e vsr.Event) { n.onEvent(c, e) },
	})
}

// stepAimed is one tick of the aimed moves, after the other actions: a probability of zero
// draws nothing, so seeds without these kinds keep their schedules.
func (n *Nemesis) stepAimed(c *sim.Cluster) {
	o := &n.o
	n.stepPrimaryIsolation(c)
	// The two aimed partitions never overlap: undoing one would reconnect paths the other cut.
	if sim.Chance(n.r, o.PrimaryIsolationProbability) && n.isolation.phase == isolationIdle && n.shape == nil {
		n.isolatePrimary(c)
	}
	if n.ioCrash.until != 0 && n.tick >= n.ioCrash.until {
		n.ioCrash = ioCrash{} // nobody reached the point in time
	}
	if sim.Chance(n.r, o.CrashAtIOProbability) && n.ioCrash.until == 0 {
		n.ioCrash = ioCrash{point: crashAtIOPoints[n.r.IntN(len(crashAtIOPoints))], until: n.tick + crashAtIOWaitTicks}
	}
	if sim.Chance(n.r, o.DiskCorrelatedProbability) {
		n.correlated(c)
	}
	if n.shape != nil && n.tick >= n.shapeUntil {
		n.record(c, -1, ActionReconnect, n.shape.Name+" "+n.shape.Text)
		c.Network.Reconnect(*n.shape)
		n.shape = nil
	}
	if sim.Chance(n.r, o.RingBridgeProbability) && n.shape == nil && n.isolation.phase == isolationIdle {
		n.ringOrBridge(c)
	}
	if sim.Chance(n.r, o.ClockPrimaryProbability) {
		n.clockPrimary(c)
	}
	if sim.Chance(n.r, o.DiskIdentityLossProbability) {
		n.identityLoss(c)
	}
	if sim.Chance(n.r, o.UpgradeStragglerProbability) && n.shape == nil && n.isolation.phase == isolationIdle {
		n.upgradeStraggler(c)
	}
	if n.watch.until != 0 && n.tick > n.watch.until {
		n.watch = behindWatch{}
	}
	if sim.Chance(n.r, o.PrimaryBehindProbability) && n.shape == nil && n.isolation.phase == isolationIdle {
		n.isolatePrimaryBehind(c)
	}
	n.stepSynced(c)
	n.stepCut()
	n.maybeStartDivergent(c)
}

// primary returns the up replica, other than exclude, that is primary in normal status in
// the highest view, with its state.
func (n *Nemesis) primary(c *sim.Cluster, exclude int) (int, vsr.Inspection, bool) {
	best, found := vsr.Inspection{}, false
	for i := 0; i < n.swarm.Replicas; i++ {
		r := c.Replica(i)
		if i == exclude || r == nil || c.Nodes[i].Status() != sim.NodeUp {
			continue
		}
		in := r.Inspect()
		if in.Status == vsr.StatusNormal && in.Role == vsr.RolePrimary && (!found || in.View > best.View) {
			best, found = in, true
		}
	}
	return best.Replica, best, found
}

// viewAbove reports whether an up replica is in a view above view.
func (n *Nemesis) viewAbove(c *sim.Cluster, view uint32) bool {
	for i := 0; i < n.swarm.Replicas; i++ {
		if r := c.Replica(i); r != nil && r.Inspect().View > view {
			return true
		}
	}
	return false
}

// otherReplicas lists every replica but i.
func (n *Nemesis) otherReplicas(i int) []int {
	return n.replicasWhere(nil, func(j int) bool { return j != i })
}

func (n *Nemesis) isolatePrimary(c *sim.Cluster) {
	p, in, ok := n.primary(c, -1)
	if !ok || n.atlas.F == 0 { // the others could never elect a primary without it
		return
	}
	shape := sim.IsolateFrom(p, n.otherReplicas(p))
	n.record(c, p, ActionPrimaryIsolate, fmt.Sprintf("view=%d op=%d commit=%d", in.View, in.Op, in.CommitMax))
	c.Network.Partition(shape)
	n.isolation = primaryIsolation{phase: isolationFirst, old: p, oldView: in.View, oldOp: in.Op,
		shape: shape, until: n.tick + isolationTicksMax}
}

// stepPrimaryIsolation moves the primary isolation on when the view it waits for has come,
// or gives up when its phase has lasted isolationTicksMax.
func (n *Nemesis) stepPrimaryIsolation(c *sim.Cluster) {
	iso := &n.isolation
	switch iso.phase {
	case isolationIdle:
		return
	case isolationBehind:
		n.stepPrimaryBehind(c)
		return
	case isolationDivergent, isolationDivergentClash:
		n.stepDivergent(c)
		return
	case isolationFirst:
		if next, in, ok := n.primary(c, iso.old); ok && in.View > iso.oldView {
			n.isolateNext(c, next, in)
			return
		}
	case isolationSecond:
		n.rebootAfterMisdirect(c)
		if r := c.Replica(iso.old); r != nil && !n.viewAbove(c, iso.nextView) && r.Inspect().LogView >= iso.nextView {
			iso.repaired = true // it installed the new primary's log before any later view began
		}
		if _, in, ok := n.primary(c, iso.next); ok && in.View > iso.nextView {
			if !iso.repaired {
				n.hits.Hit(MarkPrimaryIsolationSecondViewChange)
			}
			n.endIsolation(c, fmt.Sprintf("view %d started, old primary repaired first: %t", in.View, iso.repaired))
			return
		}
	}
	if n.tick >= iso.until {
		n.endIsolation(c, "no view change in time")
	}
}

// isolateNext reconnects the old primary and cuts off the one the others elected.
func (n *Nemesis) isolateNext(c *sim.Cluster, next int, in vsr.Inspection) {
	iso := &n.isolation
	n.hits.Hit(MarkPrimaryIsolationViewChange)
	detail := fmt.Sprintf("view=%d op=%d; r%d reconnected", in.View, in.Op, iso.old) + n.markSuffix(c)
	c.Network.Reconnect(iso.shape)
	iso.shape = sim.IsolateFrom(next, n.otherReplicas(next))
	n.record(c, next, ActionPrimaryNext, detail)
	c.Network.Partition(iso.shape)
	iso.phase, iso.next, iso.nextView, iso.until = isolationSecond, next, in.View, n.tick+isolationTicksMax
	n.divergentIdentityLoss(c)
	n.misdirectSuffixRecords(c)
}

// misdirectSuffixRecords, with misdirected writes on (disk.misdirect), aims a misdirect at the
// old primary's next write into the record sectors of its divergent suffix (the ops it
// prepared while cut off, above its op at isolation), as it rejoins: the new log replaces
// those ops, and a record write that lands elsewhere leaves the old prepare's record (or its
// tombstone) in place, and a stray copy where it landed. Recovery must then hold the op to its
// entry, never to the stale record, and never rest on the stray (swarm seed 2026761680).
// Half the time; it draws nothing without misdirects or without a suffix, and the atlas
// bounds where it may land as it bounds random misdirects.
func (n *Nemesis) misdirectSuffixRecords(c *sim.Cluster) {
	iso := &n.isolation
	r := c.Replica(iso.old)
	if n.swarm.Disk.WriteMisdirectProbability == 0 || !iso.suffix || r == nil || n.r.IntN(2) == 0 {
		return
	}
	first := iso.oldOp + 1
	segment := first / vsr.CheckpointInterval
	last := min(r.Inspect().Op, (segment+1)*vsr.CheckpointInterval-1) // in first's segment
	if last < first {
		return
	}
	name := segmentName(segment)
	lo := int64(first%vsr.CheckpointInterval) * storage.SectorSize
	hi := int64(last%vsr.CheckpointInterval+1) * storage.SectorSize
	n.record(c, iso.old, ActionDiskMisdirectRecord, fmt.Sprintf("%s@%d..%d (ops %d..%d)", name, lo, hi, first, last))
	c.Nodes[iso.old].Disk.ArmMisdirect(name, lo, hi)
	iso.misdirect = true
}

// rebootAfterMisdirect reboots the old primary at the first tick after its armed misdirect
// landed, where the availability bound allows, so that recovery reads the record sectors as
// the misdirect left them (the old prepare's record or tombstone in place, the new record a
// stray) before the replica writes the op again. Its coin is drawn only once one landed.
func (n *Nemesis) rebootAfterMisdirect(c *sim.Cluster) {
	iso := &n.isolation
	if !iso.misdirect || iso.rebooted || !c.Nodes[iso.old].Disk.MisdirectLanded() {
		return
	}
	iso.rebooted = true
	if !slices.Contains(n.mayTakeDown(c), iso.old) || n.r.IntN(2) == 0 {
		return
	}
	n.record(c, iso.old, ActionCrash, "after a misdirected record write")
	n.hits.Hit(MarkPrimaryIsolationMisdirectReboot)
	c.CrashReplica(iso.old)
	n.stableUntil[iso.old] = n.tick + uint64(n.o.ReplicaStabilityTicks)
	n.record(c, iso.old, ActionRestart, "after a misdirected record write")
	c.StartReplica(iso.old)
}

// divergentIdentityLoss, with identity loss on (disk.correlated), damages the identity of the
// newest entries of a replica that holds the new primary's log, at the moment the old primary,
// with its divergent suffix from the older log view, rejoins: the coming view change must
// fill the chosen log's unknown ops from do_view_changes of that same log view (or of an
// older one only at or below its sender's commit number), never from the old primary's
// suffix. Half the time; it draws nothing without identity loss or without a suffix.
func (n *Nemesis) divergentIdentityLoss(c *sim.Cluster) {
	iso := &n.isolation
	if n.o.DiskIdentityLossProbability == 0 || !iso.suffix || n.atlas.F == 0 || n.r.IntN(2) == 0 {
		return
	}
	target, ok := n.pick(n.replicasWhere(c, func(i int) bool {
		r := c.Replica(i)
		return i != iso.old && i != iso.next && r != nil && c.Nodes[i].Status() == sim.NodeUp &&
			r.Inspect().LogView == iso.nextView
	}))
	if ok && n.identityLossOn(c, target) {
		n.hits.Hit(MarkPrimaryIsolationIdentityLoss)
	}
}

// markSuffix marks the suffix the old primary prepared while cut off, if it did (and still
// holds it in its old log view); it returns the old primary's state for the trace.
func (n *Nemesis) markSuffix(c *sim.Cluster) string {
	iso := &n.isolation
	r := c.Replica(iso.old)
	if r == nil {
		return " (down)"
	}
	in := r.Inspect()
	if !iso.suffix && in.Op > iso.oldOp && in.LogView <= iso.oldView {
		iso.suffix = true
		n.hits.Hit(MarkPrimaryIsolationSuffix)
	}
	return fmt.Sprintf(" at op=%d log_view=%d", in.Op, in.LogView)
}

func (n *Nemesis) endIsolation(c *sim.Cluster, why string) {
	iso := &n.isolation
	node := iso.old
	if iso.phase == isolationSecond {
		node = iso.next
	} else {
		why += ";" + n.markSuffix(c)
	}
	if iso.misdirect && c.Nodes[iso.old].Disk.DisarmMisdirect() {
		n.hits.Hit(MarkPrimaryIsolationMisdirectedRecord)
		why += "; a record write misdirected"
	}
	n.record(c, node, ActionReconnect, "primary isolation: "+why)
	c.Network.Reconnect(iso.shape)
	n.isolation = primaryIsolation{}
}

// ringOrBridge partitions the replicas into a ring (with four or more) or a bridge.
func (n *Nemesis) ringOrBridge(c *sim.Cluster) {
	replicas := n.swarm.Replicas
	if replicas < 3 {
		return // no shape: a bridge needs two halves and the replica between them
	}
	order := n.r.Perm(replicas)
	var shape sim.Shape
	if replicas >= 4 && n.r.IntN(2) == 0 {
		shape = sim.Ring(order)
		n.record(c, -1, ActionRing, shape.Text)
		n.hits.Hit(MarkPartitionRing)
	} else {
		rest := order[1:]
		shape = sim.Bridge(rest[:len(rest)/2], rest[len(rest)/2:], order[0])
		n.record(c, order[0], ActionBridge, shape.Text)
		n.hits.Hit(MarkPartitionBridge)
	}
	c.Network.Partition(shape)
	n.shape = &shape
	n.shapeUntil = n.tick + shapeTicksMin + uint64(n.r.IntN(shapeTicksMax-shapeTicksMin+1))
}

// clockPrimary steps, drifts or offsets the current primary's clock.
func (n *Nemesis) clockPrimary(c *sim.Cluster) {
	o := &n.o
	which := n.r.IntN(3)
	p, _, ok := n.primary(c, -1)
	if !ok {
		return
	}
	clock := c.Nodes[p].Clock
	switch which {
	case 0:
		delta := 1 + n.r.Int64N(o.ClockPrimaryNsMax)
		if n.r.IntN(2) == 0 {
			delta = -delta
		}
		n.record(c, p, ActionClockPrimaryStep, "by "+sim.Duration(delta).String())
		n.hits.Hit(MarkClockPrimaryStep)
		clock.Step(delta)
	case 1:
		ppm := n.r.Int64N(2*o.ClockPrimaryPPMMax+1) - o.ClockPrimaryPPMMax
		n.record(c, p, ActionClockPrimaryDrift, fmt.Sprintf("to %dppm", ppm))
		n.hits.Hit(MarkClockPrimaryDrift)
		clock.SetDrift(ppm)
	default:
		offset := n.r.Int64N(2*o.ClockPrimaryNsMax+1) - o.ClockPrimaryNsMax
		n.record(c, p, ActionClockPrimaryOffset, "to "+sim.Duration(offset).String())
		n.hits.Hit(MarkClockPrimaryOffset)
		clock.SetOffset(offset)
	}
}

// armedFor reports whether a crash is armed for point and may strike replica now.
func (n *Nemesis) armedFor(c *sim.Cluster, point string, replica int) bool {
	if n.healed || n.ioCrash.until == 0 || n.ioCrash.point != point {
		return false
	}
	return slices.Contains(n.mayTakeDown(c), replica)
}

// crashAtIO counts and traces a crash at an I/O point; the caller crashes the replica.
func (n *Nemesis) crashAtIO(c *sim.Cluster, replica int, detail string) {
	action := n.ioCrash.point
	n.ioCrash = ioCrash{}
	n.record(c, replica, action, detail)
	switch action {
	case ActionCrashSuperblock:
		n.hits.Hit(MarkCrashAtSuperblock)
	case ActionCrashStartView:
		n.hits.Hit(MarkCrashAfterStartView)
	default:
		n.hits.Hit(MarkCrashAfterCheckpoint)
	}
}

// onCompletion crashes replica as its superblock sync completes, when so armed: the node
// dies before the replica learns of it.
func (n *Nemesis) onCompletion(c *sim.Cluster, replica int, io sim.IOCompletion) bool {
	if n.onCutCompletion(c, replica, io) || n.onRecoveryCompletion(c, replica, io) || n.onDivergentCompletion(c, replica, io) ||
		n.onSyncErrorCompletion(c, replica, io) || n.onCutNoSpaceCompletion(c, replica, io) {
		return true
	}
	if io.Op != sim.IOSync || io.Name != superblockZone || io.Err != nil ||
		!n.armedFor(c, ActionCrashSuperblock, replica) {
		return false
	}
	n.crashAtIO(c, replica, "as its superblock sync completed")
	return true
}

// onSent crashes a replica just after it sent start_view, when so armed (once the call that
// sent it returns: the broadcast completes).
func (n *Nemesis) onSent(c *sim.Cluster, from int, msg []byte) {
	n.onFirstPrepare(c, from, msg)
	if n.ioCrash.point != ActionCrashStartView {
		return
	}
	if command, ok := vsr.PeekCommand(msg); !ok || command != vsr.CommandStartView ||
		!n.armedFor(c, ActionCrashStartView, from) {
		return
	}
	n.crashAtIO(c, from, "just after sending start_view")
	c.Nodes[from].CrashAfterCall()
}

// onEvent crashes a replica just after it reports a durable checkpoint, when so armed.
func (n *Nemesis) onEvent(c *sim.Cluster, e vsr.Event) {
	n.onBehindEvent(e)
	n.onSyncedEvent(e)
	n.onRecoveryEvent(e)
	n.onDivergentEvent(c, e)
	if e.Kind != vsr.EventCheckpoint || !n.armedFor(c, ActionCrashCheckpoint, e.Replica) {
		return
	}
	n.crashAtIO(c, e.Replica, fmt.Sprintf("just after its checkpoint at op %d", e.Op))
	c.Nodes[e.Replica].CrashAfterCall()
	n.rotFreshCheckpoint(c, e.Replica, e.Op)
}

// rotFreshCheckpoint, with disk corruption on, damages a sector of the checkpoint a replica
// crashed just after taking (half the time, where the atlas lets faults strike it): its
// restart must fall back to the previous checkpoint and replay the log above it, which holds
// only what the replica made durable before it checkpointed (a checkpoint taken over ops not
// yet durable leaves the fallback nothing to replay them from).
func (n *Nemesis) rotFreshCheckpoint(c *sim.Cluster, replica int, op uint64) {
	if n.o.DiskCorruptProbability == 0 || n.r.IntN(2) == 0 {
		return
	}
	disk := c.Nodes[replica].Disk
	name, ok := checkpointFile(disk.Names(), op)
	if !ok {
		return
	}
	size, err := disk.Size(name)
	if err != nil || size < storage.SectorSize || !n.atlas.Allowed(replica, name, 0) {
		return
	}
	offset := storage.SectorSize * n.r.Int64N(size/storage.SectorSize)
	n.record(c, replica, ActionDiskCorrupt, fmt.Sprintf("%s@%d (the checkpoint it crashed after)", name, offset))
	disk.CorruptSector(name, offset)
	n.hits.Hit(MarkCrashAfterCheckpointRot)
}
