package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/checksum"
	"vopr/cluster/storage"
	"vopr/cluster/vsr"
)

// backupMissing passes a restored log that holds every copy above its checkpoint, and fires
// on one whose tail is cut or that holds another prepare at an op; copies at or below the
// checkpoint are the checkpoint's.
func TestBackupMissing(t *testing.T) {
	sum := func(op uint64) checksum.Sum { return checksum.Sum{byte(op), 0xaa} }
	var held []heldCopy
	for op := uint64(5); op <= 12; op++ {
		held = append(held, heldCopy{op, sum(op)})
	}
	log := func(head uint64, other uint64) func(uint64) (checksum.Sum, bool) {
		return func(op uint64) (checksum.Sum, bool) {
			switch {
			case op > head:
				return checksum.Sum{}, false
			case op == other:
				return checksum.Sum{0xbb}, true
			}
			return sum(op), true
		}
	}
	require.Empty(t, backupMissing(held, 4, log(12, 0)))
	require.Empty(t, backupMissing(held, 12, log(4, 0)), "a checkpoint at the head carries every op")
	require.Empty(t, backupMissing(nil, 0, log(0, 0)))

	cut := backupMissing(held, 4, log(9, 0))
	require.Contains(t, cut, "is incomplete: it holds nothing at op 10")
	require.Contains(t, cut, "3 of the 8 prepares")
	require.Contains(t, backupMissing(held, 6, log(6, 0)), "holds nothing at op 7")
	require.Contains(t, backupMissing(held, 4, log(12, 8)), "holds prepare "+sumText(checksum.Sum{0xbb})+" at op 8")
}

// The swarm's export check holds a real export, taken while the replica appends, to what the
// replica's disk held as the export ran, and passes it; the same export with its tail cut
// (every entry above the audited op dropped, a valid backup) fires.
func TestExportComplete(t *testing.T) {
	cc := newCheckedCluster(t, testOptions{replicas: 3, clients: 2, seed: 31})
	cc.commit(150)
	const victim = 1
	disks := newDurableDisks(cc.Cluster)
	var backup []byte
	var held []heldCopy
	done := false
	StorageExport(cc.Cluster, victim, func(b []byte, err error) {
		require.NoError(t, err)
		backup, held, done = b, heldCopies(disks, cc.suite, victim), true
	})
	cc.until(true, func() bool { return done }, ticks, "export") // exported while the replica appends

	check := func(b []byte, n int) string {
		loop, disk := scratchDisk(2, n)
		_, problem := checkExport(loop, disk, b, victim, cc.ClusterID(), cc.suite, held)
		return problem
	}
	require.Empty(t, check(backup, 1))
	loop, disk := scratchDisk(2, 2)
	rec, problem := restoreBackup(loop, disk, backup)
	require.Empty(t, problem)
	require.Greater(t, held[len(held)-1].op, rec.State.CheckpointOp, "the test needs copies above the checkpoint")

	cut := cutBackupTail(t, backup, victim)
	loop, disk = scratchDisk(2, 3)
	short, problem := restoreBackup(loop, disk, cut)
	require.Empty(t, problem)
	require.Less(t, len(short.Entries), len(rec.Entries), "the cut backup lost entries")
	require.Contains(t, check(cut, 4), "is incomplete: it holds nothing at op")
	cc.finish()
}

// cutBackupTail returns backup with every entry above its audited op dropped, re-taken as a
// valid backup (storage.RestoreAs keeps the audited ops alone; the replica stays itself).
func cutBackupTail(t *testing.T, backup []byte, replica int) []byte {
	t.Helper()
	loop, disk := scratchDisk(3, 1)
	opts := vsr.StorageOptions(disk)
	var cut []byte
	var err error
	finished := false
	storage.RestoreAs(disk, opts, backup, uint8(replica), func(e error) {
		if e != nil {
			err, finished = e, true
			return
		}
		storage.Open(disk, opts, func(s *storage.Storage, _ *storage.Recovery, e error) {
			if e != nil {
				err, finished = e, true
				return
			}
			s.Backup(func(b []byte, e error) { cut, err, finished = b, e, true })
		})
	})
	for steps := 0; !finished && steps < operatorRestoreStepsMax && loop.Step(); steps++ {
	}
	require.True(t, finished)
	require.NoError(t, err)
	return cut
}

// replica_crash's option B holds the restored disk to what the stopped victim's disk held
// when its backup was taken: it passes the real backup and fails one cut short.
func TestReplicaCrashRestoreComplete(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		if p := drawReplicaCrash(seed); p.OptionC {
			continue
		}
		whole := runReplicaCrash(Options{Seed: seed}, replicaCrashKnobs{forceOptionB: true})
		require.Equal(t, Pass, whole.Outcome, "seed %d: %s", seed, whole.Reason)
		if whole.Counters["restore.held_ops"] == 0 {
			continue
		}
		cut := runReplicaCrash(Options{Seed: seed}, replicaCrashKnobs{forceOptionB: true,
			cutBackup: func(b []byte) []byte {
				from, err := BackupReplica(b)
				require.NoError(t, err)
				return cutBackupTail(t, b, from)
			}})
		if cut.Counters["backup.bytes"] == whole.Counters["backup.bytes"] {
			continue // nothing above the audited op to cut
		}
		require.Equal(t, Correctness, cut.Outcome, "seed %d: %s", seed, cut.Reason)
		require.Contains(t, cut.Reason, "option B: storage restore of replica")
		require.Contains(t, cut.Reason, "the backup is incomplete")
		return
	}
	t.Fatal("no seed in 1..20 whose option B backup has a tail to cut")
}
