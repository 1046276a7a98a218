package scenarios

import (
	"errors"
	"fmt"
	"strings"

	"vopr/cluster/checksum"
	"vopr/cluster/storage"
	"vopr/sim"
)

// A crash during option C's restore. `cluster restore-from-backup` rewrites each stopped
// replica's disk in turn; in some seeds the node of one replica (drawn, never replica 0:
// see quorumLostParams.restoreCrashReplica) crashes at its k-th I/O completion of the
// restore, k drawn over the restore's I/O count (replica 0's restore, the same work on an
// empty disk, counts it). The crash is the disk's (unsynced writes torn or lost, pending
// completions dropped) and the command dies with it. The node restarts and the operator
// checks its disk as a restart opens it (`storage verify --replica-id N`): a restore
// replaces the superblock last (storage.Restore), so the disk must open either as
// unformatted (no superblock, or none of its copies intact: nothing on it claims to be a
// replica) or as the complete restored state (the same verified report as a disk the
// restore ran on to the end); never as a formatted replica whose checkpoint or log is
// missing. Then the operator runs `cluster restore-from-backup` again, which must succeed,
// and the run goes on as after an uninterrupted restore.

// errRestoreCrashed: the node of the replica being restored crashed; the command died.
var errRestoreCrashed = errors.New("the node crashed during its restore")

// restoreCrashFS is a disk as a restore sees it, counting I/O completions: at the k-th
// (k > 0) the disk crashes (sim.Disk.Crash: the crash model, pending completions dropped),
// that completion never reaches the restore and onCrash runs instead. With k == 0 it counts.
type restoreCrashFS struct {
	disk    *sim.Disk
	k       int
	count   int
	crashed bool
	onCrash func(what string)
}

var (
	_ storage.FS     = (*restoreCrashFS)(nil)
	_ storage.Summer = (*restoreCrashFS)(nil)
)

func (f *restoreCrashFS) complete(op, name string, fn func()) {
	if f.crashed {
		return
	}
	f.count++
	if f.k > 0 && f.count == f.k {
		f.crashed = true
		f.disk.Crash()
		f.onCrash(op + " " + name)
		return
	}
	fn()
}

func (f *restoreCrashFS) Create(name string, done func(error)) {
	f.disk.Create(name, func(err error) { f.complete("create", name, func() { done(err) }) })
}

func (f *restoreCrashFS) ReadAt(name string, buf []byte, offset int64, done func(int, error)) {
	f.disk.ReadAt(name, buf, offset, func(n int, err error) { f.complete("read", name, func() { done(n, err) }) })
}

func (f *restoreCrashFS) WriteAt(name string, data []byte, offset int64, done func(error)) {
	f.disk.WriteAt(name, data, offset, func(err error) { f.complete("write", name, func() { done(err) }) })
}

func (f *restoreCrashFS) Sync(name string, done func(error)) {
	f.disk.Sync(name, func(err error) { f.complete("sync", name, func() { done(err) }) })
}

func (f *restoreCrashFS) Truncate(name string, size int64, done func(error)) {
	f.disk.Truncate(name, size, func(err error) { f.complete("truncate", name, func() { done(err) }) })
}

func (f *restoreCrashFS) Remove(name string, done func(error)) {
	f.disk.Remove(name, func(err error) { f.complete("remove", name, func() { done(err) }) })
}

func (f *restoreCrashFS) List(done func([]string, error)) {
	f.disk.List(func(names []string, err error) { f.complete("list", "", func() { done(names, err) }) })
}

func (f *restoreCrashFS) Size(name string) (int64, error) { return f.disk.Size(name) }

func (f *restoreCrashFS) Usage() storage.Usage { return f.disk.Usage() }

func (f *restoreCrashFS) SumMemos() (bodies, audits *checksum.SHA256Memo) { return f.disk.SumMemos() }

// restoreCrash is what the crash during the restore did, for the checks after it.
type restoreCrash struct {
	replica, k, of int
	at             string // the I/O whose completion the node crashed at
}

func (rc restoreCrash) String() string {
	return fmt.Sprintf("replica %d crashed at its I/O completion %d of %d of the restore (%s)", rc.replica, rc.k, rc.of, rc.at)
}

// restoreCrashing runs `cluster restore-from-backup` with replica v's node crashing at the
// I/O completion of its restore drawn from at (a fraction of replica 0's count). It returns
// the crash (replica -1 if the restore finished first) and the command's answer.
func (run *quorumLostRun) restoreCrashing(v int, at float64) (restoreCrash, uint64, error) {
	rc := restoreCrash{replica: -1}
	counter := &restoreCrashFS{}
	var fail func(uint64, error)
	fsOf := func(i int, disk *sim.Disk) storage.FS {
		switch i {
		case 0:
			counter.disk = disk
			return counter
		case v:
			n := counter.count
			k := min(n, 1+int(at*float64(n)))
			return &restoreCrashFS{disk: disk, k: k, onCrash: func(what string) {
				rc = restoreCrash{replica: v, k: k, of: n, at: what}
				fail(0, fmt.Errorf("replica %d: %w: %s", v, errRestoreCrashed, rc))
			}}
		}
		return disk
	}
	point, err := awaitAction(run.op, "cluster restore-from-backup", func(done func(uint64, error)) {
		fail = done
		clusterRestoreFromBackupVia(run.c, run.backup, fsOf, done)
	})
	return rc, point, err
}

// restoreAfterCrash is option C's restore in a seed that crashes a node during it: the
// crash, the check of the crashed node's disk, and the restore run again. It returns the
// restore point, or a failure.
func (run *quorumLostRun) restoreAfterCrash(knobs quorumLostKnobs) (uint64, Outcome, string) {
	v := run.q.restoreCrashReplica()
	rc, point, err := run.restoreCrashing(v, run.q.RestoreCrashAt)
	if !errors.Is(err, errRestoreCrashed) {
		// The restore's I/O count differed from replica 0's: it finished before the crash.
		run.counts["restore_crash.missed"]++
		if err != nil {
			o, r := run.fail(Correctness, "cluster restore-from-backup: %v", err)
			return 0, o, r
		}
		return point, Pass, ""
	}
	run.counts["fault.crash_during_restore"]++
	if knobs.restoreCrashLosesCheckpoint {
		run.removeCheckpointFiles(v)
	}
	// The node restarts: its disk opens as a restart opens it.
	verify := fmt.Sprintf("storage verify --replica-id %d", v)
	report, err := run.op.Verify(v)
	complete := err == nil
	if err != nil {
		if !unformatted(err) {
			o, r := run.fail(Correctness, "%s after %s: expected an unformatted disk (to restore again) or the complete restored state, got a disk that does not open as either: %v",
				verify, rc, err)
			return 0, o, r
		}
		run.counts["restore_crash.unformatted"]++
	}
	// The command died with the node: the operator runs it again, and it must succeed.
	point, err = run.op.RestoreCluster(run.backup)
	if err != nil {
		o, r := run.fail(Correctness, "cluster restore-from-backup, run again after %s: %v", rc, err)
		return 0, o, r
	}
	if complete {
		fresh, err := run.op.Verify(v)
		if err != nil {
			o, r := run.fail(Correctness, "%s after the restore was run again to the end: %v", verify, err)
			return 0, o, r
		}
		if reason := sameRestoredState(report, fresh); reason != "" {
			o, r := run.fail(Correctness, "%s after %s: expected an unformatted disk (to restore again) or the complete restored state, got a formatted disk %s",
				verify, rc, reason)
			return 0, o, r
		}
		run.counts["restore_crash.complete"]++
	}
	return point, Pass, ""
}

// unformatted reports whether err is a disk with nothing on it claiming to be a replica: no
// superblock, or a superblock file of which no copy is intact (the restore crashed while
// writing it, before its sync).
func unformatted(err error) bool {
	return errors.Is(err, storage.ErrNotFormatted) ||
		errors.Is(err, storage.ErrCorrupt) && strings.Contains(err.Error(), "no intact superblock copy")
}

// sameRestoredState compares the verify report of a disk a restore was interrupted on with
// a disk the restore finished on: "" if the first is the complete restored state (damaged
// superblock copies aside, while one is intact), else what is wrong with it.
func sameRestoredState(got, want storage.VerifyReport) string {
	describe := func(r storage.VerifyReport) string {
		text := fmt.Sprintf("(ok=%t superblock_copies_intact=%d checkpoint_op=%d head=%d entries=%d audit_op=%d faulty=%d", r.OK, r.SuperblockCopiesIntact, r.CheckpointOp, r.Head,
			r.Entries, r.AuditOp, len(r.Faulty))
		if p, bad := r.FirstBad(); bad {
			text += fmt.Sprintf(" first problem: %s", p.Reason)
		}
		return text + ")"
	}
	// The superblock's copies are written in one write, last: a crash before its sync may
	// tear some of them, and the newest intact one names the complete state. Damage to
	// anything else is not the restored state.
	for _, p := range got.Problems {
		if p.File != "superblock" {
			return fmt.Sprintf("that is not the restored state: %s, where a restore run to the end gives %s",
				describe(got), describe(want))
		}
	}
	if !want.OK || got.SuperblockCopiesIntact == 0 || len(got.Faulty) > 0 || got.CheckpointOp != want.CheckpointOp ||
		got.Head != want.Head || got.Entries != want.Entries || got.AuditOp != want.AuditOp || got.AuditHead != want.AuditHead {
		return fmt.Sprintf("that is not the restored state: %s, where a restore run to the end gives %s",
			describe(got), describe(want))
	}
	return ""
}

// removeCheckpointFiles removes the checkpoint files from replica v's disk (the knob
// restoreCrashLosesCheckpoint: a broken restore's leftovers).
func (run *quorumLostRun) removeCheckpointFiles(v int) {
	disk := run.c.Nodes[v].Disk
	pending := 0
	for _, name := range disk.Names() {
		if strings.HasPrefix(name, "checkpoint-") {
			pending++
			disk.Remove(name, func(error) { pending-- })
		}
	}
	run.until(func() bool { return pending == 0 }, 100)
}
