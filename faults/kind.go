package faults

import (
	"slices"
	"strings"
)

// Kind names one kind of fault. A swarm switches a random subset of kinds on per seed;
// coverage reports count, per kind, how often it actually struck (KindHits).
type Kind string

// The fault kinds. Names are "<component>.<fault>"; `vopr list faults` prints them with
// their descriptions.
const (
	NetworkLoss       Kind = "network.loss"
	NetworkReplay     Kind = "network.replay"
	NetworkReorder    Kind = "network.reorder"
	NetworkCorruption Kind = "network.corruption"
	NetworkCapacity   Kind = "network.capacity"
	NetworkClog       Kind = "network.clog"
	NetworkPartition  Kind = "network.partition"
	// The aimed network moves (issue 10: faults aimed where bugs live).
	NetworkPrimaryIsolation Kind = "network.primary_isolation"
	NetworkRingBridge       Kind = "network.ring_bridge"

	DiskLatency           Kind = "disk.latency"
	DiskReadCorruption    Kind = "disk.read_corruption"
	DiskWriteCorruption   Kind = "disk.write_corruption"
	DiskMisdirect         Kind = "disk.misdirect"
	DiskLatentSectorError Kind = "disk.latent_sector_error"
	DiskCrashTorn         Kind = "disk.crash_torn"
	DiskCrashLost         Kind = "disk.crash_lost"
	DiskSlow              Kind = "disk.slow"
	DiskCorruption        Kind = "disk.corruption"
	DiskFull              Kind = "disk.full"
	DiskCorrelated        Kind = "disk.correlated"
	DiskWriteError        Kind = "disk.write_error"
	DiskSyncError         Kind = "disk.sync_error"

	ClockOffset   Kind = "clock.offset"
	ClockDrift    Kind = "clock.drift"
	ClockStep     Kind = "clock.step"
	ClockPeriodic Kind = "clock.periodic"
	ClockPrimary  Kind = "clock.primary"

	NodeCrash     Kind = "node.crash"
	NodePause     Kind = "node.pause"
	NodeUpgrade   Kind = "node.upgrade"
	NodeCrashAtIO Kind = "node.crash_at_io"
	NodeKnobs     Kind = "node.knobs"
)

// lateKinds came after the first kinds, in this order: each is drawn after every earlier
// draw of DrawSwarm, so that the seeds drawn before it existed keep their parameters.
var lateKinds = []Kind{NodeUpgrade, NetworkPrimaryIsolation, NodeCrashAtIO, DiskCorrelated,
	NetworkRingBridge, ClockPrimary}

// lastKinds came after the aimed moves: each is drawn at the very end of DrawSwarm, its coin
// and its rate together, so that every earlier draw keeps its value.
var lastKinds = []Kind{DiskWriteError, DiskSyncError, NodeKnobs}

var kindDescriptions = map[Kind]string{
	NetworkLoss:       "packets dropped at random",
	NetworkReplay:     "delivered packets duplicated and delivered again later",
	NetworkReorder:    "packets held back so that later ones overtake them",
	NetworkCorruption: "one bit of a delivered packet flipped (checksums must catch it)",
	NetworkCapacity:   "small path capacity: a full path evicts a queued packet",
	NetworkClog:       "paths clogged for a while: packets held, not lost",
	NetworkPartition: "random and nemesis partitions: isolate one, split in two, " +
		"asymmetric cuts",
	NetworkPrimaryIsolation: "the nemesis cuts the primary off from the other replicas, clients kept (an uncommitted " +
		"suffix), then cuts off the next primary before the old one is repaired",
	NetworkRingBridge: "the nemesis partitions the replicas into a ring (each sees its two neighbours) or a " +
		"bridge (two halves joined by one replica)",

	DiskLatency:           "high and variable read and write latency",
	DiskReadCorruption:    "a read turns a sector corrupt, sticky until rewritten (atlas-bound)",
	DiskWriteCorruption:   "a write stores a sector with a bit flipped (atlas-bound)",
	DiskMisdirect:         "a write lands at another place of the file (atlas-bound)",
	DiskLatentSectorError: "a read makes a sector unreadable until rewritten (atlas-bound)",
	DiskCrashTorn:         "at a crash, unsynced writes keep only some of their sectors",
	DiskCrashLost:         "at a crash, unsynced writes are lost",
	DiskSlow:              "the nemesis slows one replica's disk down, then back",
	DiskCorruption:        "the nemesis corrupts a sector of a log segment (atlas-bound)",
	DiskFull:              "the nemesis fills one replica's disk, then frees it",
	DiskWriteError: "a write fails with an I/O error and changes nothing (the engine must not count it done); and a " +
		"quarter of the marks a truncation writes over its dropped ops' records fail with ErrNoSpace (an overwrite " +
		"a full copy-on-write or sparse file needs a block for), half of them followed by a crash",
	DiskSyncError: "a sync fails with an I/O error and each unsynced write it covered is kept whole a quarter of " +
		"the time, else lost, whole or torn; a later sync succeeds without the lost ones (fsync failure: only a " +
		"rewrite makes the data durable, and a write the engine was told failed may still be there)",
	DiskCorrelated: "the nemesis damages several tail entries of one replica, or a replica's entries while " +
		"holders of good copies are down (an intact copy is kept), or entries together with their redundant " +
		"records (a quorum keeps them intact)",

	ClockOffset:   "replicas' wall clocks start off true time",
	ClockDrift:    "replicas' clocks run fast or slow, and the nemesis changes the drift",
	ClockStep:     "the nemesis steps a replica's wall clock forwards or back",
	ClockPeriodic: "a periodic error (NTP slewing) on replicas' wall clocks",
	ClockPrimary:  "the nemesis steps, drifts or offsets the clock of the current primary",

	NodeCrash: "the nemesis crashes replicas and restarts them from their disks",
	NodePause: "the nemesis pauses replicas (no ticks, messages or I/O) and resumes them",
	NodeUpgrade: "the nemesis restarts crashed replicas on the next release's binary: a rolling " +
		"upgrade under faults (the cluster release rises once every replica runs it)",
	NodeCrashAtIO: "the nemesis crashes a replica at an I/O point: as its superblock write becomes durable, " +
		"after it sends start_view, or after a checkpoint",
	NodeKnobs: "the replicas run drawn protocol settings (randomized knobs): batch size, heartbeat, election, " +
		"ping, repair, prepare-resend and view-change intervals, within what the protocol allows",
}

// AimedKinds returns the kinds of the aimed moves (nemesis_aimed.go), in draw order. A seed
// run without them runs exactly the schedule it ran before they existed.
func AimedKinds() []Kind { return slices.Clone(lateKinds[1:]) }

// AllKinds returns every fault kind, sorted by name.
func AllKinds() []Kind {
	kinds := make([]Kind, 0, len(kindDescriptions))
	for k := range kindDescriptions {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	return kinds
}

// Description says what the kind does, in one line; "" for an unknown kind.
func (k Kind) Description() string { return kindDescriptions[k] }

// Valid reports whether k is one of the kinds AllKinds lists.
func (k Kind) Valid() bool { _, ok := kindDescriptions[k]; return ok }

// Component is the part of the name before the dot: network, disk, clock or node.
func (k Kind) Component() string {
	component, _, _ := strings.Cut(string(k), ".")
	return component
}

// needsRedundancy reports whether a kind can only strike when some replicas may be faulty or
// unavailable (f >= 1): the atlas-bound disk faults and the faults that make a replica
// unavailable. With one or two replicas (f = 0) a swarm never switches them on: a name is a
// promise, and such a kind could never strike.
func (k Kind) needsRedundancy() bool {
	switch k {
	case DiskReadCorruption, DiskWriteCorruption, DiskMisdirect, DiskLatentSectorError,
		DiskCorruption, DiskFull, NodeCrash, NodePause:
		return true
	case NetworkPrimaryIsolation, NetworkRingBridge, NodeCrashAtIO, DiskCorrelated:
		// A view change without the primary, a partition with a side, a crash and damage
		// beside an intact copy all need a quorum without the replica they strike.
		return true
	}
	return false
}

// needs names the kind without which k can never strike ("" for none): torn and lost writes
// happen only at crashes; a crash at an I/O point and damage while holders are down crash
// replicas that only node.crash's restarts bring back before the heal.
func (k Kind) needs() Kind {
	switch k {
	case DiskCrashTorn, DiskCrashLost, NodeUpgrade, NodeCrashAtIO, DiskCorrelated:
		return NodeCrash
	}
	return ""
}
