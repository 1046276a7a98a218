package scenarios

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"vopr/cluster/storage"
	"vopr/sim"
)

// divergent_matrix's checkpoint variants: the old primary's stale suffix superseded by a
// checkpoint (a peer's, installed by state sync, or its own, taken over ops it executed from
// memory and left to that checkpoint), and then that checkpoint rots, or a crash comes before
// it is durable. Recovery must not replay the stale entries as the committed history, nor
// trust them: the engine knows the checkpoint did not audit them (checkpointRef.Audited,
// loggedThrough, forgetOffChain, leftToCheckpoint). The swarm meets this only when a
// synced_checkpoint_loss or late_checkpoint_loss move happens to strike a replica that held
// an older view's suffix; the variants build it on every seed that draws them. Their draws
// come from their own stream ("divergent_matrix.sync"), so the other knobs keep the
// placements they had before the variants.

const (
	// divergentRotReadyTicksMax bounds the wait for r0's newest checkpoint to be durable before
	// its rot: a seed whose r0 takes none in that time skips the rot (rot.not_ready).
	divergentRotReadyTicksMax = 1500
	// divergentRotWaitTicksMax: after the checkpoint is durable, r0 runs 0..that many ticks on
	// (repairs, writes above the checkpoint, perhaps its own next checkpoint) before it crashes.
	divergentRotWaitTicksMax = 150
	// divergentPastHoldTicksMin/Max: the held heartbeats of a seed just past the checkpoint
	// (3-8 s): without them r0 state-syncs at once (the checkpoint in the primary's heartbeat
	// is more than half an interval ahead of it); with them it repairs from the other backup,
	// leaves its stale entries to checkpoint 64 and takes that checkpoint itself.
	divergentPastHoldTicksMin = 300
	divergentPastHoldTicksMax = 800
	// divergentCheckpointCrashMax bounds which of r0's superblock or checkpoint-file
	// completions after the heal the crash strikes at (checkpointCrash).
	divergentCheckpointCrashMax = 6
)

// divergentSync is a seed's draw of the checkpoint variants (all zero: none).
type divergentSync struct {
	// rots is how many times r0's newest checkpoint rots (0, 1 or 2), in seeds past the
	// checkpoint: each time once it is durable and rotWait ticks have passed, r0 crashes, a
	// sector of the checkpoint file (or of every checkpoint file: rotAll) is corrupted or made
	// unreadable (rotLatent), and it restarts. A second rot strikes the checkpoint r0
	// installs or takes after the first (a lost one installed again, or one after a fallback).
	rots      int
	rotAll    bool
	rotLatent bool
	rotWait   [2]int
	// rotSector picks the sector of each file struck (modulo its sector count).
	rotSector [2]int
	// checkpointCrash (a quarter of the seeds past the checkpoint) moves the first crash
	// from r0's crashAt-th completion to its checkpointCrash-th completion on the superblock
	// or a checkpoint file: after it persisted its state over ops executed from memory, at
	// or before the checkpoint covering them is durable.
	checkpointCrash int
	// pastHold (half the seeds just past the checkpoint, not far): the primary's messages to
	// r0 are held that long once it has installed the newer log (holdTicks's mechanism).
	pastHold int
}

func (s divergentSync) String() string {
	rot := "none"
	if s.rots > 0 {
		files, kind := "newest", "corrupt"
		if s.rotAll {
			files = "all"
		}
		if s.rotLatent {
			kind = "latent"
		}
		rot = fmt.Sprintf("%dx%s/%s/wait=%d,%d", s.rots, files, kind, s.rotWait[0], s.rotWait[1])
	}
	return fmt.Sprintf("checkpoint_crash=%s rot=%s", ioOrNone(s.checkpointCrash), rot)
}

func ioOrNone(n int) string {
	if n == 0 {
		return "none"
	}
	return fmt.Sprintf("io%d", n)
}

// drawDivergentSync draws the variants of p's seed from their own stream, every draw made
// whatever the earlier ones gave. Only seeds past the checkpoint take them: below it r0 has
// no checkpoint to lose.
func drawDivergentSync(seed uint64, p divergentParams) divergentSync {
	rng := sim.Stream(seed, "divergent_matrix.sync")
	var s divergentSync
	rots, all, latent := rng.IntN(4), rng.IntN(4) == 0, rng.IntN(2) == 0
	for i := range 2 {
		s.rotWait[i], s.rotSector[i] = drawRotWait(rng), rng.IntN(1<<20)
	}
	crash, crashDrawn := 1+rng.IntN(divergentCheckpointCrashMax), rng.IntN(4) == 0
	hold, holdDrawn := divergentPastHoldTicksMin+rng.IntN(divergentPastHoldTicksMax-divergentPastHoldTicksMin+1), rng.IntN(2) == 0
	if !p.pastCheckpoint {
		return divergentSync{}
	}
	// Half the seeds past the checkpoint rot once, a quarter twice.
	switch rots {
	case 1, 2:
		s.rots = 1
	case 3:
		s.rots = 2
	}
	if s.rots > 0 {
		s.rotAll, s.rotLatent = all, latent
	} else {
		s.rotWait, s.rotSector = [2]int{}, [2]int{}
	}
	if crashDrawn {
		s.checkpointCrash = crash
	}
	if holdDrawn && !p.far {
		s.pastHold = hold
	}
	return s
}

// drawRotWait is 0 a third of the time (the crash as soon as the checkpoint is durable, its
// stale entries certainly still on disk), else up to divergentRotWaitTicksMax ticks.
func drawRotWait(rng *rand.Rand) int {
	if w := rng.IntN(divergentRotWaitTicksMax + divergentRotWaitTicksMax/2); w >= divergentRotWaitTicksMax/2 {
		return w - divergentRotWaitTicksMax/2
	}
	return 0
}

// divergentRot is the run's state of the variants: the checkpoint r0 last made durable
// (reported by its state sync or checkpoint event, since its last start).
type divergentRot struct {
	want  uint64 // the op of r0's last checkpoint or state sync event since its last start
	rotAt uint64 // the checkpoint op struck last
	// filtering: the first crash is armed on checkpoint I/O only (countsForCrash).
	filtering bool
	opening   bool // r0 restarted after a rot and has not reported its recovery yet
	lost      bool // a rot left r0's checkpoint lost
}

// onRotEvent remembers r0's checkpoints and state syncs: the rot waits for one to be durable.
func (run *divergentRun) onRotEvent(kind string, op uint64) {
	if run.p.sync.rots == 0 {
		return
	}
	run.rot.want = op
	run.counts["divergent_matrix.rot.installs."+kind]++
}

// countsForCrash reports whether r0's completion io counts toward the armed crash: every
// completion, or with checkpointCrash only those of the superblock and checkpoint files.
func (run *divergentRun) countsForCrash(io sim.IOCompletion) bool {
	if run.boundaryOpen {
		return strings.HasPrefix(io.Name, "log-") // divergent_boundary.go
	}
	if !run.rot.filtering {
		return true
	}
	if io.Name == "superblock" || strings.HasPrefix(io.Name, "checkpoint-") {
		run.counts["divergent_matrix.checkpoint_crash.candidates"]++
		return true
	}
	return false
}

// rotCheckpoints rots r0's newest checkpoint the drawn number of times, each once it is
// durable, crashing and restarting r0 around the damage.
func (run *divergentRun) rotCheckpoints() (Outcome, string) {
	for i := range run.p.sync.rots {
		ready := func() bool { return run.rotReady() && (i == 0 || run.segmentAtCheckpoint()) }
		if !run.until(ready, divergentRotReadyTicksMax) {
			if reason := run.safety(); reason != "" {
				return Correctness, reason
			}
			run.counts["divergent_matrix.rot.not_ready"]++
			return Pass, ""
		}
		wait := run.p.sync.rotWait[i]
		if i == 0 && run.p.sync.rots == 2 {
			// The first of two rots strikes at once, before r0 writes the segment of its
			// checkpoint's op, so that the checkpoint is lost and installed again by state sync;
			// the second (segmentAtCheckpoint) then falls back below that reinstalled one.
			wait = 0
		}
		run.until(func() bool { return false }, wait)
		if reason := run.safety(); reason != "" {
			return Correctness, reason
		}
		run.rotOnce(i)
	}
	return Pass, ""
}

// rotReady: r0 runs, and the checkpoint of its last checkpoint or state sync event since its
// last start is its durable one, and not the one struck last (a lost checkpoint installed
// again is struck again only once installed anew).
func (run *divergentRun) rotReady() bool {
	rep := run.c.Replica(0)
	if rep == nil || run.rot.want == 0 || rep.CheckpointOp() != run.rot.want {
		return false
	}
	return !rep.InspectState().CheckpointLost
}

// segmentAtCheckpoint reports whether r0's disk holds the log segment of its checkpoint's op:
// the second rot waits for it. Without it, a rotted checkpoint of the first segments is lost
// (Open cannot replay the log from op 0 up to it) and installed again by state sync; with it,
// Open falls back to the state at op 0 and replays the log, which must then hold the ops the
// reinstalled checkpoint never audited (its stale entries) faulty, as the lost one's audit
// point says (storage.reinstalled_lost_checkpoint_claims_audited's shape).
func (run *divergentRun) segmentAtCheckpoint() bool {
	name := segmentName(segmentOf(run.c.Replica(0).CheckpointOp()))
	for _, n := range run.c.Nodes[0].Disk.Names() {
		if n == name {
			return true
		}
	}
	return false
}

// rotOnce crashes r0, damages one sector of its newest checkpoint file (or of each), notes
// whether its stale entries are still on its disk, and restarts it.
func (run *divergentRun) rotOnce(i int) {
	c, sync := run.c, run.p.sync
	op := c.Replica(0).CheckpointOp()
	c.CrashReplica(0)
	run.inspect()
	disk := c.Nodes[0].Disk
	for _, name := range disk.Names() {
		digits, ok := strings.CutPrefix(name, "checkpoint-")
		if !ok {
			continue
		}
		if n, err := strconv.ParseUint(digits, 16, 64); err != nil || (n != op && !sync.rotAll) {
			continue
		}
		size, err := disk.Size(name)
		if err != nil || size < storage.SectorSize {
			continue
		}
		offset := storage.SectorSize * int64(sync.rotSector[i]%int(size/storage.SectorSize))
		if sync.rotLatent {
			disk.LatentSectorError(name, offset)
		} else {
			disk.CorruptSector(name, offset)
		}
		run.counts["divergent_matrix.rot.files"]++
		run.note("r0's checkpoint file %s rotted at %d", name, offset)
	}
	run.counts["divergent_matrix.rot"]++
	if i > 0 {
		run.counts["divergent_matrix.rot.again"]++
	}
	if op == run.rot.rotAt {
		run.counts["divergent_matrix.rot.reinstalled"]++
	}
	if run.staleOnDisk() {
		run.counts["divergent_matrix.rot.stale_on_disk"]++
	}
	run.rot.want, run.rot.rotAt, run.rot.opening = 0, op, true
	c.StartReplica(0)
}

// onRotRecovered counts how r0's Open after a rot met the rotted checkpoint: lost (it waits
// for a peer's), or fallen back to an older one (op 0's state included).
func (run *divergentRun) onRotRecovered(lost bool) {
	if !run.rot.opening {
		return
	}
	run.rot.opening = false
	switch {
	case lost:
		run.counts["divergent_matrix.rot.lost"]++
		run.rot.lost = true
	case run.c.Replica(0).CheckpointOp() < run.rot.rotAt:
		run.counts["divergent_matrix.rot.fell_back"]++
		if run.rot.lost && run.staleOnDisk() { // the reinstalled checkpoint's fallback: the mutant's shape
			run.counts["divergent_matrix.rot.reinstalled_fell_back_over_stale"]++
		}
	}
}

// staleOnDisk reports whether r0's disk still holds one of its own stale prepares intact:
// the entries a replay after the rot must not take for committed.
func (run *divergentRun) staleOnDisk() bool {
	for op := uint64(run.p.a) + 1; op < uint64(len(run.stale)); op++ {
		if _, ok := run.disks.entry(0, op, run.stale[op]); ok {
			return true
		}
	}
	return false
}
