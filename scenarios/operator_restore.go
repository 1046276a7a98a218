package scenarios

import (
	"fmt"

	"vopr/cluster/storage"
	"vopr/ops"
	"vopr/sim"
)

// ClusterRestoreFromBackup is `kimberlite-cli cluster restore-from-backup --backup-source B`
// (Scenario 2, option C, "if all data lost"): every replica must be stopped; whatever each
// one's disk holds is replaced by the backup's committed prefix, restored as that replica (storage.RestoreAs, which verifies the backup completely first). Every replica
// then starts from the same state: the backup's checkpoint and the committed ops above it.
// done gets the restore point, the highest op the restored cluster holds: everything the
// old cluster committed after it is lost (RPO = the backup's age). The replicas are not
// started.
//
// The runbook's --new-cluster-id is not supported: the restored log and the checkpoint's
// anchor are prepares stamped with the cluster's ID, so a new ID would mean re-signing
// them. The ID guards against replicas of the old cluster rejoining; here every one of them
// is rebuilt from the backup.
func ClusterRestoreFromBackup(c *sim.Cluster, backup []byte, done func(op uint64, err error)) {
	clusterRestoreFromBackupVia(c, backup, nil, done)
}

// clusterRestoreFromBackupVia is ClusterRestoreFromBackup with each replica's restore done
// through fsOf(i, disk) instead of the disk itself, when fsOf is not nil (a scenario that
// crashes a node during its restore: restoreCrashFS).
func clusterRestoreFromBackupVia(c *sim.Cluster, backup []byte, fsOf func(int, *sim.Disk) storage.FS,
	done func(op uint64, err error)) {
	for i := 0; i < c.ReplicaCount(); i++ {
		if _, err := stoppedDisk(c, i); err != nil {
			c.Loop.After(0, func() { done(0, err) })
			return
		}
	}
	var restoreFrom func(i int, point uint64)
	restoreFrom = func(i int, point uint64) {
		if i == c.ReplicaCount() {
			done(point, nil)
			return
		}
		restoreOne(c, i, backup, fsOf, func(op uint64, err error) {
			switch {
			case err != nil:
				done(0, fmt.Errorf("replica %d: %w", i, err))
			case i > 0 && op != point:
				done(0, fmt.Errorf("replica %d restored to op %d, replica 0 to op %d", i, op, point))
			default:
				restoreFrom(i+1, op)
			}
		})
	}
	restoreFrom(0, 0)
}

// restoreOne restores replica i's disk as replica i (ops.Restore, RestoreAs over whatever
// the disk holds) and reads the restore point back.
func restoreOne(c *sim.Cluster, i int, backup []byte, fsOf func(int, *sim.Disk) storage.FS, done func(uint64, error)) {
	var fs storage.FS = c.Nodes[i].Disk
	if fsOf != nil {
		fs = fsOf(i, c.Nodes[i].Disk)
	}
	ops.Restore(fs, func() error { return nil }, backup, i, c.ClusterID(), i, done)
}

// RestoreCluster runs ClusterRestoreFromBackup to completion.
func (o *Operator) RestoreCluster(backup []byte) (uint64, error) {
	return awaitAction(o, "cluster restore-from-backup",
		func(done func(uint64, error)) { ClusterRestoreFromBackup(o.C, backup, done) })
}
