package invariants

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
)

// atCheckpoint is an inspection of a normal backup at commit_min commit and checkpoint.
func atCheckpoint(replica int, commit, checkpoint uint64) vsr.Inspection {
	in := normal(replica, vsr.RoleBackup, 1, commit, commit)
	in.CheckpointOp = checkpoint
	return in
}

func checkpointEvent(replica int, op uint64) vsr.Event {
	return vsr.Event{Kind: vsr.EventCheckpoint, Replica: replica, View: 1, Op: op}
}

func TestCheckpointMonotonicPassesRestartsFallbacksAndWipes(t *testing.T) {
	var c checkpointMonotonic
	require.Nil(t, c.inspect(10*ms, 0, ref(atCheckpoint(0, 70, 64))))
	c.event(checkpointEvent(0, 128))
	require.Nil(t, c.inspect(20*ms, 0, ref(atCheckpoint(0, 130, 128))))
	// A restart resumes at its durable checkpoint, below its former commit_min.
	c.crash(0, &DiskImage{Valid: true, CheckpointOp: 128})
	require.Nil(t, c.inspect(30*ms, 0, &vsr.Inspection{Status: vsr.StatusRecovering}))
	require.Nil(t, c.inspect(31*ms, 0, ref(atCheckpoint(0, 128, 128))))
	// The simulator damaged its checkpoint: recovery falls back to an older one.
	c.crash(0, &DiskImage{Valid: true, CheckpointOp: 128, CheckpointDamaged: true})
	require.Nil(t, c.inspect(40*ms, 0, ref(atCheckpoint(0, 64, 64))))
	// Its floor is what it fell back to: the next restart is held to 64, not 128.
	c.crash(0, &DiskImage{Valid: true, CheckpointOp: 64})
	require.Nil(t, c.inspect(50*ms, 0, ref(atCheckpoint(0, 64, 64))))
	// A declared wipe (storage restore from an older backup).
	c.crash(0, &DiskImage{Valid: true, CheckpointOp: 64})
	c.wipe(0)
	require.Nil(t, c.inspect(60*ms, 0, ref(atCheckpoint(0, 0, 0))))
}

// TestCheckpointMonotonicFiresOnACheckpointGoingBack: while running, from 128 to 64.
func TestCheckpointMonotonicFiresOnACheckpointGoingBack(t *testing.T) {
	s := NewSuite(3)
	s.OnInspect(10*ms, 1, atCheckpoint(1, 128, 128))
	s.OnInspect(20*ms, 1, atCheckpoint(1, 128, 64))
	requireViolation(t, s.Violation(), NameCheckpointMonotonic, 1, 128, 1, 20*ms)
}

// TestCheckpointMonotonicFiresOnARestartBelowTheDurableCheckpoint: it made checkpoint 128
// durable (event), crashed with an intact disk, and came back at 64.
func TestCheckpointMonotonicFiresOnARestartBelowTheDurableCheckpoint(t *testing.T) {
	s := NewSuite(3)
	commitRange(s, 5*ms, 2, 1, 1, 127)
	s.OnInspect(10*ms, 2, atCheckpoint(2, 127, 64))
	s.OnEvent(11*ms, checkpointEvent(2, 128))
	s.OnCrash(20*ms, 2)
	s.OnInspect(30*ms, 2, atCheckpoint(2, 64, 64))
	v := s.Violation()
	requireViolation(t, v, NameCheckpointMonotonic, 2, 64, 1, 30*ms)
	require.Contains(t, v.Message, "below its durable checkpoint at op 128")
}

// TestCheckpointMonotonicFiresOnARestartBelowTheCheckpointOnDisk: the durable superblock
// named checkpoint 128 at the crash (read by the harness); it came back at 64.
func TestCheckpointMonotonicFiresOnARestartBelowTheCheckpointOnDisk(t *testing.T) {
	s := NewSuite(3)
	s.SetDisks(func(replica int, _ uint64) DiskImage { return DiskImage{Valid: true, CheckpointOp: 128} })
	commitRange(s, 5*ms, 0, 1, 1, 130)
	s.OnInspect(10*ms, 0, atCheckpoint(0, 130, 128))
	s.OnCrash(20*ms, 0)
	s.OnInspect(30*ms, 0, atCheckpoint(0, 64, 64))
	requireViolation(t, s.Violation(), NameCheckpointMonotonic, 0, 64, 1, 30*ms)
}

// TestCheckpointMonotonicPassesAFaultInjectedWhileRecovering: the disk was intact at the
// crash, but recovery's read of the checkpoint met a latent sector error the simulator
// injected then: falling back is by design.
func TestCheckpointMonotonicPassesAFaultInjectedWhileRecovering(t *testing.T) {
	s, disks := crashedAtCheckpoint128()
	disks.images[0].FaultsInjected, disks.images[0].CheckpointDamaged = 1, true
	s.OnInspect(30*ms, 0, atCheckpoint(0, 64, 64))
	require.Nil(t, s.Violation())
}

// TestCheckpointMonotonicPassesAFallbackThatCrashedBeforeItsFirstInspection: the restart's
// read of checkpoint 128 met a latent error, recovery fell back to 64 and removed the file,
// and the replica crashed again before any running inspection. Its next restart at 64 is
// the fallback's, not a checkpoint going back. Without a fault since the last crash it fires.
func TestCheckpointMonotonicPassesAFallbackThatCrashedBeforeItsFirstInspection(t *testing.T) {
	for _, faulted := range []bool{true, false} {
		s, disks := crashedAtCheckpoint128()
		if faulted {
			disks.images[0].FaultsInjected = 1 // the latent error on the checkpoint's read
		}
		disks.images[0].CheckpointOp = 64 // the fallback's superblock, durable at the crash
		s.OnInspect(25*ms, 0, vsr.Inspection{Status: vsr.StatusRecovering})
		s.OnCrash(26*ms, 0)
		s.OnInspect(30*ms, 0, atCheckpoint(0, 64, 64))
		if faulted {
			require.Nil(t, s.Violation())
		} else {
			requireViolation(t, s.Violation(), NameCheckpointMonotonic, 0, 64, 1, 30*ms)
		}
	}
}

// crashedAtCheckpoint128 is a Suite whose replica 0 ran at checkpoint 128 and crashed at 20
// ms with a disk (disks) whose superblock names it.
func crashedAtCheckpoint128() (*Suite, *fakeDisks) {
	s := NewSuite(3)
	disks := &fakeDisks{images: []DiskImage{{Valid: true, CheckpointOp: 128}, {}, {}}}
	s.SetDisks(disks.read)
	commitRange(s, 5*ms, 0, 1, 1, 130)
	s.OnInspect(10*ms, 0, atCheckpoint(0, 130, 128))
	s.OnCrash(20*ms, 0)
	return s, disks
}

// lostAt is an inspection of replica 0 recovering with its state lost at checkpoint op.
func lostAt(op uint64) *vsr.Inspection {
	return &vsr.Inspection{Status: vsr.StatusRecovering, CheckpointLost: true, CheckpointOp: op, CommitMin: op}
}

// TestCheckpointMonotonicFiresOnALostStateOfAnOlderCheckpoint: the superblock named
// checkpoint 128, whose file rotted, and recovery reported the state lost at 64, the older
// checkpoint it failed to fall back to (storage.fallback_failure_keeps_previous, swarm seed
// 152). Damage excuses the loss, never the op it names. A fault on the superblock itself
// does: recovery may have read an older copy.
func TestCheckpointMonotonicFiresOnALostStateOfAnOlderCheckpoint(t *testing.T) {
	s, disks := crashedAtCheckpoint128()
	disks.images[0].FaultsInjected, disks.images[0].CheckpointDamaged = 1, true
	s.OnInspect(30*ms, 0, *lostAt(64))
	v := s.Violation()
	requireViolation(t, v, NameCheckpointMonotonic, 0, 64, 0, 30*ms)
	require.Contains(t, v.Message, "a lost state is the newest checkpoint's")

	s, disks = crashedAtCheckpoint128()
	disks.images[0].CheckpointDamaged = true
	s.OnInspect(30*ms, 0, *lostAt(128))
	require.Nil(t, s.Violation())

	s, disks = crashedAtCheckpoint128()
	disks.images[0].FaultsInjected, disks.images[0].CheckpointDamaged, disks.images[0].SuperblockDamaged = 1, true, true
	s.OnInspect(30*ms, 0, *lostAt(64))
	require.Nil(t, s.Violation())
}

// TestCheckpointMonotonicFiresOnAnInstallBelowTheLostCheckpoint: the state lost at 128, the
// replica then runs at checkpoint 64 (a state sync of an older checkpoint): it would execute
// again ops the lost checkpoint held. At 192 it passes.
func TestCheckpointMonotonicFiresOnAnInstallBelowTheLostCheckpoint(t *testing.T) {
	for _, installed := range []uint64{64, 192} {
		var c checkpointMonotonic
		c.crash(0, &DiskImage{Valid: true, CheckpointOp: 128, CheckpointDamaged: true})
		require.Nil(t, c.inspect(30*ms, 0, lostAt(128)))
		v := c.inspect(40*ms, 0, ref(atCheckpoint(0, installed, installed)))
		if installed < 128 {
			require.NotNil(t, v)
			require.Contains(t, v.Message, "at or above the checkpoint it lost")
		} else {
			require.Nil(t, v)
		}
	}
}

// TestCheckpointMonotonicFiresOnAFormatReplayWithoutTheLog: the superblock named checkpoint
// 64, whose file rotted, and the replica restarted on the format's state (op 0) though the
// segment holding ops 1-64 was gone (storage.format_replay_skips_checkpoint_segment,
// divergent_matrix seed 1). With the segments on disk the replay is by design.
func TestCheckpointMonotonicFiresOnAFormatReplayWithoutTheLog(t *testing.T) {
	for _, replayable := range []bool{false, true} {
		var c checkpointMonotonic
		c.crash(0, &DiskImage{Valid: true, CheckpointOp: 64, CheckpointDamaged: true, FormatReplayable: replayable})
		v := c.inspect(30*ms, 0, ref(atCheckpoint(0, 0, 0)))
		if replayable {
			require.Nil(t, v)
		} else {
			require.NotNil(t, v)
			require.Contains(t, v.Message, "the state must be reported lost")
		}
	}
}

// TestCheckpointMonotonicPassesAFallbackFromAnUnheldCheckpoint (swarm seeds 2044400509,
// 2044400571): the superblock write naming checkpoint 384 failed its sync, but one copy of
// it landed; the engine, told it failed, rewrote checkpoint 384's file, and the crash tore
// it. Recovery falls back to 320, the newest checkpoint it had reported durable. Had it
// reported 384 durable, the restart at 320 would break the invariant.
func TestCheckpointMonotonicPassesAFallbackFromAnUnheldCheckpoint(t *testing.T) {
	var c checkpointMonotonic
	c.event(checkpointEvent(2, 320))
	require.Nil(t, c.inspect(10*ms, 2, ref(atCheckpoint(2, 383, 320))))
	c.crash(2, &DiskImage{Valid: true, CheckpointOp: 384, CheckpointUnheld: true})
	require.Nil(t, c.inspect(20*ms, 2, ref(atCheckpoint(2, 320, 320))))

	c.event(checkpointEvent(2, 384))
	require.Nil(t, c.inspect(30*ms, 2, ref(atCheckpoint(2, 390, 384))))
	c.crash(2, &DiskImage{Valid: true, CheckpointOp: 384, CheckpointUnheld: true})
	v := c.inspect(40*ms, 2, ref(atCheckpoint(2, 320, 320)))
	require.NotNil(t, v)
	require.Contains(t, v.Message, "below its durable checkpoint at op 384")
}
