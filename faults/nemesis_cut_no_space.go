package faults

import (
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"strings"

	"vopr/cluster/storage"
	"vopr/cluster/vsr"
	"vopr/internal/coverage"
	"vopr/sim"
)

// ActionCrashAfterCutNoSpace is the crash a few I/O completions after a replica's log cut
// met ErrNoSpace on its marks.
const ActionCrashAfterCutNoSpace = "crash.after_cut_no_space"

// The storage engine's mark magics ("VOPRTMB1", "VOPRDST1"), at byte 16 of a mark sector:
// a tombstone, and a distrust mark, which a truncation writes over the records of the ops
// it drops (cluster/storage/record.go).
const (
	tombstoneMagicAt16 = 0x31424d5452504f56
	distrustMagicAt16  = 0x3154534452504f56
)

// cutNoSpaceCrashIOMax bounds how many of the replica's I/O completions the crash waits for
// after the refused mark: the failed truncation, the superblock write naming the new log
// view (which must first finish the cut) and the new log's first appends land within a few.
const cutNoSpaceCrashIOMax = 8

// MarkCutNoSpace and MarkCrashAfterCutNoSpace: a mark write of a replica's log cut was
// refused for lack of space; the crash after one struck.
var (
	MarkCutNoSpace = coverage.Declare("disk_write_error.cut_no_space",
		"a replica's write of the marks a truncation puts over its dropped ops' records failed with ErrNoSpace (disk.write_error)")
	MarkCrashAfterCutNoSpace = coverage.Declare("crash_at_io.after_cut_no_space",
		"a replica crashed a few I/O completions after a mark write of its truncation failed with ErrNoSpace, before the cut was finished")
)

// cutNoSpace refuses, with disk.write_error on, a quarter of the mark writes of running
// replicas' truncations (the tombstones and distrust marks written over the records of the
// ops a cut drops) with ErrNoSpace (sim.Disk.AimNoSpace): a tombstone is an overwrite in
// place, which a full copy-on-write file system, or a record sector that is still a hole of
// the sparse segment file, needs a new block for. The truncation then fails, and cuts
// nothing; the replica takes it as done and goes on (a new log view, new appends), so the
// engine must finish the cut before it persists anything over the ops it still holds. Half
// the time, on a replica the nemesis may take down, it also crashes the replica at its k-th
// I/O completion after the refusal, before the cut is finished: a superblock persisted over
// the ops the cut was to drop brings them back, intact, under the new log view. Until that
// move, no truncation failed in the swarm: a write error (ErrIO) on a mark is written again
// (storage's unlessIO), and the capacity never refuses a write that grows no file. It
// draws from its own stream only at mark writes, so seeds without write errors, and the
// writes of seeds with them, draw as before.
//
// Invariants: at.replica >= 0 only while armed (until != 0).
type cutNoSpace struct {
	r     *rand.Rand // nil: the move is off
	until uint64     // the crash is armed until this tick
	at    countdown  // the refused replica's completions still to let through
}

// ArmCutNoSpace turns on the refused marks, drawing from r (sim.Stream(seed,
// "nemesis/cut_no_space")), when the swarm draws write errors; Install aims them at the
// replicas' disks.
func (n *Nemesis) ArmCutNoSpace(r *rand.Rand) {
	n.cutNoSpace = cutNoSpace{at: disarmed}
	if n.swarm.Disk.WriteErrorProbability > 0 {
		n.cutNoSpace.r = r
	}
}

// installCutNoSpace aims the refused marks at each replica's disk.
func (n *Nemesis) installCutNoSpace(c *sim.Cluster) {
	if n.cutNoSpace.r == nil {
		return
	}
	for i := 0; i < n.swarm.Replicas; i++ {
		c.Nodes[i].Disk.AimNoSpace(func(name string, _ int64, data []byte) bool { return n.refuseMark(c, i, name, data) })
	}
}

// refuseMark decides, at the completion of a write of replica i, whether the disk refuses
// it: a quarter of the mark writes to a log segment while the replica runs (not in Open,
// whose failure stops a replica: an operator's case, not the engine's).
func (n *Nemesis) refuseMark(c *sim.Cluster, i int, name string, data []byte) bool {
	k := &n.cutNoSpace
	if n.healed || !strings.HasPrefix(name, logFilePrefix) || len(data) < storage.SectorSize {
		return false
	}
	if magic := binary.LittleEndian.Uint64(data[16:]); magic != tombstoneMagicAt16 && magic != distrustMagicAt16 {
		return false
	}
	r := c.Replica(i)
	if r == nil || c.Nodes[i].Status() != sim.NodeUp {
		return false
	}
	var in vsr.Inspection
	r.InspectStateInto(&in)
	if in.Status == vsr.StatusRecovering || k.r.IntN(4) != 0 {
		return false
	}
	n.hits.Hit(MarkCutNoSpace)
	if k.at.replica < 0 && k.r.IntN(2) == 0 && slices.Contains(n.mayTakeDown(c), i) {
		k.at, k.until = countdown{replica: i, left: 2 + k.r.IntN(cutNoSpaceCrashIOMax-1)}, n.tick+crashAtIOWaitTicks
	}
	return true
}

// onCutNoSpaceCompletion counts the armed replica's completions from a refused mark's (the
// first) and crashes it at the k-th, k >= 2: after the engine heard of the refusal.
func (n *Nemesis) onCutNoSpaceCompletion(c *sim.Cluster, replica int, io sim.IOCompletion) bool {
	k := &n.cutNoSpace
	if k.r == nil || k.at.replica < 0 {
		return false
	}
	if n.healed || n.tick >= k.until {
		k.at, k.until = disarmed, 0
		return false
	}
	if !k.at.tick(replica) {
		return false
	}
	k.until = 0
	return n.crashAtCompletion(c, replica, io, ActionCrashAfterCutNoSpace, "after a mark write of its truncation failed for lack of space", MarkCrashAfterCutNoSpace)
}
