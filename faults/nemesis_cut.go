package faults

import (
	"math/rand/v2"
	"slices"
	"strings"

	"vopr/sim"
)

// logFilePrefix begins the name of every log segment file (cluster/storage).
const logFilePrefix = "log-"

// ActionCrashAfterCut is the crash a few I/O completions after a replica cut its log.
const ActionCrashAfterCut = "crash.after_cut"

// cutCrashIOMax bounds how many of the cutting replica's I/O completions the crash waits
// for: the cut's truncation, its tombstones' read-back, the new log's first appends and
// their syncs, and the superblock that names the new log view all complete within a few.
const cutCrashIOMax = 8

// cutCrash is the crash after a log cut (crash_at_io on): armed at a random tick, it picks
// the first replica whose storage then truncates a log file, and crashes it as its k-th
// I/O completion after that truncation, before the replica learns of it. Where the cut's
// writes, the new log's appends and the superblock naming the new log view stand in the
// sequence at that instant varies with k, and unsynced writes are lost or torn as at any
// crash: the recovery then meets a log cut half done (a log view that names ops the disk
// no longer holds, tombstones without the truncation, an older view's entry under a newer
// header). It draws from its own stream, so seeds it never strikes keep their schedules.
//
// Invariants: at.replica >= 0 only while armed (until != 0), once a cut was seen.
type cutCrash struct {
	r     *rand.Rand // nil: the move is off
	until uint64     // armed until this tick; 0 when not armed
	at    countdown  // the cutting replica's completions still to let through
}

// ArmCutCrashes turns on the crash after a log cut, drawing from r
// (sim.Stream(seed, "nemesis/cut")), with crashes at I/O points on.
func (n *Nemesis) ArmCutCrashes(r *rand.Rand) {
	if n.o.CrashAtIOProbability > 0 {
		n.cut = cutCrash{r: r, at: disarmed}
	}
}

// stepCut arms the move, or gives up on an armed one nobody reached in time.
func (n *Nemesis) stepCut() {
	k := &n.cut
	if k.r == nil || n.healed {
		return
	}
	if k.until != 0 && n.tick >= k.until {
		*k = cutCrash{r: k.r, at: disarmed}
	}
	if k.until == 0 && sim.Chance(k.r, n.o.CrashAtIOProbability) {
		k.until = n.tick + crashAtIOWaitTicks
	}
}

// onCutCompletion picks the replica whose log file truncation completes while the move is
// armed (the engine cuts its log: a view change chose a log without some of its ops, an
// entry was replaced, nacks truncated a suffix, or recovery cut an unfinished append), then
// counts its completions and crashes it at the k-th after that one.
func (n *Nemesis) onCutCompletion(c *sim.Cluster, replica int, io sim.IOCompletion) bool {
	k := &n.cut
	if k.r == nil || k.until == 0 || n.healed {
		return false
	}
	if k.at.replica < 0 {
		if io.Op == sim.IOTruncate && io.Err == nil && strings.HasPrefix(io.Name, logFilePrefix) &&
			slices.Contains(n.mayTakeDown(c), replica) {
			k.at = countdown{replica: replica, left: 1 + k.r.IntN(cutCrashIOMax)}
			k.until = n.tick + crashAtIOWaitTicks
		}
		return false
	}
	if !k.at.tick(replica) {
		return false
	}
	*k = cutCrash{r: k.r, at: disarmed}
	return n.crashAtCompletion(c, replica, io, ActionCrashAfterCut, "after cutting its log", MarkCrashAfterCut)
}
