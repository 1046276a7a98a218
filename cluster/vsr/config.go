package vsr

import (
	"math/rand/v2"

	"vopr/cluster/storage"
)

// Limits. Every queue, window and message of the replica is bounded by one of these.
const (
	// ReplicasMax bounds the cluster size (active replicas).
	ReplicasMax = 6
	// StandbysMax bounds the standby replicas that follow a cluster without voting. A
	// standby's index comes after the active replicas' (ReplicaCount + k); operators know
	// it as StandbyIDBase + k, the runbook's replica id 100 and up.
	StandbysMax = 4
	// StandbyIDBase is the operator-facing id of standby 0.
	StandbyIDBase = 100
	// PipelinePrepareMax is how many prepares a primary keeps in flight, uncommitted.
	PipelinePrepareMax = 8
	// RequestQueueMax bounds the requests a primary holds before it prepares them.
	RequestQueueMax = 64
	// BatchEntriesMax bounds the client requests batched into one prepare.
	BatchEntriesMax = 64
	// CheckpointInterval is how many ops separate checkpoints.
	CheckpointInterval = 64
	// LogSlotsMax is the in-memory log window; ops live in slot op % LogSlotsMax.
	LogSlotsMax = 4 * CheckpointInterval
	// PrepareAheadMax bounds how far past its checkpoint a primary may prepare, so the log
	// window never wraps over ops that are not yet checkpointed.
	PrepareAheadMax = 2 * CheckpointInterval
	// ClientsMax bounds the client table; the oldest session is evicted when it is full.
	ClientsMax = 64
	// RequestBodyMax bounds a client request's payload.
	RequestBodyMax = 4096
	// RepairRequestsMax bounds the prepares a replica asks for per repair timeout: a burst
	// larger than a path's queue would evict its own first (and most needed) requests.
	RepairRequestsMax = 4
	// DiskFullClearPercent: a replica that stopped taking operations on a full disk takes
	// them again once usage is below this (the runbook's 90% alert level).
	DiskFullClearPercent = 90
	// ClockToleranceNs is the runbook's clock-offset tolerance: a replica whose realtime is
	// further than this from the cluster's agreed time does not timestamp operations.
	ClockToleranceNs = 500_000_000
	// ClockSampleAgeMaxNs is how long a clock sample stays usable.
	ClockSampleAgeMaxNs = 10_000_000_000
)

// Config holds the tunables an operator can change at run time (the runbook's
// `cluster config set`). Ticks are 10 ms of the replica's monotonic clock.
type Config struct {
	// HeartbeatTicks is how often a primary sends commit heartbeats
	// (heartbeat-interval-ms / 10).
	HeartbeatTicks int
	// ElectionTimeoutTicks is how long a backup waits without hearing from its primary
	// before it starts a view change (election-timeout-ms / 10), before jitter.
	ElectionTimeoutTicks int
	// BatchMax is the runbook's max-batch-size: client requests per prepare.
	BatchMax int
	// PrepareResendTicks is how often unacknowledged prepares are sent again.
	PrepareResendTicks int
	// PingTicks is how often replicas exchange pings (liveness and clock samples).
	PingTicks int
	// RepairTicks is how often a replica asks for missing prepares.
	RepairTicks int
	// ViewChangeResendTicks is how often view-change messages are sent again.
	ViewChangeResendTicks int
	// ViewChangeTimeoutTicks is how long a view change may last before the next view.
	ViewChangeTimeoutTicks int
}

// DefaultConfig is the configuration of a fresh cluster.
func DefaultConfig() Config {
	return Config{
		HeartbeatTicks:         5,
		ElectionTimeoutTicks:   50,
		BatchMax:               BatchEntriesMax,
		PrepareResendTicks:     10,
		PingTicks:              10,
		RepairTicks:            5,
		ViewChangeResendTicks:  10,
		ViewChangeTimeoutTicks: 100,
	}
}

// Validate reports a configuration an operator must not be allowed to set.
func (c Config) Validate() error {
	switch {
	case c.HeartbeatTicks < 1, c.PrepareResendTicks < 1, c.PingTicks < 1, c.RepairTicks < 1,
		c.ViewChangeResendTicks < 1:
		return errConfig("intervals must be at least one tick")
	case c.ElectionTimeoutTicks <= 2*c.HeartbeatTicks:
		return errConfig("election timeout must exceed two heartbeats")
	case c.ViewChangeTimeoutTicks <= c.ViewChangeResendTicks:
		return errConfig("view change timeout must exceed its resend interval")
	case c.BatchMax < 1 || c.BatchMax > BatchEntriesMax:
		return errConfig("batch size out of range")
	}
	return nil
}

type errConfig string

func (e errConfig) Error() string { return "config: " + string(e) }

// Clock is the replica's view of time, in nanoseconds: a monotonic clock for timeouts and
// round trips, and a realtime clock that is synchronised with the cluster's before it is
// used for timestamps.
type Clock interface {
	Monotonic() int64
	Realtime() int64
}

// Bus sends messages. The replica never blocks on it; delivery is the bus's business.
type Bus interface {
	SendToReplica(replica int, msg []byte)
	SendToClient(client uint64, msg []byte)
}

// Options construct a replica.
type Options struct {
	Cluster      uint64
	ReplicaCount int
	// StandbyCount is how many standbys follow the cluster (0..StandbysMax). Replica
	// indices ReplicaCount..ReplicaCount+StandbyCount-1 are standbys: they journal, repair
	// and execute the log like backups but never vote, never count towards a quorum and
	// never lead (standby.go).
	StandbyCount int
	Replica      int
	Release      uint32
	FS           storage.FS
	Bus          Bus
	Clock        Clock
	// Rand draws timeout jitter. It is the only randomness the replica uses.
	Rand   *rand.Rand
	Config Config
	// Observer receives events (status changes, commits, assertions of progress); may be nil.
	Observer Observer
	// ClientsMax is the client table's capacity (0: the constant ClientsMax). It is part of
	// the replicated state machine, so every replica of a cluster must use the same value.
	ClientsMax int
	// SyncChunkBytes is the most snapshot bytes one state-sync message carries (0: as many as
	// a message holds, syncChunkMax). Every replica of a cluster must use the same value. A
	// simulation draws it small, so that the few-kilobyte snapshots of its short runs travel
	// in several chunks, as a production state machine's megabytes do.
	SyncChunkBytes int
	// Mutation plants a bug, for the harness's own tests; see mutation.go.
	Mutation Mutation
}
