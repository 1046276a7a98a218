package faults

import (
	"vopr/cluster/vsr"
	"vopr/sim"
)

// ActionCrashInRecovery is the crash of a restarting replica as one of its recovery's
// writes lands.
const ActionCrashInRecovery = "crash.in_recovery"

// recoveryCrashWritesMax bounds which of the recovery's mutating completions (writes,
// syncs, truncations, removals) the crash strikes at.
const recoveryCrashWritesMax = 4

// The crash during recovery (crash_at_io on, the crash after a cut's
// stream): a quarter of the nemesis's restarts arm it for the restarted replica, which
// then crashes as the j-th write, sync, truncation or removal of its storage's Open lands,
// before the replica learns of it. Open repairs what it found (cuts an unfinished append,
// writes records found only out of place, removes stale checkpoints), and a crash in the
// middle must leave a disk the next Open recovers from as well (PAR's recovery must itself
// survive a crash). A recovery that finishes with fewer such writes disarms it. Its
// countdown is n.recovery.
//
// armRecoveryCrash arms it for replica i, just restarted, a quarter of the time.
func (n *Nemesis) armRecoveryCrash(i int) {
	if n.cut.r == nil || n.recovery.replica >= 0 || n.cut.r.IntN(4) != 0 {
		return
	}
	n.recovery = countdown{replica: i, left: 1 + n.cut.r.IntN(recoveryCrashWritesMax)}
}

// onRecoveryEvent disarms the crash once the replica has recovered.
func (n *Nemesis) onRecoveryEvent(e vsr.Event) {
	if e.Kind == vsr.EventRecovered && e.Replica == n.recovery.replica {
		n.recovery = disarmed
	}
}

// onRecoveryCompletion counts the recovering replica's mutating completions and crashes it
// at the j-th.
func (n *Nemesis) onRecoveryCompletion(c *sim.Cluster, replica int, io sim.IOCompletion) bool {
	if n.healed {
		return false
	}
	switch io.Op {
	case sim.IOWrite, sim.IOSync, sim.IOTruncate, sim.IORemove:
	default:
		return false
	}
	return n.recovery.tick(replica) &&
		n.crashAtCompletion(c, replica, io, ActionCrashInRecovery, "while it recovered", MarkCrashInRecovery)
}
