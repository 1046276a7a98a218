package main

import (
	"errors"
	"fmt"
	"os"

	"vopr/cluster/storage/osfs"
	"vopr/ops"
	"vopr/server"
	"vopr/server/remote"
	"vopr/server/wire"
)

// storageExport is `storage export --replica-id I --output FILE`: an online backup of the
// running replica (ops.Export, through its own engine), streamed over the admin port and
// written to FILE (synced). The format is the engine's backup (storage.Backup), which
// `storage restore` verifies, not the runbook's tar.gz.
func storageExport(args []string) error {
	var output *string
	r, err := parseReplicaWith("storage export", args, func(t *target) {
		output = t.fs.String("output", "", "the file to write the backup to")
	})
	if err != nil {
		return err
	}
	defer r.cancel()
	if *output == "" {
		return errors.New("storage export: --output is required")
	}
	var rep ops.ExportReport
	data, err := remote.AskStream(r.ctx, r.cluster, r.addr, wire.Request{Command: ops.CommandExport}, &rep)
	if err != nil {
		return fmt.Errorf("replica %d: %w", r.replica, err)
	}
	if len(data) != rep.Bytes {
		return fmt.Errorf("replica %d: export announced %d bytes, got %d", r.replica, rep.Bytes, len(data))
	}
	if err := writeSynced(*output, data); err != nil {
		return err
	}
	rep.Output = *output
	return printJSON(rep)
}

func writeSynced(name string, data []byte) error {
	f, err := os.OpenFile(name, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// storageRestore is `storage restore --backup-source FILE --dir DIR` on a stopped
// replica's data directory (its lock must be free: server.LockDir): ops.Restore, the
// simulator's Operator's code. The replica is the directory's own, or --replica-id and
// --cluster when its superblock no longer reads; a backup of another replica is refused
// before anything is touched.
func storageRestore(args []string) error {
	fs, t := newFlags("storage restore")
	source := fs.String("backup-source", "", "the backup file (storage export's output)")
	dir := fs.String("dir", "", "the stopped replica's data directory")
	replica := fs.Int("replica-id", -1, "the replica (default: the one the directory holds)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *source == "" || *dir == "" {
		return errors.New("storage restore: --backup-source and --dir are required")
	}
	backup, err := os.ReadFile(*source)
	if err != nil {
		return err
	}
	unlock, err := server.LockDir(*dir)
	if err != nil {
		return fmt.Errorf("storage restore: %w", err)
	}
	defer unlock()
	id, cluster, err := restoreIdentity(*dir, t.cluster, *replica)
	if err != nil {
		return err
	}
	disk, err := osfs.New(*dir, osfs.Options{})
	if err != nil {
		return err
	}
	defer disk.Close()
	var head uint64
	result := errors.New("storage restore: did not complete")
	// Nothing to wipe first: storage.Restore itself replaces the engine's files (the
	// superblock removed first, written last); the lock and the assertion log stay.
	noWipe := func() error { return nil }
	ops.Restore(disk, noWipe, backup, id, cluster, -1, func(h uint64, err error) { head, result = h, err })
	disk.RunUntilIdle()
	if result != nil {
		return fmt.Errorf("storage restore: %w", result)
	}
	return printJSON(ops.RestoreReport{Replica: id, Dir: *dir, Head: head})
}

// restoreIdentity is the replica and cluster the directory must end up belonging to: what
// it holds now, checked against the flags, or the flags alone when it no longer opens.
func restoreIdentity(dir, clusterFlag string, replica int) (int, uint64, error) {
	var cluster uint64
	if clusterFlag != "" {
		if _, err := fmt.Sscan(clusterFlag, &cluster); err != nil {
			return 0, 0, fmt.Errorf("--cluster %q is not a cluster id", clusterFlag)
		}
	}
	state, err := server.ReadIdentity(dir)
	if err != nil {
		if replica < 0 || clusterFlag == "" {
			return 0, 0, fmt.Errorf("storage restore: %s does not open (%v): give --replica-id and --cluster", dir, err)
		}
		return replica, cluster, nil
	}
	if replica >= 0 && replica != int(state.Replica) || clusterFlag != "" && cluster != state.Cluster {
		return 0, 0, fmt.Errorf("storage restore: %s holds replica %d of cluster %d, not replica %d of cluster %s",
			dir, state.Replica, state.Cluster, replica, clusterFlag)
	}
	return int(state.Replica), state.Cluster, nil
}
