package invariants

import "vopr/cluster/vsr"

// NameCheckpointMonotonic checks that a replica's checkpoint and commit_min never go back:
//   - while it runs, from one inspection to the next;
//   - across a crash and restart: it recovers at or above the newest checkpoint it had made
//     durable (the highest op of its vsr.EventCheckpoint, emitted once the checkpoint and the
//     superblock naming it are synced, and the checkpoint its durable superblock named when
//     it crashed, read from the disk by the harness, if that file held what the copy
//     records: DiskImage.CheckpointUnheld).
//
// A restart that reports its state lost (Inspection.CheckpointLost: the checkpoint did not
// verify and no fallback could stand for it) is held two ways, damage or not:
//   - the op it reports lost is the checkpoint its durable superblock named at the crash
//     (read by the harness from an undamaged superblock): the newest one, never a fallback
//     target that failed to read too;
//   - the checkpoint it then runs on, installed from a peer (state sync), is at or above the
//     op it reported lost: below it, it would execute again ops whose effects the lost
//     checkpoint held, and answer for a state older than one it had made durable.
//
// The other way round, a restart that runs on the format's state (checkpoint op 0) while its
// durable superblock named a checkpoint above it replayed ops 1 through that checkpoint from
// its log: every segment file holding them must have been on disk at the crash
// (DiskImage.FormatReplayable). Otherwise ops it never held went missing from what it
// executed, and the state must have been reported lost instead.
//
// Exempt: a declared wipe or restore of the replica's disk (Suite.OnWipe,
// Suite.OnRestoreFromBackup), and a restart after the simulator damaged the replica's
// superblock or checkpoint (the harness reports it in DiskImage.CheckpointDamaged): storage
// then falls back to the previous checkpoint by design, or the replica state-syncs.
const NameCheckpointMonotonic = "checkpoint_monotonic"

type checkpointTrack struct {
	// seen: an inspection of this incarnation was taken; checkpoint and commitMin are its.
	seen                  bool
	checkpoint, commitMin uint64
	// floor is the checkpoint a restart must not fall below; damaged lifts it for the
	// next restart.
	floor   uint64
	damaged bool
	// faults is the disk's injected-fault count at the crash: a fault injected while it
	// recovered (a read of its checkpoint) excuses the restart too.
	faults uint64
	// named is the checkpoint the durable superblock named at the crash, if the harness read
	// it from an undamaged superblock (namedKnown): what a recovery that loses its state must
	// report lost. A damaged superblock copy lets recovery read an older one, which may name
	// an older checkpoint.
	named      uint64
	namedKnown bool
	// replayable: the crash left every segment of ops 1 through named on disk
	// (DiskImage.FormatReplayable).
	replayable bool
	// lost is the op this incarnation reported its state lost at, once seen (lostSeen): the
	// checkpoint it installs must be at or above it.
	lost     uint64
	lostSeen bool
}

type checkpointMonotonic struct {
	replicas []checkpointTrack
}

func (c *checkpointMonotonic) track(replica int) *checkpointTrack {
	c.replicas = grow(c.replicas, replica)
	return &c.replicas[replica]
}

func (c *checkpointMonotonic) event(e vsr.Event) {
	if e.Kind == vsr.EventCheckpoint {
		x := c.track(e.Replica)
		x.floor = max(x.floor, e.Op)
	}
}

func (c *checkpointMonotonic) inspect(atNs int64, replica int, in *vsr.Inspection) *Violation {
	x := c.track(replica)
	fail := func(format string, args ...any) *Violation {
		return violation(NameCheckpointMonotonic, replica, in.CommitMin, in.View, atNs, format, args...)
	}
	if in.CheckpointLost && !x.lostSeen {
		x.lost, x.lostSeen = in.CheckpointOp, true
		if x.namedKnown && in.CheckpointOp != x.named {
			return fail("reported its state lost at checkpoint op %d, but its durable superblock named checkpoint op %d: "+
				"a lost state is the newest checkpoint's", in.CheckpointOp, x.named)
		}
	}
	if !running(in.Status) {
		return nil
	}
	switch {
	case !x.seen && x.namedKnown && x.named > 0 && in.CheckpointOp == 0 && !x.replayable:
		return fail("restarted on the format's state (checkpoint op 0) though its durable superblock named checkpoint op %d "+
			"and the log segments of ops 1-%d were not all on disk: it could not replay them, and the state must be reported lost",
			x.named, x.named)
	case !x.seen && x.lostSeen && in.CheckpointOp < x.lost:
		return fail("runs at checkpoint op %d after reporting its state lost at checkpoint op %d: "+
			"what it installs must be at or above the checkpoint it lost", in.CheckpointOp, x.lost)
	case x.seen && in.CheckpointOp < x.checkpoint:
		return fail("checkpoint went back from op %d to op %d while it ran", x.checkpoint, in.CheckpointOp)
	case x.seen && in.CommitMin < x.commitMin:
		return fail("commit_min went back from %d to %d while it ran", x.commitMin, in.CommitMin)
	case !x.seen && !x.damaged && in.CheckpointOp < x.floor:
		return fail("restarted at checkpoint op %d, below its durable checkpoint at op %d", in.CheckpointOp, x.floor)
	case !x.seen && !x.damaged && in.CommitMin < x.floor:
		return fail("restarted at commit_min %d, below its durable checkpoint at op %d", in.CommitMin, x.floor)
	}
	if !x.seen && x.damaged {
		// It fell back (or synced) by design: what it runs on now is its checkpoint.
		x.floor, x.damaged = in.CheckpointOp, false
	}
	x.seen, x.checkpoint, x.commitMin = true, in.CheckpointOp, in.CommitMin
	x.floor = max(x.floor, in.CheckpointOp)
	return nil
}

// crash: the next inspection is a restart. image is the disk as the crash left it (nil if
// the harness reads no disks): the checkpoint its superblock names is durable, unless the
// simulator damaged it.
//
// An incarnation that crashed before any running inspection (recovered, then crashed within
// the same tick) never had its restart judged (restarted): a fault injected since the last
// crash, such as a latent error on the checkpoint it read, excuses what that restart fell
// back to, as it would have then. The fallback's damaged file is gone by this crash, so its
// disk shows no damage (fresh-range seed 2026389787: checkpoint 832 unreadable, fallback to
// 768, crash 1 ms later, restart at 768).
func (c *checkpointMonotonic) crash(replica int, image *DiskImage) {
	x := c.track(replica)
	unjudged := !x.seen
	x.seen, x.lostSeen, x.namedKnown = false, false, false
	if image == nil {
		return
	}
	x.named, x.namedKnown = image.CheckpointOp, image.Valid && !image.SuperblockDamaged
	x.replayable = image.FormatReplayable
	if unjudged && image.FaultsInjected != x.faults {
		x.damaged = true
	}
	x.faults = image.FaultsInjected
	if image.CheckpointDamaged || !image.Valid {
		x.damaged = true
		return
	}
	if image.CheckpointUnheld {
		return // the floor stays at what it reported durable (swarm seeds 2044400509, 2044400571)
	}
	x.floor = max(x.floor, image.CheckpointOp)
}

// restarting reports whether the next running inspection of replica is its first since a
// restart, when the Suite reads its disk again (restarted).
func (c *checkpointMonotonic) restarting(replica int, in *vsr.Inspection) bool {
	return running(in.Status) && !c.track(replica).seen
}

// restarted takes the disk as the replica found it while recovering: damage the simulator
// injected meanwhile (a latent sector error on a checkpoint read) explains a fallback.
func (c *checkpointMonotonic) restarted(replica int, image DiskImage) {
	x := c.track(replica)
	if image.CheckpointDamaged || !image.Valid || image.FaultsInjected != x.faults {
		x.damaged = true
	}
	if image.SuperblockDamaged || !image.Valid {
		x.namedKnown = false // recovery may have read an older superblock copy
	}
}

// losing reports whether in is the first report of replica's incarnation that its state is
// lost, when the Suite reads its disk again (lostRead).
func (c *checkpointMonotonic) losing(replica int, in *vsr.Inspection) bool {
	x := c.track(replica)
	return in.CheckpointLost && !x.lostSeen && x.namedKnown
}

// lostRead takes the disk as the replica found it while recovering: a fault the simulator put
// on the superblock since the crash (a latent error on its read) let recovery read an older
// copy, whose checkpoint may be older.
func (c *checkpointMonotonic) lostRead(replica int, image DiskImage) {
	if image.SuperblockDamaged || !image.Valid {
		c.track(replica).namedKnown = false
	}
}

// wipe forgets what a replica had: its disk was replaced by declaration.
func (c *checkpointMonotonic) wipe(replica int) {
	*c.track(replica) = checkpointTrack{}
}
