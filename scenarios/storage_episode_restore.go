package scenarios

import (
	"bytes"
	"fmt"
	"strings"

	"vopr/cluster/storage"
	"vopr/faults"
	"vopr/sim"
)

// A restored disk, as repairable as the original. The runbook's `storage backup` and
// `storage restore` replace a replica's disk with a new one laid out from the backup; the
// replica then runs on it as before, and its disk goes on rotting as any disk does. What
// makes a rotten entry repairable is the redundancy the engine keeps beside it: the entry's
// record, which keeps its header and the start of its body, so that a damaged entry comes
// back faulty knowing which prepare it held (Recovery.FaultyPrefix), and the peers can repair
// it by checksum or deny it. A restore that lays the log out without that redundancy passes
// every check of the restore itself (the log reads back whole) and shows only at the first
// rot after it: the op comes back faulty of unknown identity, and PAR may be unable to settle
// it.
//
// So once per episode, in half the episodes, after a recovery whose check passed and that
// left no faulty op, the episode backs the recovered disk up and restores the backup onto a
// fresh disk, on copies with their own event loop (the episode's run is untouched), and
// holds the restored disk to what the original recovered:
//
//   - the restore gives back the same state (every superblock field) and the same entries;
//   - an entry of the restored disk, damaged by a flipped bit in one of its sectors, comes
//     back faulty, known by the start of the body the episode acknowledged there.
//
// Then the same backup is restored onto a disk that holds another state, and crashed part-way
// (storage_episode_restore_crash.go).

// restoreStepsMax bounds the side loop of one operation of the restore check.
const restoreStepsMax = 10_000_000

// sideWait issues an operation on the side loop and runs it until the operation completes.
func sideWait(loop *sim.Loop, issue func(done func(error))) error {
	var got error
	fired := false
	issue(func(err error) { got, fired = err, true })
	for steps := 0; !fired; steps++ {
		if steps > restoreStepsMax || !loop.Step() {
			return fmt.Errorf("the loop stopped before the operation completed")
		}
	}
	return got
}

// sideOpen opens disk on the side loop.
func sideOpen(loop *sim.Loop, disk *sim.Disk) (*storage.Storage, *storage.Recovery, error) {
	var s *storage.Storage
	var rec *storage.Recovery
	err := sideWait(loop, func(done func(error)) {
		storage.Open(disk, storageEpisodeOptions, func(got *storage.Storage, r *storage.Recovery, err error) {
			s, rec = got, r
			done(err)
		})
	})
	return s, rec, err
}

// maybeCheckRestore runs the restore check after rec, a recovery whose check passed, once
// per episode in half the episodes, when rec left nothing faulty to repair first (a backup
// refuses a faulty log).
func (e *storeEpisode) maybeCheckRestore(rec *storage.Recovery) {
	if e.restoreDone || len(rec.Faulty) > 0 || rec.CheckpointLost || rec.CheckpointDamaged != 0 {
		return
	}
	e.restoreDone = true
	if e.restore.IntN(2) != 0 {
		return
	}
	if msg := e.checkRestore(); msg != "" {
		e.fail("after a backup and restore of the recovered disk: %s", msg)
	}
}

// checkRestore backs up a copy of the episode's disk, restores it onto a fresh disk and
// judges the restored disk (see above) against the copy opened again; the violation, or "".
func (e *storeEpisode) checkRestore() string {
	loop := sim.NewLoop()
	trace := sim.NewTrace(loop.Now)
	original := e.disk.Snapshot(loop, sim.Stream(e.seed, "storage_episode/restore/original"), trace)
	s, rec, err := sideOpen(loop, original)
	if err != nil {
		return fmt.Sprintf("the original disk did not open again: %v", err)
	}
	if len(rec.Faulty) > 0 || rec.CheckpointLost {
		return "" // seen otherwise than by the episode's Open (a sector hidden from it, healed since)
	}
	var backup []byte
	if err := sideWait(loop, func(done func(error)) {
		s.Backup(func(b []byte, err error) { backup = b; done(err) })
	}); err != nil {
		return fmt.Sprintf("backup of a recovered disk without faulty ops: %v", err)
	}
	restored := original.Snapshot(loop, sim.Stream(e.seed, "storage_episode/restore/restored"), trace)
	restored.Reformat()
	if err := sideWait(loop, func(done func(error)) {
		storage.Restore(restored, storageEpisodeOptions, backup, done)
	}); err != nil {
		return fmt.Sprintf("restore: %v", err)
	}
	_, back, err := sideOpen(loop, restored)
	if err != nil {
		return fmt.Sprintf("the restored disk did not open: %v", err)
	}
	e.counters["coverage.storage_episode.restores"]++
	if back.State != rec.State {
		return fmt.Sprintf("restored state %+v, backed up %+v", back.State, rec.State)
	}
	bodies := map[uint64][]byte{}
	for _, entry := range rec.Entries {
		if entry.Op > rec.State.CheckpointOp {
			bodies[entry.Op] = entry.Body
		}
	}
	if len(back.Faulty) > 0 || len(back.Entries) != len(bodies) {
		return fmt.Sprintf("restored %d entries and faulty ops %v, backed up %d entries", len(back.Entries), back.Faulty, len(bodies))
	}
	for _, entry := range back.Entries {
		if !bytes.Equal(entry.Body, bodies[entry.Op]) {
			return fmt.Sprintf("op %d restored with another body than the one backed up", entry.Op)
		}
	}
	if msg := e.judgeRestoredRot(loop, restored, bodies); msg != "" {
		return msg
	}
	return e.judgeRestoreCrash(loop, trace, backup, back) // storage_episode_restore_crash.go
}

// judgeRestoredRot flips a bit in a drawn sector of a drawn entry of the restored disk
// (found by content, not by the engine's layout), opens it again, and holds the op to come
// back faulty, known by the start of its body; the violation, or "".
func (e *storeEpisode) judgeRestoredRot(loop *sim.Loop, restored *sim.Disk, bodies map[uint64][]byte) string {
	type victim struct {
		name  string
		entry placedEntry
	}
	var victims []victim
	for _, name := range restored.Names() {
		if strings.HasPrefix(name, "log-") {
			for _, p := range placedEntries(restored.Durable(name)) {
				if bodies[p.op] != nil {
					victims = append(victims, victim{name, p})
				}
			}
		}
	}
	if len(victims) == 0 {
		return ""
	}
	v := victims[e.restore.IntN(len(victims))]
	sector := e.restore.Int64N(v.entry.size / storage.SectorSize)
	restored.CorruptSector(v.name, v.entry.offset+sector*storage.SectorSize)
	if e.restoreLosesIdentity { // the test's knob: a restore that kept no identity
		if at, ok := faults.RecordSectorOf(restored.Durable(v.name), v.entry.offset); ok {
			restored.CorruptSector(v.name, at)
		}
	}
	_, rec, err := sideOpen(loop, restored)
	if err != nil {
		return fmt.Sprintf("the restored disk, op %d's entry damaged, did not open: %v", v.entry.op, err)
	}
	e.counters["coverage.storage_episode.restored_rots"]++
	body := bodies[v.entry.op]
	want := body[:min(len(body), storageEpisodeOptions.RecordPrefix)]
	prefix, known := rec.FaultyPrefix[v.entry.op]
	switch {
	case !containsOp(rec.Faulty, v.entry.op):
		return fmt.Sprintf("op %d's restored entry damaged (sector %d of %d), but it is not reported faulty (faulty %v)",
			v.entry.op, sector, v.entry.size/storage.SectorSize, rec.Faulty)
	case !known || !bytes.Equal(prefix, want):
		return fmt.Sprintf("op %d's restored entry damaged (sector %d of %d) came back faulty with the identity %q, "+
			"not %q, the start of its body: its record did not keep it", v.entry.op, sector,
			v.entry.size/storage.SectorSize, prefix, want)
	}
	return ""
}

func containsOp(ops []uint64, op uint64) bool {
	for _, o := range ops {
		if o == op {
			return true
		}
	}
	return false
}
