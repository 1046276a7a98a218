package ops

import (
	"errors"
	"fmt"

	"vopr/cluster/storage"
	"vopr/cluster/vsr"
)

// ErrWrongReplica: the backup was taken from another replica, or restored storage names
// another replica or cluster.
var ErrWrongReplica = errors.New("operator: backup belongs to another replica")

// ExportReport answers `storage export`: the backup's size; the bytes go to --output.
type ExportReport struct {
	Replica int    `json:"replica"`
	Bytes   int    `json:"bytes"`
	Output  string `json:"output,omitempty"`
	// Backup is the backup itself (Storage.Backup's format, which Restore verifies). It is
	// not JSON: the server streams it after its answer.
	Backup []byte `json:"-"`
}

// Export is `storage export` on a running replica: an online backup through the replica's
// own engine (vsr.Replica.Backup; a second engine on a live replica's files would race
// it). done runs from a disk completion.
func Export(r *vsr.Replica, replica int, done func(ExportReport, error)) {
	r.Backup(func(b []byte, err error) { done(ExportReport{Replica: replica, Bytes: len(b), Backup: b}, err) })
}

// BackupReplica returns the replica index a backup's superblock names. It reads the
// documented layout (storage/backup.go: the superblock copy follows the 512-byte header;
// storage/superblock.go: Replica is the byte at 88 of a copy); Restore checks everything
// else.
func BackupReplica(backup []byte) (int, error) {
	const at = storage.SectorSize + 88
	if len(backup) <= at {
		return 0, fmt.Errorf("%w: backup too short", storage.ErrBackup)
	}
	return int(backup[at]), nil
}

// Restore is `storage restore --backup-source B` on a stopped replica's storage fs, which
// must belong to replica of cluster:
//
//   - As < 0: the backup must be replica's own (a backup of replica j restored on i would
//     hand i a log whose acknowledgements it never made while dropping those it did: VSR
//     amnesia), and it is restored whole (storage.Restore). Safe when the replica
//     acknowledged nothing after the backup was taken (it stayed down since).
//   - As >= 0: `cluster restore-from-backup`, every replica rebuilt from one backup's
//     committed prefix (storage.RestoreAs, renaming it replica As).
//
// A wrong backup is refused before anything is touched; then wipe empties fs (the host's
// way: a simulated disk is reformatted, a directory's engine files removed) and the backup
// is restored (verified completely first). The result is opened and must name replica of
// cluster; done gets its head, the highest op it holds: the restore point.
func Restore(fs storage.FS, wipe func() error, backup []byte, replica int, cluster uint64, as int,
	done func(head uint64, err error)) {
	if as < 0 {
		from, err := BackupReplica(backup)
		if err == nil && from != replica {
			err = fmt.Errorf("%w: backup of replica %d, restoring replica %d", ErrWrongReplica, from, replica)
		}
		if err != nil {
			done(0, err)
			return
		}
	}
	if err := wipe(); err != nil {
		done(0, fmt.Errorf("operator: wipe before restore: %w", err))
		return
	}
	opened := func(err error) {
		if err != nil {
			done(0, err)
			return
		}
		storage.Open(fs, vsr.StorageOptions(fs), func(s *storage.Storage, _ *storage.Recovery, err error) {
			switch {
			case err != nil:
				done(0, fmt.Errorf("operator: restored storage does not open: %w", err))
			case int(s.State().Replica) != replica || s.State().Cluster != cluster:
				done(0, fmt.Errorf("%w: restored superblock names replica %d of cluster %x", ErrWrongReplica,
					s.State().Replica, s.State().Cluster))
			default:
				done(s.Head(), nil)
			}
		})
	}
	if as < 0 {
		storage.Restore(fs, vsr.StorageOptions(fs), backup, opened)
	} else {
		storage.RestoreAs(fs, vsr.StorageOptions(fs), backup, uint8(as), opened)
	}
}

// RestoreReport answers `storage restore`.
type RestoreReport struct {
	Replica int    `json:"replica"`
	Dir     string `json:"dir,omitempty"`
	// Head is the restore point: the highest op the restored storage holds.
	Head uint64 `json:"head"`
}
