package faults

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"

	"vopr/cluster/kv"
	"vopr/internal/assert"
	"vopr/internal/coverage"
	"vopr/sim"
)

// The nemesis is the fault phase's schedule of explicit faults (Jepsen's nemesis, VOPR's
// crash/restart/pause loop): once per tick it may take each of its actions, with the
// swarm's per-tick probabilities, on a target it draws. The random faults of the network and
// the disks (loss, clogs, random partitions, sector faults...) run on their own inside sim;
// the nemesis adds those that need a decision about the cluster as a whole.
//
// Rules:
//   - Availability: at most Atlas.UnavailableMax replicas (f, unless a scenario asks
//     otherwise) are crashed, paused or have a filled disk at once. A replica that
//     fail-stopped on its own counts too, so the nemesis never adds to it beyond the bound.
//   - Stability: a replica the nemesis restarted or resumed is left alone for
//     ReplicaStabilityTicks ticks, so that it gets a chance to recover before the next blow.
//   - Data: a targeted corruption strikes only a sector the atlas allows on that replica.
//   - Trace: every action is one LevelShort record of kind "nemesis", whose text starts with
//     the action's name, and is counted (Counts), so that a batch shows what was reached.
//   - Order: actions are tried in a fixed order and a probability of zero draws nothing, so
//     the schedule depends only on the seed and the cluster's state.

// Action names, as counted by Counts and printed in the trace.
const (
	ActionCrash         = "crash"
	ActionRestart       = "restart"
	ActionUpgrade       = "upgrade"
	ActionPause         = "pause"
	ActionUnpause       = "unpause"
	ActionIsolate       = "partition.isolate"
	ActionSplit         = "partition.split"
	ActionAsymmetric    = "partition.asymmetric"
	ActionHeal          = "heal"
	ActionClog          = "clog"
	ActionClockStep     = "clock.step"
	ActionClockDrift    = "clock.drift"
	ActionClockPeriodic = "clock.periodic"
	ActionDiskSlow      = "disk.slow"
	ActionDiskFast      = "disk.fast"
	ActionDiskCorrupt   = "disk.corrupt"
	ActionDiskFill      = "disk.fill"
	ActionDiskUnfill    = "disk.unfill"
)

const (
	// segmentWindowMax is how many of the newest log segments a targeted corruption
	// chooses from.
	segmentWindowMax = 8
	// clockPeriodMaxSecond bounds the period of a periodic clock error the nemesis sets.
	clockPeriodMaxSecond = 30
)

// Actions returns every nemesis action name, sorted.
func Actions() []string {
	a := []string{ActionCrash, ActionRestart, ActionPause, ActionUnpause, ActionIsolate,
		ActionSplit, ActionAsymmetric, ActionHeal, ActionClog, ActionClockStep,
		ActionClockDrift, ActionClockPeriodic, ActionDiskSlow, ActionDiskFast,
		ActionDiskCorrupt, ActionDiskFill, ActionDiskUnfill,
		ActionPrimaryIsolate, ActionPrimaryNext, ActionReconnect, ActionRing, ActionBridge,
		ActionCrashSuperblock, ActionCrashStartView, ActionCrashCheckpoint, ActionCrashAfterCut, ActionCrashInRecovery, ActionCrashAfterSyncError,
		ActionDiskCorruptTail, ActionDiskCorruptWhileDown,
		ActionClockPrimaryStep, ActionClockPrimaryDrift, ActionClockPrimaryOffset, ActionPrimaryBehind,
		ActionDiskCorruptSyncedCheckpoint, ActionDiskMisdirectRecord}
	slices.Sort(a)
	return a
}

// Nemesis injects the fault phase's explicit faults into one cluster.
//
// Invariants: filled[i] iff replica i's capacity was lowered by the nemesis and not yet
// restored; slow[i] iff its disk was slowed and not yet brought back; after Heal, Step is
// never called again.
type Nemesis struct {
	r     *rand.Rand
	swarm Swarm
	o     NemesisOptions
	atlas *Atlas

	tick        uint64
	stableUntil []uint64 // per replica: no crash, pause or fill before this tick
	filled      []bool
	slow        []bool
	segmentHigh uint64 // the highest log segment seen on any disk
	// crashArmedUntil > 0: a crash is due, waiting for unsynced writes until this tick.
	crashArmedUntil uint64
	counts          map[string]uint64
	healed          bool

	// The aimed moves (nemesis_aimed.go): the primary isolation under way, the ring or
	// bridge in place until shapeUntil (nil if none), the armed crash at an I/O point, and
	// the coverage marks the moves reached.
	isolation  primaryIsolation
	watch      behindWatch      // the primary left behind, after its reconnect
	synced     syncedCheckpoint // a state sync the synced checkpoint loss is armed for
	shape      *sim.Shape
	shapeUntil uint64
	ioCrash    ioCrash
	cut        cutCrash       // the crash after a log cut (nemesis_cut.go)
	syncError  syncErrorCrash // the crash after a failed sync (nemesis_sync_error.go)
	cutNoSpace cutNoSpace     // the refused marks of a truncation (nemesis_cut_no_space.go)
	recovery   countdown      // the crash during recovery (nemesis_recovery_crash.go)
	hits       coverage.Hits
	gone       map[int]bool // nodes lost for good (Forget): the heal leaves them down
	// leaving is the replica a membership change is taking out (SetLeaving), -1 if none:
	// its copies guarantee nothing from then on.
	leaving int
	// firstPrepareSeen: the first prepare of view 0 was sent (nemesis_first_prepare.go).
	firstPrepareSeen bool
	// divergent is the divergent episode's own state (nemesis_divergent.go).
	divergent divergentEpisode
	// long is the long pause's plan and state (nemesis_long_pause.go); off unless armed.
	long longPause
}

// NewNemesis returns the nemesis of swarm s, drawing from r (sim.Stream(seed, "nemesis")),
// within atlas.
func NewNemesis(r *rand.Rand, s Swarm, atlas *Atlas) *Nemesis {
	assert.That(r != nil, "nemesis: nil rand")
	assert.That(atlas != nil, "nemesis: nil atlas")
	assert.That(atlas.Replicas == s.Replicas, "nemesis: atlas of another cluster size")
	err := s.Nemesis.Validate()
	assert.Thatf(err == nil, "%v", err)
	return &Nemesis{
		r: r, swarm: s, o: s.Nemesis, atlas: atlas, leaving: -1, cut: cutCrash{at: disarmed},
		syncError: syncErrorCrash{at: disarmed},
		recovery:  disarmed, divergent: divergentEpisode{cut: disarmed, restart: -1},
		stableUntil: make([]uint64, s.Replicas),
		filled:      make([]bool, s.Replicas),
		slow:        make([]bool, s.Replicas),
		counts:      map[string]uint64{},
	}
}

// Marks returns the coverage marks the nemesis's moves reached (marks.go).
func (n *Nemesis) Marks() *coverage.Hits { return &n.hits }

// Counts returns how many times each action was taken (a copy; absent means never).
func (n *Nemesis) Counts() map[string]uint64 { return maps.Clone(n.counts) }

// CountsString prints the counts sorted by action, for reports.
func (n *Nemesis) CountsString() string {
	var b strings.Builder
	for i, a := range slices.Sorted(maps.Keys(n.counts)) {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%d", a, n.counts[a])
	}
	return b.String()
}

// Unavailable counts the replicas that cannot serve now: crashed (by the nemesis or by a
// fail-stop), paused, or with a disk the nemesis filled.
func (n *Nemesis) Unavailable(c *sim.Cluster) int {
	count := 0
	for i := 0; i < n.swarm.Replicas; i++ {
		if c.Nodes[i].Status() != sim.NodeUp || n.filled[i] {
			count++
		}
	}
	assert.That(count <= n.swarm.Replicas, "nemesis: more unavailable replicas than replicas")
	return count
}

// Step is one tick of the fault phase: call it once per sim.TickInterval of virtual time.
func (n *Nemesis) Step(c *sim.Cluster) {
	assert.That(!n.healed, "nemesis: step after heal")
	assert.That(c.ReplicaCount() == n.swarm.Replicas, "nemesis: cluster of another size")
	n.tick++
	n.stepReplicas(c)
	n.stepNetwork(c)
	n.stepClocks(c)
	n.stepDisks(c)
	n.stepAimed(c)
	n.stepStandbys(c)
	n.stepLongPause(c)
}

func (n *Nemesis) stepReplicas(c *sim.Cluster) {
	o := &n.o
	if sim.Chance(n.r, o.ReplicaRestartProbability) {
		if i, ok := n.pick(n.replicasWhere(c, func(i int) bool {
			return c.Nodes[i].Status() == sim.NodeCrashed
		})); ok {
			n.record(c, i, ActionRestart, "")
			n.stableUntil[i] = n.tick + uint64(o.ReplicaStabilityTicks)
			n.maybeUpgrade(c, i)
			n.armRecoveryCrash(i)
			c.StartReplica(i)
		}
	}
	if sim.Chance(n.r, o.ReplicaUnpauseProbability) {
		if i, ok := n.pick(n.replicasWhere(c, func(i int) bool {
			return c.Nodes[i].Status() == sim.NodePaused && !n.longPaused(i)
		})); ok {
			n.record(c, i, ActionUnpause, "")
			n.stableUntil[i] = n.tick + uint64(o.ReplicaStabilityTicks)
			c.Nodes[i].Unpause()
		}
	}
	if sim.Chance(n.r, o.ReplicaCrashProbability) && n.crashArmedUntil == 0 {
		n.crashArmedUntil = n.tick + uint64(o.ReplicaCrashUnsyncedTicks)
	}
	if n.crashArmedUntil > 0 {
		n.maybeCrash(c)
	}
	if sim.Chance(n.r, o.ReplicaPauseProbability) {
		if i, ok := n.pick(n.mayTakeDown(c)); ok {
			n.record(c, i, ActionPause, "")
			c.Nodes[i].Pause()
		}
	}
}

// maybeUpgrade installs the next release's binary on crashed replica i, at the swarm's
// rate: replicas upgrade one restart at a time, never back (rollback is rolling_upgrade's).
func (n *Nemesis) maybeUpgrade(c *sim.Cluster, i int) {
	release := max(c.Release(i), kv.ReleaseBase)
	if release < kv.ReleaseLatest && sim.Chance(n.r, n.o.ReplicaUpgradeProbability) {
		n.record(c, i, ActionUpgrade, fmt.Sprintf("release %d", release+1))
		c.SetRelease(i, release+1)
	}
}

// maybeCrash carries out an armed crash: at once on a replica with unsynced log writes if
// there is one, else on any replica the bound allows once the wait is over. The crash is
// called off if no replica may be taken down by then.
func (n *Nemesis) maybeCrash(c *sim.Cluster) {
	candidates := n.mayTakeDown(c)
	var unsynced []int
	for _, i := range candidates {
		if n.unsynced(c, i) {
			unsynced = append(unsynced, i)
		}
	}
	detail := "with unsynced writes"
	if len(unsynced) == 0 {
		if n.tick < n.crashArmedUntil {
			return // wait for a write between its completion and its sync
		}
		unsynced, detail = candidates, ""
	}
	n.crashArmedUntil = 0
	if i, ok := n.pick(unsynced); ok {
		n.record(c, i, ActionCrash, detail)
		c.CrashReplica(i)
	}
}

// unsynced reports whether replica i's newest log segment has writes not yet synced (it is
// longer than its durable image), which a crash now may tear or lose.
func (n *Nemesis) unsynced(c *sim.Cluster, i int) bool {
	n.advanceSegmentHigh(c)
	name := segmentName(n.segmentHigh)
	disk := c.Nodes[i].Disk
	size, err := disk.Size(name)
	return err == nil && size > disk.DurableSize(name)
}

// mayTakeDown lists the replicas the nemesis may make unavailable now: none if the atlas's
// bound is reached, else the up, unfilled replicas past their stability period.
func (n *Nemesis) mayTakeDown(c *sim.Cluster) []int {
	if !n.atlas.MayMakeUnavailable(n.Unavailable(c)) {
		return nil
	}
	return n.replicasWhere(c, func(i int) bool {
		return c.Nodes[i].Status() == sim.NodeUp && !n.filled[i] && n.tick >= n.stableUntil[i]
	})
}

func (n *Nemesis) replicasWhere(c *sim.Cluster, ok func(i int) bool) []int {
	var out []int
	for i := 0; i < n.swarm.Replicas; i++ {
		if ok(i) && !n.gone[i] {
			out = append(out, i)
		}
	}
	return out
}

// pick draws one of candidates; it draws nothing when there are none.
func (n *Nemesis) pick(candidates []int) (int, bool) {
	if len(candidates) == 0 {
		return 0, false
	}
	return candidates[n.r.IntN(len(candidates))], true
}

// record traces and counts one action. The text starts with the action's name.
func (n *Nemesis) record(c *sim.Cluster, node int, action, detail string) {
	n.counts[action]++
	text := action
	if node >= 0 {
		text += fmt.Sprintf(" r%d", node)
	}
	if detail != "" {
		text += " " + detail
	}
	c.Trace.Emitf(sim.LevelShort, node, "nemesis", "%s", text)
}

func (n *Nemesis) stepNetwork(c *sim.Cluster) {
	if sim.Chance(n.r, n.o.HealProbability) && n.partitioned(c) {
		n.record(c, -1, ActionHeal, "")
		c.Network.Heal()
	}
	if sim.Chance(n.r, n.o.PartitionProbability) {
		n.partition(c)
	}
	if sim.Chance(n.r, n.o.ClogProbability) {
		// A path to or from a replica: clients never talk to each other.
		nodes := len(c.Nodes)
		from := n.r.IntN(n.swarm.Replicas)
		to := (from + 1 + n.r.IntN(nodes-1)) % nodes
		if n.r.IntN(2) == 1 {
			from, to = to, from
		}
		d := sim.ExpDuration(n.r, sim.Nanosecond, n.o.ClogDurationMean)
		assert.That(from != to, "nemesis: clog of a loopback path")
		n.record(c, from, ActionClog, fmt.Sprintf("%d->%d for %s", from, to, d))
		c.Network.Clog(from, to, d)
	}
}

// partitioned reports whether any path is cut (explicitly or by a random partition).
func (n *Nemesis) partitioned(c *sim.Cluster) bool {
	for from := range c.Nodes {
		for to := range c.Nodes {
			if from != to && !c.Network.Connected(from, to) {
				return true
			}
		}
	}
	return false
}

// partition isolates one replica, splits the nodes in two (replicas on both sides, clients
// anywhere), or cuts one direction between two groups of replicas.
func (n *Nemesis) partition(c *sim.Cluster) {
	replicas := n.swarm.Replicas
	mode := n.r.IntN(3)
	if replicas < 2 {
		mode = 0 // a lone replica can only be isolated (from its clients)
	}
	switch mode {
	case 0:
		i := n.r.IntN(replicas)
		n.record(c, i, ActionIsolate, "")
		c.Network.Isolate(i)
	case 1:
		side := n.replicaSides(len(c.Nodes))
		for i := replicas; i < len(c.Nodes); i++ {
			side[i] = n.r.IntN(2) == 1
		}
		n.record(c, -1, ActionSplit, sidesText(side))
		c.Network.SplitInTwo(side)
	default:
		side := n.replicaSides(len(c.Nodes))
		n.record(c, -1, ActionAsymmetric, sidesText(side[:replicas])+" one way")
		for from := 0; from < replicas; from++ {
			for to := 0; to < replicas; to++ {
				if side[from] && !side[to] {
					c.Network.Cut(from, to)
				}
			}
		}
	}
}

// replicaSides draws a side for every replica with both sides non-empty (uniform size of
// the first side, then a shuffle); entries past the replicas are false.
func (n *Nemesis) replicaSides(nodes int) []bool {
	replicas := n.swarm.Replicas
	assert.That(replicas >= 2, "nemesis: splitting fewer than two replicas")
	size := 1 + n.r.IntN(replicas-1)
	order := n.r.Perm(replicas)
	side := make([]bool, nodes)
	for k, i := range order {
		side[i] = k < size
	}
	return side
}

// sidesText prints sides as "0,2|1,3".
func sidesText(side []bool) string {
	var a, b []string
	for i, s := range side {
		if s {
			a = append(a, fmt.Sprint(i))
		} else {
			b = append(b, fmt.Sprint(i))
		}
	}
	return strings.Join(a, ",") + "|" + strings.Join(b, ",")
}

func (n *Nemesis) stepClocks(c *sim.Cluster) {
	o := &n.o
	replicas := n.swarm.Replicas
	if sim.Chance(n.r, o.ClockStepProbability) {
		i := n.r.IntN(replicas)
		delta := 1 + n.r.Int64N(max(o.ClockStepNsMax, 1))
		if n.r.IntN(2) == 0 {
			delta = -delta
		}
		n.record(c, i, ActionClockStep, "by "+sim.Duration(delta).String())
		c.Nodes[i].Clock.Step(delta)
	}
	if sim.Chance(n.r, o.ClockDriftProbability) {
		i := n.r.IntN(replicas)
		ppm := n.r.Int64N(2*o.ClockDriftPPMMax+1) - o.ClockDriftPPMMax
		n.record(c, i, ActionClockDrift, fmt.Sprintf("to %dppm", ppm))
		c.Nodes[i].Clock.SetDrift(ppm)
	}
	if sim.Chance(n.r, o.ClockPeriodicProbability) {
		i := n.r.IntN(replicas)
		amplitude := n.r.Int64N(o.ClockPeriodicNsMax + 1)
		period := sim.Duration(1+n.r.IntN(clockPeriodMaxSecond)) * sim.Second
		n.record(c, i, ActionClockPeriodic, fmt.Sprintf("to %s over %s",
			sim.Duration(amplitude), period))
		c.Nodes[i].Clock.SetPeriodic(amplitude, period)
	}
}

func (n *Nemesis) stepDisks(c *sim.Cluster) {
	o := &n.o
	if sim.Chance(n.r, o.DiskFastProbability) {
		if i, ok := n.pick(n.replicasWhere(c, func(i int) bool { return n.slow[i] })); ok {
			n.record(c, i, ActionDiskFast, "")
			n.slow[i] = false
			c.Nodes[i].Disk.SetSlow(n.swarm.Disk.SlowMultiplier)
		}
	}
	if sim.Chance(n.r, o.DiskSlowProbability) {
		if i, ok := n.pick(n.replicasWhere(c, func(i int) bool { return !n.slow[i] })); ok {
			multiplier := 2 + n.r.IntN(o.DiskSlowMultiplierMax-1)
			n.record(c, i, ActionDiskSlow, fmt.Sprintf("x%d", multiplier))
			n.slow[i] = true
			c.Nodes[i].Disk.SetSlow(multiplier)
		}
	}
	if sim.Chance(n.r, o.DiskCorruptProbability) {
		n.corrupt(c)
	}
	if sim.Chance(n.r, o.DiskUnfillProbability) {
		if i, ok := n.pick(n.replicasWhere(c, func(i int) bool { return n.filled[i] })); ok {
			n.record(c, i, ActionDiskUnfill, "")
			n.filled[i] = false
			c.Nodes[i].Disk.SetCapacity(n.swarm.Disk.Capacity)
		}
	}
	if sim.Chance(n.r, o.DiskFillProbability) {
		if i, ok := n.pick(n.mayTakeDown(c)); ok {
			disk := c.Nodes[i].Disk
			capacity := disk.Usage().Used + n.r.Int64N(DiskFillSlackMax+1)
			n.record(c, i, ActionDiskFill, fmt.Sprintf("capacity %d", capacity))
			n.filled[i] = true
			disk.SetCapacity(capacity)
		}
	}
}

// corruptTarget is a sector a targeted corruption may strike.
type corruptTarget struct {
	replica int
	name    string
	size    int64
}

// corrupt flips a bit in a random sector of one of the newest log segments of a replica,
// chosen among the (replica, segment) pairs the atlas allows. With f = 0 there are none.
func (n *Nemesis) corrupt(c *sim.Cluster) {
	n.advanceSegmentHigh(c)
	low := n.segmentHigh - min(n.segmentHigh, segmentWindowMax-1)
	var targets []corruptTarget
	for i := 0; i < n.swarm.Replicas; i++ {
		disk := c.Nodes[i].Disk
		for k := low; k <= n.segmentHigh; k++ {
			name := segmentName(k)
			if size, err := disk.Size(name); err == nil && size > 0 && n.atlas.Allowed(i, name, 0) {
				targets = append(targets, corruptTarget{replica: i, name: name, size: size})
			}
		}
	}
	if len(targets) == 0 {
		return
	}
	t := targets[n.r.IntN(len(targets))]
	offset := n.r.Int64N(t.size)
	assert.That(n.atlas.Allowed(t.replica, t.name, offset), "nemesis: corruption outside the atlas")
	n.record(c, t.replica, ActionDiskCorrupt, fmt.Sprintf("%s@%d", t.name, offset))
	c.Nodes[t.replica].Disk.CorruptSector(t.name, offset)
}

// advanceSegmentHigh moves segmentHigh up to the highest segment present on any disk
// (segments are numbered from 0 and created in order, so it only needs to look ahead).
func (n *Nemesis) advanceSegmentHigh(c *sim.Cluster) {
	for step := 0; step < 1<<16; step++ {
		name := segmentName(n.segmentHigh + 1)
		found := false
		for i := 0; i < n.swarm.Replicas && !found; i++ {
			_, err := c.Nodes[i].Disk.Size(name)
			found = err == nil
		}
		if !found {
			return
		}
		n.segmentHigh++
	}
}

// Heal ends the fault phase: the network heals and its random faults stop, clogs end,
// disks' random faults stop and their speed and capacity come back, clocks are
// resynchronised, and every replica is restarted or resumed. Step must not be called after.
func (n *Nemesis) Heal(c *sim.Cluster) {
	assert.That(!n.healed, "nemesis: healed twice")
	n.healed = true
	n.isolation, n.shape, n.ioCrash = primaryIsolation{}, nil, ioCrash{} // the network heal ends their cuts
	n.watch, n.synced = behindWatch{}, syncedCheckpoint{}
	n.healDivergent()
	c.Trace.Emit(sim.LevelShort, -1, "nemesis", "heal_all: end of the fault phase")
	c.Network.SetFaultsEnabled(false)
	c.Network.Heal()
	// A path capacity drawn small is a fault too: the liveness phase runs on a network
	// with room for a replica's catch-up traffic.
	options := c.Network.Options()
	options.PathMaximumCapacity = max(options.PathMaximumCapacity, sim.DefaultPathMaximumCapacity)
	assert.That(c.Network.SetOptions(options) == nil, "nemesis: restoring the path capacity")
	for from := range c.Nodes {
		for to := range c.Nodes {
			if from != to {
				c.Network.Unclog(from, to)
			}
		}
	}
	for _, node := range c.Nodes {
		node.Clock.SetOffset(0)
		node.Clock.SetDrift(0)
		node.Clock.SetPeriodic(0, 0)
	}
	for i := 0; i < n.swarm.Replicas; i++ {
		disk := c.Nodes[i].Disk
		disk.SetFaultsEnabled(false)
		disk.SetSlow(n.swarm.Disk.SlowMultiplier)
		disk.SetCapacity(n.swarm.Disk.Capacity)
		n.slow[i], n.filled[i] = false, false
	}
	for i := 0; i < n.swarm.Replicas; i++ {
		switch c.Nodes[i].Status() {
		case sim.NodeCrashed:
			if n.gone[i] {
				continue // lost with its region (Forget)
			}
			c.StartReplica(i)
		case sim.NodePaused:
			c.Nodes[i].Unpause()
		}
	}
	n.healStandbys(c)
}
