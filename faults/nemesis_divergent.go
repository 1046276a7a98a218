package faults

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"vopr/cluster/storage"
	"vopr/cluster/vsr"
	"vopr/internal/coverage"
	"vopr/sim"
)

// The divergent episode (partition.divergent), an aimed move of the primary-isolation kind:
// it builds the shape the view change and PAR bugs need and random faults almost never do,
// two replicas holding DIFFERENT prepares at the same op, and then a view change that must
// choose between them while entries are damaged, do_view_changes arrive late and a replica
// crashes right after it cut its log.
//
//  1. Minority: the current primary P is cut off from the replicas but keeps its clients, so
//     it prepares ops nobody else commits; with f >= 2 a backup (a holder) may stay on P's
//     side, so that two disks hold that suffix (P and its holders are at most f).
//  2. Divergence: the others elect a new primary N, which prepares and commits different
//     prepares at those same op numbers. Once N has committed an op above P's op at the cut
//     and P holds a suffix of its own there, both versions coexist.
//  3. Clash: N is cut off in turn (or its messages are held for a while: its do_view_change
//     and its answers arrive late) and P's side reconnects, so the next view change runs
//     between P's older log and the new log, without N's copy. Before that, drawn from the
//     move's own stream: entries of the overlap are damaged on one replica of the new log (a
//     guarantor elsewhere keeps an intact copy, as for every correlated damage), or P's own
//     suffix is damaged (its entries, maybe with their records: they were never committed)
//     and P reboots onto it; the paths out of one replica are clogged for a while, so its
//     do_view_change (and its answers) reach the new primary late; P is armed to crash a few
//     I/O completions after it next cuts its log. The phase ends once a later view has a
//     normal primary (or after divergentTicksMax), and N reconnects.
//
// It shares the isolation state (n.isolation, phases isolationDivergent and
// isolationDivergentClash) with the other primary-isolation moves, so none overlaps it, and
// the network heal ends it. Every decision is drawn from its own stream (ArmDivergent), so
// seeds it never strikes keep their schedules.

// The move's action names.
const (
	ActionDivergent            = "partition.divergent"
	ActionDivergentClash       = "partition.divergent_clash"
	ActionDiskCorruptDivergent = "disk.corrupt_divergent"
	ActionCrashDivergent       = "crash.divergent"
	ActionClogDivergent        = "clog.divergent"
)

// The phases of the episode, after the primary isolation's.
const (
	isolationDivergent = isolationBehind + 1 + iota
	isolationDivergentClash
)

const (
	// divergentTicksMax bounds each phase (5 s: an election takes well under a second).
	divergentTicksMax = 500
	// divergentEntriesMax is the most entries the episode damages on one replica.
	divergentEntriesMax = 3
	// divergentHeadEntriesMax is the most entries its identity loss at a log's head damages.
	divergentHeadEntriesMax = 8
	// divergentFarTicksMax bounds the far episode's wait (15 s: a window of headers at the
	// swarm's slower client rates).
	divergentFarTicksMax = 1500
	// divergentRepairSyncsMax bounds which of the rejoining old primary's log syncs the crash
	// during its repair strikes at.
	divergentRepairSyncsMax = 12
	// The late do_view_change: the clog lasts divergentClogMin..divergentClogMax.
	divergentClogMin = 50 * sim.Millisecond
	divergentClogMax = 3 * sim.Second
	// divergentClogNextMin is the shortest clog of the new primary's paths: longer than an
	// election, so that the others change view without it.
	divergentClogNextMin = 500 * sim.Millisecond
)

// The coverage marks of the episode.
var (
	MarkDivergentVersions = coverage.Declare("divergent.versions",
		"two replicas held different prepares at one op: an old primary's suffix and a newer view's committed ops")
	MarkDivergentClash = coverage.Declare("divergent.clash",
		"with both versions on disk and the newer view's primary cut off, a later view started over them")
	MarkDivergentDamaged = coverage.Declare("divergent.damaged",
		"entries of one version of a divergent op were damaged just before the view change that chose between them")
	MarkDivergentLateDVC = coverage.Declare("divergent.late_dvc",
		"the paths out of a replica were clogged as the view change over divergent logs began")
	MarkDivergentCrashAfterCut = coverage.Declare("divergent.crash_after_cut",
		"the old primary crashed a few I/O completions after cutting its divergent suffix")
	MarkDivergentFar = coverage.Declare("divergent.far",
		"an old primary with a divergent suffix rejoined once the others were a window of headers past it")
	MarkDivergentCrashInRepair = coverage.Declare("divergent.crash_in_repair",
		"an old primary that rejoined far behind crashed at a log sync of its repair")
)

// divergentEpisode is the move's own state: its stream (nil: off), its chance per tick, the
// partitions it has in place and the armed crash.
//
// Invariants: shapes is empty unless n.isolation is in one of the move's phases; cut.replica
// >= 0 only with cutArmed. The armed crash outlives the episode (until cutUntil): the old
// primary cuts its log as the view it rejoins starts, just after the episode ends.
type divergentEpisode struct {
	r           *rand.Rand
	probability float64
	holders     []int
	shapes      []sim.Shape
	// cutArmed: the old primary crashes at the cut.left-th completion after its next log
	// truncation (cut.replica < 0 until that truncation); restart: a replica it crashed, to
	// be restarted at the next step (-1 if none).
	// far: this episode waits until the others are a window of headers past the old primary
	// (see divergentFar), then lets it rejoin and crashes it during the repair.
	far      bool
	cutArmed bool
	// repairCrash: the armed crash counts the old primary's log syncs (rejoinFar), not the
	// completions after a truncation.
	repairCrash bool
	// repairAtFloor: the repair crash waits for the repair of the op two above the old
	// primary's commit, then strikes at its next log sync.
	repairAtFloor bool
	cut           countdown
	cutReplica    int
	cutUntil      uint64
	restart       int
	// clogs counts the paths it clogged: KindHits counts them as the primary isolation's,
	// not as random clogs.
	clogs uint64
}

// ArmDivergent turns the episode on, drawing from r (sim.Stream(seed, "nemesis/divergent")),
// with primary isolations on and f >= 1 (the others must elect a primary without P's side).
func (n *Nemesis) ArmDivergent(r *rand.Rand) {
	if n.o.PrimaryIsolationProbability == 0 || n.atlas.F == 0 {
		return
	}
	n.divergent = divergentEpisode{r: r, probability: 0.003 + 0.005*r.Float64(), cut: disarmed, restart: -1}
}

// maybeStartDivergent draws the episode's start when no other isolation or shape is in place.
func (n *Nemesis) maybeStartDivergent(c *sim.Cluster) {
	d := &n.divergent
	if d.r == nil || n.healed {
		return
	}
	n.restartDivergent(c)
	if d.cutArmed && n.tick >= d.cutUntil {
		d.cutArmed, d.repairCrash, d.repairAtFloor, d.cut = false, false, false, disarmed // the old primary did not get there in time
	}
	if sim.Chance(d.r, d.probability) && n.isolation.phase == isolationIdle && n.shape == nil {
		n.startDivergent(c)
	}
}

// startDivergent cuts the primary, and maybe one holder, off from the other replicas.
func (n *Nemesis) startDivergent(c *sim.Cluster) {
	d := &n.divergent
	p, in, ok := n.primary(c, -1)
	if !ok {
		return
	}
	rest := n.otherReplicas(p)
	d.holders = nil
	if n.atlas.F >= 2 && d.r.IntN(2) == 0 {
		if h, ok := pickFrom(d.r, filterUp(c, rest)); ok {
			d.holders = []int{h}
			rest = slices.DeleteFunc(rest, func(i int) bool { return i == h })
		}
	}
	d.shapes = d.shapes[:0]
	for k, i := range append([]int{p}, d.holders...) {
		detail := fmt.Sprintf("view=%d op=%d commit=%d", in.View, in.Op, in.CommitMax)
		if k > 0 {
			detail = fmt.Sprintf("holder of r%d's suffix", p)
		}
		n.record(c, i, ActionDivergent, detail) // one per partition (KindHits)
		shape := sim.IsolateFrom(i, rest)
		c.Network.Partition(shape)
		d.shapes = append(d.shapes, shape)
	}
	d.far = d.r.IntN(4) == 0
	until := n.tick + divergentTicksMax
	if d.far {
		until = n.tick + divergentFarTicksMax
	}
	n.isolation = primaryIsolation{phase: isolationDivergent, old: p, oldView: in.View, oldOp: in.Op, until: until}
}

// stepDivergent moves the episode on: to the clash once both versions exist, to its end once
// a later view has started over them; each phase gives up after divergentTicksMax.
func (n *Nemesis) stepDivergent(c *sim.Cluster) {
	iso := &n.isolation
	switch iso.phase {
	case isolationDivergent:
		next, in, ok := n.primary(c, iso.old)
		if ok && !slices.Contains(n.divergent.holders, next) && in.View > iso.oldView && in.CommitMax > iso.oldOp &&
			n.oldHoldsSuffix(c) {
			if !n.divergent.far {
				n.clash(c, next, in)
				return
			}
			if n.farEnough(c, in) {
				n.rejoinFar(c, next, in)
				return
			}
		}
	case isolationDivergentClash:
		if p, in, ok := n.primary(c, iso.next); ok && in.View > iso.nextView {
			n.hits.Hit(MarkDivergentClash)
			n.endDivergent(c, fmt.Sprintf("view %d started with primary r%d", in.View, p))
			return
		}
	}
	if n.tick >= iso.until {
		n.endDivergent(c, "no view change in time"+n.divergentState(c))
	}
}

// divergentState prints the old primary's state and the others' primary, for the trace.
func (n *Nemesis) divergentState(c *sim.Cluster) string {
	iso := &n.isolation
	text := fmt.Sprintf("; r%d down", iso.old)
	if r := c.Replica(iso.old); r != nil {
		in := r.Inspect()
		text = fmt.Sprintf("; r%d at op=%d log_view=%d", iso.old, in.Op, in.LogView)
	}
	if p, in, ok := n.primary(c, iso.old); ok {
		text += fmt.Sprintf(", primary r%d at view=%d op=%d commit=%d", p, in.View, in.Op, in.CommitMax)
	}
	return text
}

// oldHoldsSuffix reports whether the old primary still holds ops above its op at the cut in
// its old log view: its version of the divergent ops.
func (n *Nemesis) oldHoldsSuffix(c *sim.Cluster) bool {
	iso := &n.isolation
	r := c.Replica(iso.old)
	if r == nil {
		return false
	}
	in := r.Inspect()
	return in.Op > iso.oldOp && in.LogView <= iso.oldView
}

// clash damages one version, cuts the new primary off, reconnects the old primary's side,
// and maybe delays one replica's messages and arms the crash after the old primary's cut.
func (n *Nemesis) clash(c *sim.Cluster, next int, in vsr.Inspection) {
	iso, d := &n.isolation, &n.divergent
	old := c.Replica(iso.old).Inspect()
	if old.CommitMax > iso.oldOp {
		// A heal reached the old primary while it was to be cut off, and it committed ops
		// above its cut with the others: they are not a divergent suffix, and damaging them
		// as one could take a committed op's last copies (swarm seed 2027821837: ops 22-24,
		// committed in view 5 after a heal, damaged as the old suffix; op 23 lost for good).
		n.endDivergent(c, fmt.Sprintf("r%d committed op %d past its cut at op %d: no divergent suffix",
			iso.old, old.CommitMax, iso.oldOp))
		return
	}
	n.hits.Hit(MarkDivergentVersions)
	oldOp := old.Op
	iso.phase, iso.next, iso.nextView, iso.until = isolationDivergentClash, next, in.View, n.tick+divergentTicksMax
	detail := fmt.Sprintf("view=%d commit=%d over r%d op=%d", in.View, in.CommitMax, iso.old, oldOp)
	for _, s := range d.shapes {
		c.Network.Reconnect(s)
	}
	d.shapes = d.shapes[:0]
	// The identity loss at the head comes first, with correlated damage on, when the next
	// view's primary can be its target (headIdentityLoss); it wants N's offer, late.
	damage, isolate, head := d.r.IntN(3), d.r.IntN(2) == 0, d.r.IntN(4) != 0
	head = head && n.o.DiskCorrelatedProbability > 0 && n.headTarget(c, next) >= 0
	if head {
		isolate = false
	}
	if isolate {
		shape := sim.IsolateFrom(next, n.otherReplicas(next))
		c.Network.Partition(shape)
		d.shapes = append(d.shapes, shape)
		n.record(c, next, ActionDivergentClash, detail)
	} else {
		// N's messages are held rather than dropped: the others elect a primary without its
		// do_view_change, which arrives late, followed by its answers (its offer of the
		// committed prepare of an op whose identity the chosen log lost, say).
		n.record(c, next, ActionDivergentClash, detail+" clogged")
		n.clogFrom(c, next, -1, divergentClogNextMin)
	}
	switch {
	case head && n.headIdentityLoss(c, next, oldOp):
	case damage == 0:
		n.damageOverlap(c, next, iso.oldOp+1, oldOp)
	case damage == 1:
		n.damageOldSuffix(c)
	}
	if d.r.IntN(2) == 0 {
		n.lateDVC(c, next)
	}
	if n.o.CrashAtIOProbability > 0 && d.r.IntN(2) == 0 {
		d.cutArmed, d.cut, d.cutReplica, d.cutUntil = true, disarmed, iso.old, n.tick+2*divergentTicksMax
	}
}

// damageOverlap damages, on one up replica of the new log other than its primary, up to
// divergentEntriesMax entries of ops the old primary holds another version of: with
// correlated damage on, each with a guarantor elsewhere (the correlated damage's rule); with
// only the atlas-bound corruption on, in segments the atlas lets faults strike there.
func (n *Nemesis) damageOverlap(c *sim.Cluster, next int, low, high uint64) {
	d, iso := &n.divergent, &n.isolation
	correlated := n.o.DiskCorrelatedProbability > 0
	if !correlated && n.o.DiskCorruptProbability == 0 {
		return
	}
	target, ok := pickFrom(d.r, filterUp(c, n.replicasWhere(c, func(i int) bool {
		r := c.Replica(i)
		return i != next && i != iso.old && !slices.Contains(d.holders, i) && r != nil && r.Inspect().LogView >= iso.nextView
	})))
	if !ok {
		return
	}
	var candidates []logEntry
	action := ActionDiskCorruptDivergent
	if correlated {
		candidates = n.tailEntries(newDiskView(c), target)
	} else {
		action = ActionDiskCorrupt
		disk := c.Nodes[target].Disk
		for k := low / vsr.CheckpointInterval; k <= high/vsr.CheckpointInterval; k++ {
			if name := segmentName(k); n.atlas.Allowed(target, name, 0) {
				candidates = append(candidates, scanEntries(name, disk.Pristine(name))...)
			}
		}
	}
	var chosen []logEntry
	for _, e := range candidates {
		if e.op >= low && e.op <= high && len(chosen) < divergentEntriesMax {
			chosen = append(chosen, e)
		}
	}
	n.strikeDivergent(c, target, chosen, false, action, "overlap")
}

// headIdentityLoss, with correlated damage on, takes the identity (entry and record) of the
// ops at the head of one replica T of the new log, from its head down to the old primary's op
// at the cut: ops the old primary holds another version of. The view change that follows, the
// new primary N's messages held, chooses T's log and can name none of them (no header above
// names them): the old primary offers its own prepares, T stays silent, and only N's offer,
// late, names the committed ones. Offers of different prepares must never prove one.
// Each entry needs a guarantor elsewhere (N, as the correlated damage's rule), and the move
// strikes only while T's head is at most divergentHeadEntriesMax ops above the old primary's
// op at the cut (the ops above the old primary's head it denies; those below, it offers).
// It reports whether it struck.
func (n *Nemesis) headIdentityLoss(c *sim.Cluster, next int, oldHead uint64) bool {
	iso := &n.isolation
	target := n.headTarget(c, next)
	if target < 0 {
		return false
	}
	head := c.Replica(target).Inspect().Op
	if oldHead <= iso.oldOp || head <= iso.oldOp || head-iso.oldOp > divergentHeadEntriesMax {
		return false
	}
	byOp := map[uint64]logEntry{}
	for _, e := range n.tailEntries(newDiskView(c), target) {
		if _, dup := byOp[e.op]; !dup {
			byOp[e.op] = e
		}
	}
	var chosen []logEntry
	for op := head; op > iso.oldOp; op-- {
		e, ok := byOp[op]
		if !ok {
			return false // a gap: an op below it would keep a named successor
		}
		chosen = append(chosen, e)
	}
	return n.strikeDivergent(c, target, chosen, true, ActionDiskCorruptDivergent, "head identity")
}

// headTarget is the replica the identity loss at the head may strike, or -1: the primary of
// the view after N's, up, holding the new log, neither N nor the old primary nor a holder. It
// chooses its own log in that view, asks the others for the ops it lost, and the old primary,
// a backup still holding its own log, offers its prepares of them.
func (n *Nemesis) headTarget(c *sim.Cluster, next int) int {
	iso, d := &n.isolation, &n.divergent
	_, outside := c.Configuration()
	target := vsr.PrimaryIndex(iso.nextView+1, n.swarm.Replicas, outside)
	r := c.Replica(target)
	if target == next || target == iso.old || slices.Contains(d.holders, target) || r == nil ||
		c.Nodes[target].Status() != sim.NodeUp || r.Inspect().LogView < iso.nextView {
		return -1
	}
	return target
}

// farEnough reports whether the others, under primary in, have gone a window of headers past
// the old primary (their start_view's headers begin above its suffix) and checkpointed above
// it, while the old primary can still hold their log (no state sync).
func (n *Nemesis) farEnough(c *sim.Cluster, in vsr.Inspection) bool {
	r := c.Replica(n.isolation.old)
	if r == nil {
		return false
	}
	old := r.Inspect()
	return in.CheckpointOp > old.Op && in.Op > old.Op+vsr.ViewHeadersMax && in.Op+vsr.PipelinePrepareMax < old.CommitMin+vsr.LogSlotsMax
}

// rejoinFar lets the old primary rejoin the others once they are far enough past it: it
// installs their log, whose headers begin above its own stale suffix, so it keeps that suffix
// on disk unverified and repairs it along the hash chain, top down. It is armed to crash at a
// drawn log sync of that repair (with crashes at I/O points on): its recovery meets a disk
// where the newer log's entries stand above stale ones of its old view.
//
// Half the time it runs the clash instead (a view change as it rejoins, N cut off or held):
// a primary-elect that far behind the chosen log keeps stale ops below its lowest header.
// Half the armed crashes strike at the sync after the repair of the op two above its commit:
// only the lowest stale op is then left under the newer ones.
func (n *Nemesis) rejoinFar(c *sim.Cluster, next int, in vsr.Inspection) {
	d, iso := &n.divergent, &n.isolation
	n.hits.Hit(MarkDivergentFar)
	if d.r.IntN(2) == 0 {
		n.clash(c, next, in)
		return
	}
	n.hits.Hit(MarkDivergentVersions)
	old := c.Replica(iso.old).Inspect()
	if n.o.CrashAtIOProbability > 0 {
		d.cutArmed, d.cutReplica, d.cutUntil = true, iso.old, n.tick+2*divergentTicksMax
		d.cut = countdown{replica: iso.old, left: 1 + d.r.IntN(divergentRepairSyncsMax)}
		d.repairCrash, d.repairAtFloor = true, d.r.IntN(2) == 0
		if d.repairAtFloor {
			d.cut = disarmed // armed by onDivergentEvent
		}
	}
	n.endDivergent(c, fmt.Sprintf("far: r%d at op=%d checkpoint=%d view=%d, r%d at op=%d", next, in.Op, in.CheckpointOp,
		in.View, iso.old, old.Op))
}

// damageOldSuffix damages up to divergentEntriesMax of the old primary's suffix entries (ops
// above its op at the cut: prepared while cut off, never committed) and reboots it, so that it
// meets them as it rejoins. With correlated damage on, half the time with their records
// (their identity lost); with only the atlas-bound corruption on, entries alone, in segments
// the atlas lets faults strike on the old primary.
func (n *Nemesis) damageOldSuffix(c *sim.Cluster) {
	d, iso := &n.divergent, &n.isolation
	correlated := n.o.DiskCorrelatedProbability > 0
	if !correlated && n.o.DiskCorruptProbability == 0 {
		return
	}
	disk := c.Nodes[iso.old].Disk
	var chosen []logEntry
	n.advanceSegmentHigh(c)
	for k := iso.oldOp / vsr.CheckpointInterval; k <= n.segmentHigh && len(chosen) < divergentEntriesMax; k++ {
		name := segmentName(k)
		if !correlated && !n.atlas.Allowed(iso.old, name, 0) {
			continue
		}
		for _, e := range scanEntries(name, disk.Pristine(name)) {
			if e.op > iso.oldOp && len(chosen) < divergentEntriesMax && !entryDamaged(disk.Faults(), e) {
				chosen = append(chosen, e)
			}
		}
	}
	action := ActionDiskCorruptDivergent
	if !correlated {
		action = ActionDiskCorrupt
	}
	n.strikeDivergent(c, iso.old, chosen, correlated && d.r.IntN(2) == 0, action, "old suffix")
}

// strikeDivergent damages a sector of each entry (and its record's sector with identity),
// traces it and reboots the replica if the availability bound allows; it reports whether it
// damaged any.
func (n *Nemesis) strikeDivergent(c *sim.Cluster, target int, entries []logEntry, identity bool, action, what string) bool {
	d := &n.divergent
	disk := c.Nodes[target].Disk
	var struck []string
	for _, e := range entries {
		sector := e.offset + storage.SectorSize*d.r.Int64N(e.size/storage.SectorSize)
		text := fmt.Sprintf("op %d %s@%d", e.op, e.name, sector)
		if identity {
			record, ok := recordOf(disk.Pristine(e.name), e)
			if !ok {
				continue
			}
			disk.CorruptSector(e.name, record)
			text += fmt.Sprintf("+record@%d", record)
		}
		disk.CorruptSector(e.name, sector)
		struck = append(struck, text)
	}
	if len(struck) == 0 {
		return false
	}
	// A reboot at once, as the identity loss's, so that recovery reads the damage now.
	reboot := slices.Contains(n.mayTakeDown(c), target)
	n.record(c, target, action, fmt.Sprintf("%s %s reboot=%t", what, strings.Join(struck, ","), reboot))
	n.hits.Hit(MarkDivergentDamaged)
	if reboot {
		c.CrashReplica(target)
		n.stableUntil[target] = n.tick + uint64(n.o.ReplicaStabilityTicks)
		c.StartReplica(target)
	}
	return true
}

// lateDVC clogs every path out of one up replica other than the new primary, for a while: its
// do_view_change, nacks and repairs reach the view change's primary late.
func (n *Nemesis) lateDVC(c *sim.Cluster, next int) {
	d := &n.divergent
	from, ok := pickFrom(d.r, filterUp(c, n.otherReplicas(next)))
	if !ok {
		return
	}
	n.clogFrom(c, from, next, divergentClogMin)
}

// clogFrom clogs every path from replica from to the other replicas but skip, for a
// log-uniform duration from low to divergentClogMax, and records it.
func (n *Nemesis) clogFrom(c *sim.Cluster, from, skip int, low sim.Duration) {
	d := &n.divergent
	span := float64(divergentClogMax) / float64(low)
	dur := sim.Duration(float64(low) * math.Pow(span, d.r.Float64()))
	for to := 0; to < n.swarm.Replicas; to++ {
		if to != from && to != skip {
			c.Network.Clog(from, to, dur)
			d.clogs++
		}
	}
	n.record(c, from, ActionClogDivergent, fmt.Sprintf("out of r%d for %s", from, dur))
	n.hits.Hit(MarkDivergentLateDVC)
}

// onDivergentCompletion crashes the old primary at the drawn completion after its next log
// truncation, when armed and the availability bound allows.
func (n *Nemesis) onDivergentCompletion(c *sim.Cluster, replica int, io sim.IOCompletion) bool {
	d := &n.divergent
	if !d.cutArmed || n.healed || replica != d.cutReplica {
		return false
	}
	if d.repairCrash {
		if io.Op != sim.IOSync || !strings.HasPrefix(io.Name, logFilePrefix) || !d.cut.tick(replica) {
			return false
		}
		d.cutArmed, d.repairCrash, d.repairAtFloor = false, false, false
		if !slices.Contains(n.mayTakeDown(c), replica) ||
			!n.crashAtCompletion(c, replica, io, ActionCrashDivergent, "during its repair of a far divergent suffix", MarkDivergentCrashInRepair) {
			return false
		}
		d.restart = replica
		return true
	}
	if d.cut.replica < 0 {
		if io.Op == sim.IOTruncate && io.Err == nil && strings.HasPrefix(io.Name, logFilePrefix) &&
			slices.Contains(n.mayTakeDown(c), replica) {
			d.cut = countdown{replica: replica, left: 1 + d.r.IntN(cutCrashIOMax)}
		}
		return false
	}
	if !d.cut.tick(replica) {
		return false
	}
	d.cutArmed = false
	if !n.crashAtCompletion(c, replica, io, ActionCrashDivergent, "after cutting its divergent suffix", MarkDivergentCrashAfterCut) {
		return false
	}
	d.restart = replica
	return true
}

// onDivergentEvent arms the crash at the floor (repairAtFloor) when the rejoining old primary
// repairs the op two above its commit.
func (n *Nemesis) onDivergentEvent(c *sim.Cluster, e vsr.Event) {
	d := &n.divergent
	if !d.repairAtFloor || d.cut.replica >= 0 || e.Replica != d.cutReplica || e.Kind != vsr.EventRepair {
		return
	}
	if r := c.Replica(e.Replica); r != nil && e.Op == r.Inspect().CommitMin+2 {
		d.cut = countdown{replica: e.Replica, left: 1}
	}
}

// restartDivergent restarts the replica the episode crashed, at the step after its crash.
func (n *Nemesis) restartDivergent(c *sim.Cluster) {
	d := &n.divergent
	if d.restart < 0 || c.Nodes[d.restart].Status() != sim.NodeCrashed {
		d.restart = -1
		return
	}
	i := d.restart
	d.restart = -1
	n.record(c, i, ActionRestart, "after its divergent crash")
	n.stableUntil[i] = n.tick + uint64(n.o.ReplicaStabilityTicks)
	c.StartReplica(i)
}

// endDivergent reconnects what the episode cut and disarms its crash.
func (n *Nemesis) endDivergent(c *sim.Cluster, why string) {
	d := &n.divergent
	node := n.isolation.old
	if n.isolation.phase == isolationDivergentClash {
		node = n.isolation.next
	}
	for _, s := range d.shapes {
		c.Network.Reconnect(s)
	}
	d.shapes, d.holders = d.shapes[:0], nil
	n.record(c, node, ActionReconnect, "divergent: "+why)
	n.isolation = primaryIsolation{}
}

// healDivergent forgets the episode's partitions and armed crash at the heal (the network
// heal ends the cuts; the heal restarts every crashed replica).
func (n *Nemesis) healDivergent() {
	d := &n.divergent
	d.shapes, d.holders, d.cutArmed, d.repairCrash, d.repairAtFloor, d.cut, d.restart = nil, nil, false, false, false, disarmed, -1
}

// filterUp keeps the replicas whose node is up and running a replica.
func filterUp(c *sim.Cluster, replicas []int) []int {
	var out []int
	for _, i := range replicas {
		if c.Nodes[i].Status() == sim.NodeUp && c.Replica(i) != nil {
			out = append(out, i)
		}
	}
	return out
}

// pickFrom draws one of candidates from r; it draws nothing when there are none.
func pickFrom(r *rand.Rand, candidates []int) (int, bool) {
	if len(candidates) == 0 {
		return 0, false
	}
	return candidates[r.IntN(len(candidates))], true
}

// divergentClogs is how many paths the episode clogged (0 without a nemesis).
func (n *Nemesis) divergentClogs() uint64 {
	if n == nil {
		return 0
	}
	return n.divergent.clogs
}
