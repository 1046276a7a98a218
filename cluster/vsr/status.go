package vsr

import (
	"fmt"
	"math"

	"vopr/cluster/checksum"
	"vopr/internal/assert"
)

// Status is the replica's protocol status (VRR 2012 §4).
type Status int

const (
	// StatusRecovering: the replica is reading its durable state after a (re)start and takes
	// no part in the protocol until it has.
	StatusRecovering Status = iota
	// StatusNormal: the replica processes requests and prepares in its view.
	StatusNormal
	// StatusViewChange: the replica is electing a new primary (VRR 2012 §4.2).
	StatusViewChange
	// StatusStopped: the replica failed to open its storage or its disk failed; it takes no
	// part until an operator restores or replaces it.
	StatusStopped
)

func (s Status) String() string {
	switch s {
	case StatusRecovering:
		return "recovering"
	case StatusNormal:
		return "normal"
	case StatusViewChange:
		return "view_change"
	case StatusStopped:
		return "stopped"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Role is the replica's role in its view.
type Role int

const (
	RoleBackup Role = iota
	RolePrimary
	RoleStandby
)

func (r Role) String() string {
	switch r {
	case RolePrimary:
		return "primary"
	case RoleStandby:
		return "standby"
	}
	return "backup"
}

// Inspection is the read-only state of a replica that checkers and operators read (the
// runbook's `replica status`). It is a value: holding it does not hold the replica.
type Inspection struct {
	Replica int
	Status  Status
	Role    Role
	Epoch   uint32 // the configuration epoch (a failover or a reconfiguration raises it)
	// Outside is the configuration's membership: bit i set, replica index i is not a member
	// (reconfig.go). Zero: every formatted replica is.
	Outside uint16
	// Joining: formatted to join, waiting to be added; its Epoch is the floor it was
	// formatted at and its Outside names only itself. Removed: stopped outside its
	// configuration (reconfig.go).
	Joining, Removed bool
	View             uint32
	LogView          uint32
	Op               uint64 // op_number: the highest op in the log
	CommitMin        uint64 // the highest op executed by the state machine
	CommitMax        uint64 // commit_number: the highest op known committed
	CheckpointOp     uint64
	LogHead          checksum.Sum // checksum of the prepare at Op
	Digest           checksum.Sum // state-machine digest at CommitMin
	Release          uint32       // the release of the replica's binary
	// ClusterRelease is the release whose semantics the state machine runs at CommitMin.
	ClusterRelease uint32
	// ClockSynchronized reports whether the replica's realtime agrees with a quorum.
	ClockSynchronized bool
	ClockOffsetNs     int64
	// ClockSamples has bit i set when the replica holds a clock sample from replica i, taken
	// when its monotonic clock read ClockSampleAtNs[i]: read-only, for a checker that
	// recomputes the verdict and offset from the pongs it saw delivered at those instants.
	ClockSamples    uint16
	ClockSampleAtNs [ReplicasMax]int64
	// ClockUnsyncStreak is how many ticks in a row the replica has found its clock
	// unsynchronised (0 after a synchronised tick): a primary abdicates on a long one.
	ClockUnsyncStreak int
	// DiskFull reports that the last log write failed for lack of space: the replica accepts
	// no new operations until space is freed.
	DiskFull     bool
	DiskUsagePct int
	// DiskCompactableBytes is what `storage compact` would free now.
	DiskCompactableBytes int64
	// Isolated reports that an operator cut the replica off (Replica.Isolate): it receives,
	// sends and times out nothing until Unisolate.
	Isolated bool
	// CheckpointLost reports that the replica's checkpoint did not survive on its disk: it
	// stays recovering until it installs a peer's (state sync).
	CheckpointLost bool
	// StateWritePending reports that a superblock write is in flight or queued in the
	// storage engine, or that a failed one waits for the next tick to be written again: until
	// it lands, the durable commit number, view and log view on disk may trail what the
	// replica means to persist (persistState). Read-only, for a checker of the persisted state.
	StateWritePending bool
	// LogWriteRetry reports that the replica's last log write failed (an I/O error) and waits
	// for the repair timeout to be written again (onRepairTimeout, flushLog): until then the
	// entry it wrote may hold the commit number persistState persists below it
	// (unverifiedFloor), though the disk may hold it whole. At most one repair round long: the
	// timeout clears it as it writes again. Read-only, for a checker of the persisted state.
	LogWriteRetry bool
	// StandbyLagOps and StandbyLagNs are a standby's lag behind the primary it hears from
	// (standby.go), and StandbyEligible whether it may be promoted: both within the
	// runbook's bounds (StandbyLagMaxNs, StandbyLagOpsMax). Zero for active replicas.
	StandbyLagOps   uint64
	StandbyLagNs    int64
	StandbyEligible bool
	// StandbyLagKnown reports that the standby has heard from a primary since its process
	// started, so that its lag (StandbyLagOps, StandbyLagNs, StandbyContactLagNs) is a
	// measurement. Until then, after every start and restart, its lag is unknown: those
	// fields are zero and say nothing (not "caught up"), and it is not eligible. False for
	// active replicas.
	StandbyLagKnown bool
	// StandbyID is a standby's operator-facing id (StandbyIDBase + k), StandbyReadsMaxQPS its
	// read limit (0: none); both zero for active replicas.
	StandbyID          int
	StandbyReadsMaxQPS int
	// StandbyContactLagNs is the standby's lag when it last heard from the primary (what a
	// failover judges it by once the primary is gone).
	StandbyContactLagNs int64
	Metrics             Metrics
}

// Metrics are the runbook's counters, kept by the replica itself.
type Metrics struct {
	CommitsTotal      uint64 // ops executed
	ViewChangesTotal  uint64 // views entered
	Repairs           uint64 // prepares received through repair
	StateSyncs        uint64 // checkpoints installed from a peer
	Truncations       uint64 // log suffixes dropped
	NackTruncations   uint64 // suffixes dropped on a quorum of nack_prepare (PAR)
	Evictions         uint64 // client sessions evicted
	Upgrades          uint64 // cluster release changes executed
	Checkpoints       uint64
	ClockUnsyncTicks  uint64 // ticks spent unsynchronised
	DiskFullRejects   uint64 // requests refused because the disk was full
	RequestsDuplicate uint64 // retries answered from the client table
	RequestsForwarded uint64 // requests a backup forwarded to its primary
	StaleReads        uint64 // reads a standby served from its executed state
	StaleReadsDropped uint64 // reads a standby refused: throttled (standby throttle --max-qps)
	StaleReadsBehind  uint64 // reads a standby refused: the client had read a newer op there
	EpochStops        uint64 // stops on learning this replica is outside the configuration (reconfig.go)
	Reconfigurations  uint64 // configurations entered (reconfig.go)
	// CommitLatency is a histogram of prepare-to-commit latency on the primary.
	CommitLatency Histogram
}

// Histogram counts latencies in power-of-two millisecond buckets: bucket i holds samples in
// [2^(i-1), 2^i) ms, bucket 0 those under 1 ms.
type Histogram struct {
	Buckets [16]uint64
	Count   uint64
	MaxNs   int64
}

// Record adds a latency sample.
func (h *Histogram) Record(ns int64) {
	ms := ns / 1_000_000
	i := 0
	for ms > 0 && i < len(h.Buckets)-1 {
		ms >>= 1
		i++
	}
	h.Buckets[i]++
	h.Count++
	h.MaxNs = max(h.MaxNs, ns)
}

// QuantileMs returns an upper bound, in ms, of the q quantile (0 < q <= 1): the upper end
// of the bucket that holds the sample of rank ceil(q*Count) (the nearest-rank quantile).
// Rounding the rank to nearest instead took, for 160 samples, the 158th for p99 and not
// the 159th: an "upper bound" that could sit a bucket below the quantile.
func (h *Histogram) QuantileMs(q float64) int64 {
	assert.That(q > 0 && q <= 1, "histogram: quantile out of (0, 1]")
	if h.Count == 0 {
		return 0
	}
	// The epsilon keeps a product that is whole in decimal (0.99 * 100) from rounding up.
	target := max(uint64(math.Ceil(float64(h.Count)*q-1e-9)), 1)
	var seen uint64
	for i, c := range h.Buckets {
		seen += c
		if seen >= target && c > 0 {
			return int64(1) << i
		}
	}
	return h.MaxNs / 1_000_000
}

// EventKind names what an Event reports.
type EventKind int

const (
	EventStatus EventKind = iota // status, view or role changed
	EventCommit                  // an op was executed: Op, Checksum
	EventCheckpoint
	EventRepair
	EventStateSync
	EventTruncate
	EventEviction
	EventClockUnsynchronized
	EventDiskFull
	EventRecovered
	EventUpgrade // the cluster release rose (upgrade.go): Op is the upgrade op
	// EventVoteSelf: a primary counted its own prepare_ok for Op (Checksum): its own copy
	// is durable, so the harness can hold the disk to it like any backup's prepare_ok.
	EventVoteSelf
)

var eventNames = [...]string{"status", "commit", "checkpoint", "repair", "state_sync", "truncate", "eviction",
	"clock_unsynchronized", "disk_full", "recovered", "upgrade", "vote_self"}

func (k EventKind) String() string {
	if int(k) < len(eventNames) {
		return eventNames[k]
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is something a replica reports to its observer (the simulator's trace and checkers).
type Event struct {
	Kind     EventKind
	Replica  int
	Epoch    uint32 // the replica's configuration epoch (reconfig.go)
	View     uint32
	Op       uint64
	Checksum checksum.Sum
	Text     string
	// Prepare is, for EventCommit, the whole prepare message the replica executed (header
	// and body, as executed), and Timestamp its timestamp: checkers compute their own digest
	// of what ran rather than trusting the header's checksum claim. Read-only; nil otherwise.
	Prepare   []byte
	Timestamp int64
}

// Observer receives a replica's events, synchronously, from the replica's own calls.
type Observer interface {
	Event(Event)
}
