package faults

import (
	"errors"
	"math/rand/v2"
	"slices"

	"vopr/cluster/storage"
	"vopr/internal/coverage"
	"vopr/sim"
)

// ActionCrashAfterSyncError is the crash a few I/O completions after a replica's sync failed.
const ActionCrashAfterSyncError = "crash.after_sync_error"

// syncErrorCrashIOMax bounds how many of the replica's I/O completions the crash waits for
// after the failed sync: its handling of the failure (a rewrite, a retry, or, in a buggy
// engine, the next step as if the data were durable: the superblock naming it, a vote or an
// acknowledgement) lands within a few.
const syncErrorCrashIOMax = 6

// MarkCrashAfterSyncError: the crash after a failed sync struck.
var MarkCrashAfterSyncError = coverage.Declare("crash_at_io.after_sync_error",
	"a replica crashed a few I/O completions after one of its syncs failed (disk.sync_error), before it could rewrite what the failure lost")

// syncErrorCrash is the crash after a failed sync (disk.sync_error on): when a sync of a
// replica that may be taken down fails, half the time it crashes that replica at its k-th
// I/O completion after the failure, before the replica learns of it. A failed sync loses
// what it was to make durable, or keeps some of it whole (sim.Disk.syncFails); an engine that
// takes the failure for success runs on state its disk does not hold, which shows only if
// the replica restarts before a later write covers it: an fsync failure followed by a crash,
// the case of Rebello et al. (ATC'20). A kept write the engine was told failed shows if the
// replica restarts before the engine writes over it. It draws from its own stream, so seeds without sync errors keep
// their schedules.
//
// Invariants: at.replica >= 0 only while armed (until != 0).
type syncErrorCrash struct {
	r     *rand.Rand // nil: the move is off
	until uint64     // armed until this tick (a replica crashed meanwhile completes nothing)
	at    countdown  // the failing replica's completions still to let through
}

// ArmSyncErrorCrashes turns on the crash after a failed sync, drawing from r
// (sim.Stream(seed, "nemesis/sync_error")), when the swarm draws sync errors.
func (n *Nemesis) ArmSyncErrorCrashes(r *rand.Rand) {
	n.syncError = syncErrorCrash{at: disarmed}
	if n.swarm.Disk.SyncErrorProbability > 0 {
		n.syncError.r = r
	}
}

// onSyncErrorCompletion arms the crash at a failed sync, or counts the armed replica's
// completions and crashes it at the k-th.
func (n *Nemesis) onSyncErrorCompletion(c *sim.Cluster, replica int, io sim.IOCompletion) bool {
	k := &n.syncError
	if k.r == nil || n.healed {
		return false
	}
	if k.at.replica >= 0 && n.tick >= k.until {
		k.at, k.until = disarmed, 0
	}
	if k.at.replica < 0 {
		if io.Op == sim.IOSync && errors.Is(io.Err, storage.ErrIO) && k.r.IntN(2) == 0 &&
			slices.Contains(n.mayTakeDown(c), replica) {
			k.at, k.until = countdown{replica: replica, left: 1 + k.r.IntN(syncErrorCrashIOMax)}, n.tick+crashAtIOWaitTicks
		}
		return false
	}
	if !k.at.tick(replica) {
		return false
	}
	k.until = 0
	return n.crashAtCompletion(c, replica, io, ActionCrashAfterSyncError, "after a sync failed", MarkCrashAfterSyncError)
}
