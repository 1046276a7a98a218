package faults

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"vopr/cluster/kv"
	"vopr/cluster/vsr"
	"vopr/internal/assert"
	"vopr/sim"
)

// Swarm testing (Groce et al. 2012; TigerBeetle's options_swarm): rather than one fixed mix
// of faults, each seed draws its own environment. Every fault kind is switched on or off
// with a per-seed density, and the rate of each kind that is on is drawn from its range, so
// that across a batch some seeds hammer one fault alone and others combine rare ones.
//
// The draws are made in a fixed order and every rate is drawn whether or not its kind is
// on, so switching one kind on or off never reshuffles the others.

// Bounds of the swarm's draws. The probabilities stay low enough that a cluster under every
// fault at once can usually still commit (loss at most 20%, say); the liveness phase proves
// it does once the faults stop.
const (
	ClientsMax = 8
	// StandbysMax is the most standbys a seed draws (the topologies: 0 to 2).
	StandbysMax              = 2
	PacketLossProbabilityMax = 0.2
	DiskCapacity             = 256 << 20
	// DiskFillSlackMax is the most free space the nemesis leaves on a disk it fills.
	DiskFillSlackMax = 256 << 10
	// crashUnsyncedTicks is how long a crash waits for unsynced writes when torn or lost
	// writes are on.
	crashUnsyncedTicks = 50
)

// replicaWeights weights the replica counts 1..5 in favour of 3 and 5, the counts clusters
// run with (index i is the weight of i+1 replicas).
var replicaWeights = [...]int{1, 1, 4, 1, 3}

// NemesisOptions are the nemesis's rates: each probability is per tick of the fault phase
// (sim.TickInterval of virtual time), and zero switches the action off.
type NemesisOptions struct {
	// Crash an up replica; restart a crashed one.
	ReplicaCrashProbability   float64
	ReplicaRestartProbability float64
	// ReplicaUpgradeProbability: a restart installs the next release's binary first.
	ReplicaUpgradeProbability float64
	// Pause an up replica; resume a paused one.
	ReplicaPauseProbability   float64
	ReplicaUnpauseProbability float64
	// ReplicaStabilityTicks: a replica restarted or resumed is left alone (not crashed,
	// paused or filled) for this many ticks, so that it gets a chance to recover.
	ReplicaStabilityTicks int
	// ReplicaCrashUnsyncedTicks: a crash waits up to this many ticks for a replica with
	// unsynced log writes, so that torn and lost writes get their turn (a crash between a
	// write and its sync is where durability bugs live); 0 crashes at once.
	ReplicaCrashUnsyncedTicks int

	// Partition the network (isolate one replica, split in two, or an asymmetric split);
	// heal every partition.
	PartitionProbability float64
	HealProbability      float64
	// Clog one path for max(1ns, Exp(ClogDurationMean)).
	ClogProbability  float64
	ClogDurationMean sim.Duration

	// Step a replica's wall clock by up to ±ClockStepNsMax.
	ClockStepProbability float64
	ClockStepNsMax       int64
	// Set a replica's drift to a value in ±ClockDriftPPMMax.
	ClockDriftProbability float64
	ClockDriftPPMMax      int64
	// Set a replica's periodic error to an amplitude up to ClockPeriodicNsMax (0 stops it).
	ClockPeriodicProbability float64
	ClockPeriodicNsMax       int64

	// Slow a replica's disk down by 2..DiskSlowMultiplierMax; bring a slow one back.
	DiskSlowProbability   float64
	DiskFastProbability   float64
	DiskSlowMultiplierMax int
	// Corrupt one sector of a log segment of a replica, where the atlas allows it.
	DiskCorruptProbability float64
	// Fill a replica's disk (capacity = usage + up to DiskFillSlackMax); free a filled one.
	DiskFillProbability   float64
	DiskUnfillProbability float64

	// The aimed moves (nemesis_aimed.go), drawn after everything above.
	//
	// PrimaryIsolationProbability starts the primary-isolation move when none is under way:
	// cut the current primary off from the other replicas (its clients still reach it).
	PrimaryIsolationProbability float64
	// CrashAtIOProbability arms a crash at an I/O point (superblock, start_view,
	// checkpoint), which strikes the next replica to reach it within crashAtIOWaitTicks.
	CrashAtIOProbability float64
	// DiskCorrelatedProbability damages several tail entries of one replica, or entries of a
	// replica while replicas holding good copies are down.
	DiskCorrelatedProbability float64
	// RingBridgeProbability partitions the replicas into a ring or a bridge for a while.
	RingBridgeProbability float64
	// ClockPrimaryProbability steps (by up to ±ClockPrimaryNsMax), drifts (to ±ClockPrimaryPPMMax)
	// or offsets (to ±ClockPrimaryNsMax) the current primary's clock.
	ClockPrimaryProbability float64
	ClockPrimaryNsMax       int64
	ClockPrimaryPPMMax      int64
	// DiskIdentityLossProbability damages a few of the newest entries of one replica (the
	// primary's, when there is one) together with their redundant records, and reboots it
	// (nemesis_identity.go). It is drawn with the correlated damage's kind, after every
	// other draw.
	DiskIdentityLossProbability float64
	// UpgradeStragglerProbability cuts off the one replica a rolling upgrade left on an older
	// binary and reboots the primary on the newest (nemesis_straggler.go). It is drawn with
	// node.upgrade's kind, after every other draw.
	UpgradeStragglerProbability float64
	// PrimaryBehindProbability cuts the current primary off until the others checkpoint
	// above it (nemesis_behind.go). It is drawn with the primary isolation's kind, after
	// every other draw.
	PrimaryBehindProbability float64
	// SyncedCheckpointLossProbability is the chance that a replica's state sync arms the
	// synced checkpoint loss (nemesis_synced.go). It is drawn with the correlated damage's
	// kind, after every other draw.
	SyncedCheckpointLossProbability float64
	// LateCheckpointLossProbability is the chance that the swarm's one late checkpoint loss
	// strikes, shortly before the heal (nemesis_late.go). It is drawn with the correlated
	// damage's kind, after every other draw.
	LateCheckpointLossProbability float64
	// FirstPrepareCrashProbability is the chance that the primary of view 0 crashes just
	// after sending the first prepare (nemesis_first_prepare.go). It is drawn with the
	// node.crash kind, after every other draw.
	FirstPrepareCrashProbability float64
}

// Validate reports the first option out of range.
func (o NemesisOptions) Validate() error {
	if err := sim.CheckProbabilities("nemesis",
		sim.Probability{Name: "ReplicaCrashProbability", Value: o.ReplicaCrashProbability},
		sim.Probability{Name: "ReplicaRestartProbability", Value: o.ReplicaRestartProbability},
		sim.Probability{Name: "ReplicaPauseProbability", Value: o.ReplicaPauseProbability},
		sim.Probability{Name: "ReplicaUnpauseProbability", Value: o.ReplicaUnpauseProbability},
		sim.Probability{Name: "PartitionProbability", Value: o.PartitionProbability},
		sim.Probability{Name: "HealProbability", Value: o.HealProbability},
		sim.Probability{Name: "ClogProbability", Value: o.ClogProbability},
		sim.Probability{Name: "ClockStepProbability", Value: o.ClockStepProbability},
		sim.Probability{Name: "ClockDriftProbability", Value: o.ClockDriftProbability},
		sim.Probability{Name: "ClockPeriodicProbability", Value: o.ClockPeriodicProbability},
		sim.Probability{Name: "DiskSlowProbability", Value: o.DiskSlowProbability},
		sim.Probability{Name: "DiskFastProbability", Value: o.DiskFastProbability},
		sim.Probability{Name: "DiskCorruptProbability", Value: o.DiskCorruptProbability},
		sim.Probability{Name: "DiskFillProbability", Value: o.DiskFillProbability},
		sim.Probability{Name: "DiskUnfillProbability", Value: o.DiskUnfillProbability},
		sim.Probability{Name: "PrimaryIsolationProbability", Value: o.PrimaryIsolationProbability},
		sim.Probability{Name: "CrashAtIOProbability", Value: o.CrashAtIOProbability},
		sim.Probability{Name: "DiskCorrelatedProbability", Value: o.DiskCorrelatedProbability},
		sim.Probability{Name: "RingBridgeProbability", Value: o.RingBridgeProbability},
		sim.Probability{Name: "ClockPrimaryProbability", Value: o.ClockPrimaryProbability},
		sim.Probability{Name: "DiskIdentityLossProbability", Value: o.DiskIdentityLossProbability},
		sim.Probability{Name: "UpgradeStragglerProbability", Value: o.UpgradeStragglerProbability},
		sim.Probability{Name: "PrimaryBehindProbability", Value: o.PrimaryBehindProbability},
		sim.Probability{Name: "SyncedCheckpointLossProbability", Value: o.SyncedCheckpointLossProbability},
		sim.Probability{Name: "LateCheckpointLossProbability", Value: o.LateCheckpointLossProbability},
		sim.Probability{Name: "FirstPrepareCrashProbability", Value: o.FirstPrepareCrashProbability},
	); err != nil {
		return err
	}
	switch {
	case o.ReplicaStabilityTicks < 0 || o.ReplicaCrashUnsyncedTicks < 0:
		return errors.New("nemesis: negative tick count")
	case o.ClogProbability > 0 && o.ClogDurationMean <= 0:
		return errors.New("nemesis: ClogProbability needs a positive ClogDurationMean")
	case o.ClockStepNsMax < 0 || o.ClockPeriodicNsMax < 0:
		return errors.New("nemesis: negative clock bound")
	case o.ClockDriftPPMMax < 0 || o.ClockDriftPPMMax > sim.DriftPPMMax:
		return fmt.Errorf("nemesis: ClockDriftPPMMax %d: want 0..%d", o.ClockDriftPPMMax,
			sim.DriftPPMMax)
	case o.DiskSlowProbability > 0 && o.DiskSlowMultiplierMax < 2:
		return errors.New("nemesis: DiskSlowProbability needs DiskSlowMultiplierMax >= 2")
	case o.ClockPrimaryNsMax < 0 || o.ClockPrimaryPPMMax < 0 || o.ClockPrimaryPPMMax > sim.DriftPPMMax:
		return fmt.Errorf("nemesis: ClockPrimaryNsMax %d, ClockPrimaryPPMMax %d: want >= 0 and a drift <= %d",
			o.ClockPrimaryNsMax, o.ClockPrimaryPPMMax, sim.DriftPPMMax)
	case o.ClockPrimaryProbability > 0 && (o.ClockPrimaryNsMax == 0 || o.ClockPrimaryPPMMax == 0):
		return errors.New("nemesis: ClockPrimaryProbability needs ClockPrimaryNsMax and ClockPrimaryPPMMax")
	}
	return nil
}

// Swarm is the environment of one seed: the cluster's shape, the network, disk and clock
// models, and the nemesis's rates, with the fault kinds that are on.
type Swarm struct {
	Replicas, Clients int
	// Standbys follow the cluster without voting (0..StandbysMax): nodes Replicas.. after
	// the replicas, before the clients. Random partitions cut them off like replicas.
	Standbys int
	// Failover: at the end of the fault phase the active region is lost and standby 100 is
	// promoted (DR failover); the liveness phase runs on the new configuration. A quarter
	// of the seeds with standbys.
	Failover bool
	// Reconfig: the nemesis changes the membership under faults (scenarios' swarm_reconfig:
	// add, remove and replace replicas and standbys, a replaced disk rejoining by state
	// sync). Spare: the last replica slot starts outside the configuration, to be added.
	// A seed that fails over draws them from their own stream (DrawFailoverReconfig).
	Reconfig, Spare bool
	Network         sim.NetworkOptions
	Disk            sim.DiskOptions
	// Clocks has one entry per node: replicas, standbys, then clients (standbys' and
	// clients' clocks are perfect: neither timestamps anything).
	Clocks  []sim.ClockOptions
	Nemesis NemesisOptions
	// Kinds are the fault kinds switched on, sorted. A kind that is off has every rate of
	// its own at zero.
	Kinds []Kind
	// Density is the chance with which each kind was switched on.
	Density float64
	// ClientTable is the replicas' client table capacity (0: the default, larger than any
	// swarm's client count). A quarter of the seeds with three or more clients get one
	// session fewer than clients, so sessions are evicted and clients must register again.
	ClientTable int
	// Config is the replicas' protocol settings with node.knobs on (drawKnobs); the zero
	// value, the defaults (vsr.DefaultConfig), without it.
	Config vsr.Config
}

// DrawSwarm draws the swarm of one seed from r (sim.Stream(seed, "swarm")).
func DrawSwarm(r *rand.Rand) Swarm {
	s, err := DrawSwarmOverride(r, Override{})
	assert.Thatf(err == nil, "swarm: %v", err)
	return s
}

// DrawSwarmOverride draws the swarm DrawSwarm draws from r, changed by o (see Override). It
// is DrawSwarm itself, with o's changes made where the drawn values are used: every number
// is still drawn, in the same order, so everything o does not change is what the seed draws.
func DrawSwarmOverride(r *rand.Rand, o Override) (Swarm, error) {
	assert.That(r != nil, "swarm: nil rand")
	off, err := o.check()
	if err != nil {
		return Swarm{}, err
	}
	drawnReplicas := drawReplicas(r)
	s := Swarm{Replicas: drawnReplicas, Clients: 1 + r.IntN(ClientsMax)}
	if s.Replicas, s.Clients, err = o.counts(s.Replicas, s.Clients); err != nil {
		return Swarm{}, err
	}
	s.Density = 0.1 + 0.8*r.Float64()
	on := map[Kind]bool{}
	for _, k := range AllKinds() {
		if slices.Contains(lateKinds, k) || slices.Contains(lastKinds, k) {
			continue // drawn last (below): they came later, and earlier draws keep their values
		}
		drawn := r.Float64() < s.Density // drawn for every kind, so the stream stays aligned
		on[k] = drawn && (!k.needsRedundancy() || s.F() >= 1) && !off[k]
	}
	for _, k := range AllKinds() {
		if needs := k.needs(); needs != "" && !on[needs] {
			on[k] = false
		}
		if on[k] {
			s.Kinds = append(s.Kinds, k)
		}
	}
	d := drawer{r: r, on: on}
	s.Network = d.network(s.Replicas, s.Clients)
	s.Disk = d.disk()
	// The clocks of every drawn replica are drawn (so the nemesis's rates, drawn next, keep
	// their values); an override to fewer replicas keeps the first ones' clocks.
	clocks := d.clocks(drawnReplicas, s.Clients)
	s.Clocks = append(clocks[:s.Replicas:s.Replicas], clocks[drawnReplicas:]...)
	s.Nemesis = d.nemesis(s.Network, s.Clocks)
	if evict := r.IntN(4) == 0; evict && s.Clients >= 3 { // drawn last: earlier draws keep their values
		s.ClientTable = s.Clients - 1
	}
	// node.upgrade came later than the other kinds: drawn after everything else so that
	// earlier draws keep their values.
	upgradeDraw, upgradeRate := r.Float64(), 0.2+0.8*r.Float64()
	if upgradeDraw < s.Density && on[NodeCrash] && !off[NodeUpgrade] {
		s.Kinds = append(s.Kinds, NodeUpgrade)
		s.Nemesis.ReplicaUpgradeProbability = upgradeRate
	}
	drawAimed(r, &s, on, off)
	if standbys := r.IntN(StandbysMax + 1); !o.NoStandbys { // drawn last: earlier draws keep their values
		s.addStandbys(standbys)
	}
	s.Failover = r.IntN(4) == 0 && s.Standbys > 0 // drawn after the standbys
	// The reconfiguring nemesis, drawn after everything else: half the seeds with two
	// replicas or more (not those that fail over: DrawFailoverReconfig draws theirs), and in
	// half of those with three or more the last replica slot starts as a spare outside the
	// configuration, to be added.
	reconfig, spare := r.IntN(2) == 0, r.IntN(2) == 0
	s.Reconfig = reconfig && s.Replicas >= 2 && !s.Failover && !o.NoReconfig
	s.Spare = spare && s.Reconfig && s.Replicas >= 3
	// The primary left behind, drawn after everything else with the primary isolation's kind.
	if behind := 0.001 + 0.002*r.Float64(); s.Enabled(NetworkPrimaryIsolation) {
		s.Nemesis.PrimaryBehindProbability = behind
	}
	// The synced checkpoint loss, drawn after it with the correlated damage's kind.
	if loss := 0.25 + 0.5*r.Float64(); s.Enabled(DiskCorrelated) {
		s.Nemesis.SyncedCheckpointLossProbability = loss
	}
	// The late checkpoint loss, drawn after it with the same kind.
	if late := 0.5 + 0.5*r.Float64(); s.Enabled(DiskCorrelated) {
		s.Nemesis.LateCheckpointLossProbability = late
	}
	drawLast(r, &s, off)
	// The first primary's crash, drawn after everything else with the node.crash kind.
	if first := r.IntN(3) == 0; first && s.Enabled(NodeCrash) {
		s.Nemesis.FirstPrepareCrashProbability = 1
	}
	drawKnobs(r, &s, off)
	slices.Sort(s.Kinds)
	err = s.Validate()
	assert.Thatf(err == nil, "swarm: drew invalid options: %v", err)
	return s, nil
}

// DrawFailoverReconfig draws, from r (the seed's own stream, sim.Stream(seed,
// "swarm/failover_reconfig"), so that every other draw keeps its value), whether a seed that
// fails over also runs the reconfiguring nemesis, and a spare: half of those with two
// replicas or more. A failover and a membership change meet in the replicas' least travelled
// paths (the epoch a promotion takes when the standby's log holds a change, a standby
// promoted between the views of a new configuration, a client holding replies of the lost
// configuration), which the swarm reaches only when one seed draws both.
func (s *Swarm) DrawFailoverReconfig(r *rand.Rand, o Override) {
	reconfig, spare := r.IntN(2) == 0, r.IntN(2) == 0
	if !reconfig || !s.Failover || s.Reconfig || s.Replicas < 2 || o.NoReconfig {
		return
	}
	s.Reconfig = true
	s.Spare = spare && s.Replicas >= 3
}

// Override changes what a seed draws, for shrinking a failing seed to a smaller one that
// fails the same way (vopr shrink) and for replaying the result. The zero value changes
// nothing.
//
// It is applied inside the draw, not to a drawn Swarm, because only the drawer knows which
// parameters belong to a kind: a kind switched off here is off exactly as if its coin had
// come up off (its rates zero, the kinds that need it off too, crash_unsynced_wait back to
// 0 without torn or lost writes), with no second list of a kind's fields to keep in step.
type Override struct {
	// Without switches these kinds off (a kind the seed did not switch on stays off).
	Without []Kind
	// Replicas, if not 0, replaces the drawn replica count; it can only lower it (the
	// nemesis's rates are drawn after the clocks of the drawn replicas, so a larger count
	// would change them). Fewer replicas may tolerate fewer faults (f = (replicas-1)/2):
	// kinds that need f >= 1 are then off, as they are for a seed that draws that count.
	Replicas int
	// Clients, if not 0, replaces the drawn client count (1..ClientsMax).
	Clients int
	// NoStandbys drops the standbys the seed drew.
	NoStandbys bool
	// NoReconfig drops the reconfiguring nemesis the seed drew.
	NoReconfig bool
}

// IsZero reports whether o changes nothing.
func (o Override) IsZero() bool {
	return len(o.Without) == 0 && o.Replicas == 0 && o.Clients == 0 && !o.NoStandbys && !o.NoReconfig
}

// check validates o's kinds and returns them as a set.
func (o Override) check() (map[Kind]bool, error) {
	off := map[Kind]bool{}
	for _, k := range o.Without {
		if !k.Valid() {
			return nil, fmt.Errorf("unknown fault kind %q: expected one of %s", k, KindNames())
		}
		off[k] = true
	}
	if o.Clients < 0 || o.Clients > ClientsMax {
		return nil, fmt.Errorf("%d clients: want 1..%d", o.Clients, ClientsMax)
	}
	if o.Replicas < 0 {
		return nil, fmt.Errorf("%d replicas: want a positive count", o.Replicas)
	}
	return off, nil
}

// counts applies o's counts to the drawn ones.
func (o Override) counts(replicas, clients int) (int, int, error) {
	if o.Replicas > replicas {
		return 0, 0, fmt.Errorf("%d replicas: this seed draws %d, and an override can only lower it", o.Replicas, replicas)
	}
	if o.Replicas > 0 {
		replicas = o.Replicas
	}
	if o.Clients > 0 {
		clients = o.Clients
	}
	return replicas, clients, nil
}

// KindNames lists every fault kind, comma-separated, for error messages.
func KindNames() string {
	names := make([]string, 0, len(kindDescriptions))
	for _, k := range AllKinds() {
		names = append(names, string(k))
	}
	return strings.Join(names, ", ")
}

func drawReplicas(r *rand.Rand) int {
	total := 0
	for _, w := range replicaWeights {
		total += w
	}
	x := r.IntN(total)
	for i, w := range replicaWeights {
		if x < w {
			return i + 1
		}
		x -= w
	}
	assert.Unreachable("swarm: replica weights exhausted")
	return 0
}

// drawer draws the rates of one swarm. Every helper draws the same numbers whether or not
// its kind is on, and returns zero (or the fault-free value) when it is off.
type drawer struct {
	r  *rand.Rand
	on map[Kind]bool
}

// rate draws uniformly from (lo, hi] for kind k, zero if k is off.
func (d drawer) rate(k Kind, lo, hi float64) float64 {
	v := hi - (hi-lo)*d.r.Float64()
	if !d.on[k] {
		return 0
	}
	return v
}

// logUniform draws from [lo, hi] with a uniform exponent, so that every order of magnitude
// gets its turn.
func (d drawer) logUniform(lo, hi int64) int64 {
	assert.That(lo > 0 && lo <= hi, "swarm: bad log-uniform range")
	v := int64(math.Round(math.Exp(math.Log(float64(lo)) +
		d.r.Float64()*(math.Log(float64(hi))-math.Log(float64(lo))))))
	return min(max(v, lo), hi)
}

func (d drawer) duration(lo, hi sim.Duration) sim.Duration {
	return sim.Duration(d.logUniform(int64(lo), int64(hi)))
}

func (d drawer) network(replicas, clients int) sim.NetworkOptions {
	o := sim.NetworkOptions{NodeCount: replicas + clients}
	o.OneWayDelayMin = sim.Duration(d.r.IntN(6)) * sim.Millisecond
	o.OneWayDelayMean = o.OneWayDelayMin + d.duration(sim.Millisecond, 40*sim.Millisecond)
	o.PacketLossProbability = d.rate(NetworkLoss, 0.001, PacketLossProbabilityMax)
	o.PacketReplayProbability = d.rate(NetworkReplay, 0.001, 0.3)
	o.PacketReorderProbability = d.rate(NetworkReorder, 0.001, 0.2)
	o.PacketCorruptionProbability = d.rate(NetworkCorruption, 0.0001, 0.02)
	o.PathMaximumCapacity = sim.DefaultPathMaximumCapacity
	if capacity := 2 + d.r.IntN(19); d.on[NetworkCapacity] {
		o.PathMaximumCapacity = capacity
	}
	o.PathClogProbability = d.rate(NetworkClog, 0.00005, 0.0005)
	o.PathClogDurationMean = d.duration(10*sim.Millisecond, sim.Second)
	mode := sim.PartitionMode(1 + d.r.IntN(3))
	o.PartitionSymmetry = sim.PartitionSymmetry(d.r.IntN(2))
	o.PartitionProbability = d.rate(NetworkPartition, 0.0005, 0.005)
	o.UnpartitionProbability = 0.005 + 0.045*d.r.Float64()
	o.PartitionStabilityMin = d.duration(200*sim.Millisecond, 2*sim.Second)
	o.UnpartitionStabilityMin = d.duration(sim.Millisecond, 2*sim.Second)
	if d.on[NetworkPartition] {
		o.PartitionMode = mode
	}
	// Clients are never cut off by random partitions: the nemesis partitions replicas.
	o.PartitionExempt = make([]bool, replicas+clients)
	for i := replicas; i < replicas+clients; i++ {
		o.PartitionExempt[i] = true
	}
	return o
}

func (d drawer) disk() sim.DiskOptions {
	o := sim.DiskOptions{
		ReadLatencyMin: 50 * sim.Microsecond, ReadLatencyMean: 300 * sim.Microsecond,
		WriteLatencyMin: 50 * sim.Microsecond, WriteLatencyMean: 800 * sim.Microsecond,
		Capacity: DiskCapacity,
	}
	readMin := sim.Duration(d.r.IntN(1000)) * sim.Microsecond
	readMean := readMin + d.duration(100*sim.Microsecond, 20*sim.Millisecond)
	writeMin := sim.Duration(d.r.IntN(2000)) * sim.Microsecond
	writeMean := writeMin + d.duration(500*sim.Microsecond, 100*sim.Millisecond)
	if d.on[DiskLatency] {
		o.ReadLatencyMin, o.ReadLatencyMean = readMin, readMean
		o.WriteLatencyMin, o.WriteLatencyMean = writeMin, writeMean
	}
	// Reads are rare (recovery, repair, state sync), so their fault rates run higher.
	o.ReadFaultProbability = d.rate(DiskLatentSectorError, 0.001, 0.1)
	o.ReadCorruptionProbability = d.rate(DiskReadCorruption, 0.001, 0.1)
	o.WriteCorruptionProbability = d.rate(DiskWriteCorruption, 0.0005, 0.02)
	o.WriteMisdirectProbability = d.rate(DiskMisdirect, 0.0005, 0.01)
	o.CrashLostProbability = d.rate(DiskCrashLost, 0.05, 1)
	o.CrashTornProbability = d.rate(DiskCrashTorn, 0.05, 1)
	return o
}

// clocks draws one clock per node; clients' clocks are perfect.
func (d drawer) clocks(replicas, clients int) []sim.ClockOptions {
	out := make([]sim.ClockOptions, replicas+clients)
	offsetMax := d.logUniform(int64(sim.Millisecond), int64(sim.Second))
	driftMax := d.logUniform(10, 20_000)
	periodicMax := d.logUniform(int64(sim.Millisecond), int64(200*sim.Millisecond))
	for i := 0; i < replicas; i++ {
		offset := d.r.Int64N(2*offsetMax+1) - offsetMax
		drift := d.r.Int64N(2*driftMax+1) - driftMax
		amplitude := d.r.Int64N(periodicMax + 1)
		period := sim.Duration(1+d.r.IntN(30)) * sim.Second
		if d.on[ClockOffset] {
			out[i].OffsetNs = offset
		}
		if d.on[ClockDrift] {
			out[i].DriftPPM = drift
		}
		if d.on[ClockPeriodic] && amplitude > 0 {
			out[i].PeriodicErrorNs, out[i].PeriodicPeriod = amplitude, period
		}
	}
	return out
}

func (d drawer) nemesis(network sim.NetworkOptions, clocks []sim.ClockOptions) NemesisOptions {
	o := NemesisOptions{}
	o.ReplicaCrashProbability = d.rate(NodeCrash, 0.0005, 0.005)
	o.ReplicaRestartProbability = d.rate(NodeCrash, 0.002, 0.03)
	o.ReplicaPauseProbability = d.rate(NodePause, 0.0005, 0.005)
	o.ReplicaUnpauseProbability = d.rate(NodePause, 0.005, 0.05)
	o.ReplicaStabilityTicks = d.r.IntN(201)
	if o.ReplicaCrashProbability > 0 && (d.on[DiskCrashTorn] || d.on[DiskCrashLost]) {
		o.ReplicaCrashUnsyncedTicks = crashUnsyncedTicks
	}
	o.PartitionProbability = d.rate(NetworkPartition, 0.0005, 0.004)
	o.HealProbability = d.rate(NetworkPartition, 0.005, 0.03)
	o.ClogProbability = d.rate(NetworkClog, 0.001, 0.02)
	if o.ClogProbability > 0 {
		o.ClogDurationMean = network.PathClogDurationMean
	}
	o.ClockStepProbability = d.rate(ClockStep, 0.0005, 0.005)
	stepMax := d.logUniform(int64(sim.Millisecond), int64(2*sim.Second))
	o.ClockDriftProbability = d.rate(ClockDrift, 0.0002, 0.002)
	o.ClockPeriodicProbability = d.rate(ClockPeriodic, 0.0002, 0.002)
	if o.ClockStepProbability > 0 {
		o.ClockStepNsMax = stepMax
	}
	for _, c := range clocks {
		o.ClockDriftPPMMax = max(o.ClockDriftPPMMax, abs(c.DriftPPM))
		o.ClockPeriodicNsMax = max(o.ClockPeriodicNsMax, c.PeriodicErrorNs)
	}
	if o.ClockDriftProbability > 0 && o.ClockDriftPPMMax == 0 {
		o.ClockDriftPPMMax = 100
	}
	if o.ClockPeriodicProbability > 0 && o.ClockPeriodicNsMax == 0 {
		o.ClockPeriodicNsMax = int64(10 * sim.Millisecond)
	}
	o.DiskSlowProbability = d.rate(DiskSlow, 0.0005, 0.005)
	o.DiskFastProbability = d.rate(DiskSlow, 0.005, 0.05)
	if multiplier := 2 + d.r.IntN(19); o.DiskSlowProbability > 0 {
		o.DiskSlowMultiplierMax = multiplier
	}
	o.DiskCorruptProbability = d.rate(DiskCorruption, 0.001, 0.02)
	o.DiskFillProbability = d.rate(DiskFull, 0.0002, 0.002)
	o.DiskUnfillProbability = d.rate(DiskFull, 0.003, 0.03)
	return o
}

// drawAimed draws the aimed moves (the late kinds after node.upgrade), after every other
// draw: a coin per kind in lateKinds order, then their rates, each drawn whether or not its
// kind is on.
func drawAimed(r *rand.Rand, s *Swarm, on, off map[Kind]bool) {
	for _, k := range lateKinds[1:] { // node.upgrade is drawn above
		drawn := r.Float64() < s.Density
		on[k] = drawn && (!k.needsRedundancy() || s.F() >= 1) && !off[k] && (k.needs() == "" || on[k.needs()])
		if on[k] {
			s.Kinds = append(s.Kinds, k)
		}
	}
	d := drawer{r: r, on: on}
	m := &s.Nemesis
	m.PrimaryIsolationProbability = d.rate(NetworkPrimaryIsolation, 0.001, 0.004)
	m.CrashAtIOProbability = d.rate(NodeCrashAtIO, 0.001, 0.005)
	m.DiskCorrelatedProbability = d.rate(DiskCorrelated, 0.001, 0.005)
	m.RingBridgeProbability = d.rate(NetworkRingBridge, 0.0005, 0.003)
	m.ClockPrimaryProbability = d.rate(ClockPrimary, 0.0005, 0.003)
	nsMax := d.logUniform(int64(sim.Millisecond), int64(2*sim.Second))
	ppmMax := d.logUniform(10, 20_000)
	if on[ClockPrimary] {
		m.ClockPrimaryNsMax, m.ClockPrimaryPPMMax = nsMax, ppmMax
	}
	m.DiskIdentityLossProbability = d.rate(DiskCorrelated, 0.001, 0.004)
	// node.upgrade is drawn outside on (DrawSwarmOverride), before this.
	if straggler := 0.01 - 0.008*r.Float64(); s.Enabled(NodeUpgrade) {
		m.UpgradeStragglerProbability = straggler
	}
}

// drawLast draws the last kinds (lastKinds), after every other draw: for each, its coin and
// its rate.
func drawLast(r *rand.Rand, s *Swarm, off map[Kind]bool) {
	drawn, rate := r.Float64() < s.Density, 0.0005+0.0045*r.Float64()
	if drawn && !off[DiskWriteError] {
		s.Kinds = append(s.Kinds, DiskWriteError)
		s.Disk.WriteErrorProbability = rate
	}
	// disk.sync_error came after disk.write_error: its coin and rate are drawn after it.
	drawn, rate = r.Float64() < s.Density, 0.0005+0.0045*r.Float64()
	if drawn && !off[DiskSyncError] {
		s.Kinds = append(s.Kinds, DiskSyncError)
		s.Disk.SyncErrorProbability = rate
	}
}

// drawKnobs draws node.knobs, after every other draw: its coin, then the settings, drawn
// whether or not the coin is on, so that a later draw keeps its value either way. The
// settings stay within what the protocol allows (vsr.Config.Validate) and near enough to
// the defaults that a healed cluster still elects and serves within the liveness budgets:
// heartbeats of 2 to 6 ticks, an election timeout of 35 to 70, batches of 1 to 64 requests
// (1 makes a prepare per request: more ops, checkpoints and repairs per seed).
func drawKnobs(r *rand.Rand, s *Swarm, off map[Kind]bool) {
	drawn := r.Float64() < s.Density
	c := vsr.DefaultConfig()
	c.HeartbeatTicks = 2 + r.IntN(5)
	c.ElectionTimeoutTicks = 35 + r.IntN(36)
	c.BatchMax = knobBatches[r.IntN(len(knobBatches))]
	c.PrepareResendTicks = 4 + r.IntN(13)
	c.PingTicks = 5 + r.IntN(16)
	c.RepairTicks = 2 + r.IntN(7)
	c.ViewChangeResendTicks = 4 + r.IntN(13)
	c.ViewChangeTimeoutTicks = 60 + r.IntN(91)
	if drawn && !off[NodeKnobs] {
		s.Kinds = append(s.Kinds, NodeKnobs)
		s.Config = c
	}
}

// knobBatches are the batch sizes node.knobs draws from (vsr.BatchEntriesMax is the default).
var knobBatches = []int{1, 2, 4, 8, 16, vsr.BatchEntriesMax}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// F is the number of faulty replicas a quorum tolerates: (Replicas-1)/2.
func (s Swarm) F() int { return (s.Replicas - 1) / 2 }

// FaultFree reports whether the swarm injects no fault: no kind is on but node.knobs (a
// setting, not a fault), and no reconfiguration.
func (s Swarm) FaultFree() bool {
	return !s.Reconfig && !slices.ContainsFunc(s.Kinds, func(k Kind) bool { return k != NodeKnobs })
}

// Enabled reports whether kind k is switched on.
func (s Swarm) Enabled(k Kind) bool { return slices.Contains(s.Kinds, k) }

// Validate reports the first inconsistent or out-of-range parameter.
func (s Swarm) Validate() error {
	nodes := s.Replicas + s.Standbys + s.Clients
	switch {
	case s.Replicas < 1 || s.Replicas > len(replicaWeights):
		return fmt.Errorf("swarm: %d replicas: want 1..%d", s.Replicas, len(replicaWeights))
	case s.Standbys < 0 || s.Standbys > StandbysMax:
		return fmt.Errorf("swarm: %d standbys: want 0..%d", s.Standbys, StandbysMax)
	case s.Clients < 1 || s.Clients > ClientsMax:
		return fmt.Errorf("swarm: %d clients: want 1..%d", s.Clients, ClientsMax)
	case s.Network.NodeCount != nodes:
		return fmt.Errorf("swarm: network of %d nodes for %d", s.Network.NodeCount, nodes)
	case len(s.Clocks) != nodes:
		return fmt.Errorf("swarm: %d clocks for %d nodes", len(s.Clocks), nodes)
	case !slices.IsSorted(s.Kinds):
		return errors.New("swarm: kinds not sorted")
	case (s.Config != vsr.Config{}) != s.Enabled(NodeKnobs):
		return errors.New("swarm: replica settings drawn without node.knobs, or node.knobs without them")
	}
	if s.Config != (vsr.Config{}) {
		if err := s.Config.Validate(); err != nil {
			return fmt.Errorf("swarm: node.knobs: %w", err)
		}
	}
	for _, k := range s.Kinds {
		if !k.Valid() {
			return fmt.Errorf("swarm: unknown fault kind %q", k)
		}
	}
	for _, c := range s.Clocks {
		if c.DriftPPM < -sim.DriftPPMMax || c.DriftPPM > sim.DriftPPMMax ||
			c.PeriodicErrorNs < 0 || (c.PeriodicErrorNs > 0 && c.PeriodicPeriod <= 0) {
			return fmt.Errorf("swarm: clock options out of range: %+v", c)
		}
	}
	return errors.Join(s.Network.Validate(), s.Disk.Validate(), s.Nemesis.Validate())
}

// ClusterOptions returns the options of the simulated cluster of this swarm for seed.
func (s Swarm) ClusterOptions(seed uint64) sim.ClusterOptions {
	network := s.Network
	network.PartitionExempt = slices.Clone(s.Network.PartitionExempt)
	return sim.ClusterOptions{
		World: sim.WorldOptions{Seed: seed, Network: network, Disk: s.Disk,
			Clocks: slices.Clone(s.Clocks)},
		Replicas: s.Replicas,
		Standbys: s.Standbys,
		// The nemesis upgrades active replicas one by one; standbys run the newest
		// binary from the start (they execute the upgrade op like everyone).
		StandbyRelease: kv.ReleaseLatest,
		Clients:        s.Clients,
		ClusterID:      seed | 1, // never 0
		ClientsMax:     s.ClientTable,
		Outside:        s.outside(),
		Config:         s.Config,
	}
}

// outside is the slots formatted outside the configuration: the spare, if any.
func (s Swarm) outside() uint16 {
	if s.Spare {
		return 1 << uint(s.Replicas-1)
	}
	return 0
}

// String prints every drawn parameter as key=value pairs on one line, sorted by key.
func (s Swarm) String() string {
	p := s.params()
	slices.Sort(p)
	return strings.Join(p, " ")
}

func (s Swarm) params() []string {
	n, d, m := s.Network, s.Disk, s.Nemesis
	kinds := make([]string, len(s.Kinds))
	for i, k := range s.Kinds {
		kinds[i] = string(k)
	}
	p := []string{
		"replicas=" + strconv.Itoa(s.Replicas), "clients=" + strconv.Itoa(s.Clients),
		"client_table=" + strconv.Itoa(s.ClientTable),
		"density=" + ftoa(s.Density), "kinds=" + strings.Join(kinds, ","),
		"net.delay=" + n.OneWayDelayMin.String() + "/" + n.OneWayDelayMean.String(),
		"net.loss=" + ftoa(n.PacketLossProbability), "net.replay=" + ftoa(n.PacketReplayProbability),
		"net.reorder=" + ftoa(n.PacketReorderProbability),
		"net.corrupt=" + ftoa(n.PacketCorruptionProbability),
		"net.capacity=" + strconv.Itoa(n.PathMaximumCapacity),
		"net.clog=" + ftoa(n.PathClogProbability) + "/" + n.PathClogDurationMean.String(),
		"net.partition=" + n.PartitionMode.String() + "/" + n.PartitionSymmetry.String() + "/" +
			ftoa(n.PartitionProbability) + "/" + ftoa(n.UnpartitionProbability),
		"net.partition_stability=" + n.PartitionStabilityMin.String() + "/" +
			n.UnpartitionStabilityMin.String(),
		"disk.read_latency=" + d.ReadLatencyMin.String() + "/" + d.ReadLatencyMean.String(),
		"disk.write_latency=" + d.WriteLatencyMin.String() + "/" + d.WriteLatencyMean.String(),
		"disk.latent=" + ftoa(d.ReadFaultProbability), "disk.read_corrupt=" + ftoa(d.ReadCorruptionProbability),
		"disk.write_corrupt=" + ftoa(d.WriteCorruptionProbability),
		"disk.misdirect=" + ftoa(d.WriteMisdirectProbability),
		"disk.crash_lost=" + ftoa(d.CrashLostProbability), "disk.crash_torn=" + ftoa(d.CrashTornProbability),
		"disk.capacity=" + strconv.FormatInt(d.Capacity, 10),
		"nemesis.crash=" + ftoa(m.ReplicaCrashProbability) + "/" + ftoa(m.ReplicaRestartProbability),
		"nemesis.pause=" + ftoa(m.ReplicaPauseProbability) + "/" + ftoa(m.ReplicaUnpauseProbability),
		"nemesis.upgrade=" + ftoa(m.ReplicaUpgradeProbability),
		"nemesis.stability=" + strconv.Itoa(m.ReplicaStabilityTicks),
		"nemesis.crash_unsynced_wait=" + strconv.Itoa(m.ReplicaCrashUnsyncedTicks),
		"nemesis.partition=" + ftoa(m.PartitionProbability) + "/" + ftoa(m.HealProbability),
		"nemesis.clog=" + ftoa(m.ClogProbability) + "/" + m.ClogDurationMean.String(),
		"nemesis.clock_step=" + ftoa(m.ClockStepProbability) + "/" + sim.Duration(m.ClockStepNsMax).String(),
		"nemesis.clock_drift=" + ftoa(m.ClockDriftProbability) + "/" + strconv.FormatInt(m.ClockDriftPPMMax, 10),
		"nemesis.clock_periodic=" + ftoa(m.ClockPeriodicProbability) + "/" +
			sim.Duration(m.ClockPeriodicNsMax).String(),
		"nemesis.disk_slow=" + ftoa(m.DiskSlowProbability) + "/" + ftoa(m.DiskFastProbability) +
			"/x" + strconv.Itoa(m.DiskSlowMultiplierMax),
		"nemesis.disk_corrupt=" + ftoa(m.DiskCorruptProbability),
		"nemesis.disk_fill=" + ftoa(m.DiskFillProbability) + "/" + ftoa(m.DiskUnfillProbability),
		"nemesis.primary_isolation=" + ftoa(m.PrimaryIsolationProbability),
		"nemesis.crash_at_io=" + ftoa(m.CrashAtIOProbability),
		"nemesis.disk_correlated=" + ftoa(m.DiskCorrelatedProbability),
		"nemesis.ring_bridge=" + ftoa(m.RingBridgeProbability),
		"nemesis.clock_primary=" + ftoa(m.ClockPrimaryProbability) + "/" +
			sim.Duration(m.ClockPrimaryNsMax).String() + "/" + strconv.FormatInt(m.ClockPrimaryPPMMax, 10) + "ppm",
		"nemesis.disk_identity_loss=" + ftoa(m.DiskIdentityLossProbability),
		"nemesis.upgrade_straggler=" + ftoa(m.UpgradeStragglerProbability),
		"nemesis.primary_behind=" + ftoa(m.PrimaryBehindProbability),
		"nemesis.synced_checkpoint_loss=" + ftoa(m.SyncedCheckpointLossProbability),
		"nemesis.late_checkpoint_loss=" + ftoa(m.LateCheckpointLossProbability),
	}
	if m.FirstPrepareCrashProbability > 0 { // only then: the seeds without it print as before
		p = append(p, "nemesis.first_prepare_crash="+ftoa(m.FirstPrepareCrashProbability))
	}
	if d.WriteErrorProbability > 0 { // only then: the seeds without it print as before
		p = append(p, "disk.write_error="+ftoa(d.WriteErrorProbability))
	}
	if d.SyncErrorProbability > 0 { // only then: the seeds without it print as before
		p = append(p, "disk.sync_error="+ftoa(d.SyncErrorProbability))
	}
	if c := s.Config; c != (vsr.Config{}) { // only then: the seeds without it print as before
		p = append(p, fmt.Sprintf("knobs=batch%d/hb%d/election%d/ping%d/repair%d/resend%d/vc%d/%d", c.BatchMax,
			c.HeartbeatTicks, c.ElectionTimeoutTicks, c.PingTicks, c.RepairTicks, c.PrepareResendTicks,
			c.ViewChangeResendTicks, c.ViewChangeTimeoutTicks))
	}
	if s.Standbys > 0 {
		p = append(p, "standbys="+strconv.Itoa(s.Standbys))
	}
	if s.Failover {
		p = append(p, "failover=1")
	}
	if s.Reconfig {
		p = append(p, "reconfig=1")
	}
	if s.Spare {
		p = append(p, "spare=1")
	}
	for i := 0; i < s.Replicas && i < len(s.Clocks); i++ {
		c := s.Clocks[i]
		p = append(p, fmt.Sprintf("clock.%d=%s/%dppm/%s/%s", i, sim.Duration(c.OffsetNs),
			c.DriftPPM, sim.Duration(c.PeriodicErrorNs), c.PeriodicPeriod))
	}
	return p
}

// ftoa prints a probability compactly and exactly enough to tell seeds apart.
func ftoa(f float64) string { return strconv.FormatFloat(f, 'g', 4, 64) }

// addStandbys adds n standby nodes after the replicas: the network grows by n nodes that
// random partitions may cut off (only clients are exempt), with perfect clocks.
func (s *Swarm) addStandbys(n int) {
	if n == 0 {
		return
	}
	s.Standbys = n
	s.Network.NodeCount += n
	s.Network.PartitionExempt = slices.Insert(slices.Clone(s.Network.PartitionExempt), s.Replicas, make([]bool, n)...)
	s.Clocks = slices.Insert(slices.Clone(s.Clocks), s.Replicas, make([]sim.ClockOptions, n)...)
}
