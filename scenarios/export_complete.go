package scenarios

import (
	"fmt"
	"sort"

	"vopr/cluster/checksum"
	"vopr/cluster/storage"
	"vopr/cluster/vsr"
	"vopr/invariants"
)

// A backup is complete: `storage export` of a running replica (and the offline backup of a
// stopped one) holds every prepare the replica's disk durably held above the backup's
// checkpoint when it was taken, up to the highest one the replica had acknowledged. The
// runbook restores a replica from its own backup as safe "when the replica acknowledged
// nothing after the backup was taken" (ops.Restore): a backup short of what the replica had
// already acknowledged (a short read loop, a wrong bound, a skipped segment, a cut tail)
// brings it back with its superblock's log view and commit over a log that lacks prepares it
// voted for, and its shorter log can win a view change: committed writes lost.
//
// The expectation is the harness's, not the engine's: the replica's durable disk image read
// with the harness's own decoders (durability.go), at the moment the backup runs (an online
// export's answer is delivered from the disk completion that ends it, before the storage
// starts its next operation, so the disk then holds what the export read; a stopped
// replica's disk does not change until the operator touches it), and the prepares the
// checkers saw the replica acknowledge (acked_durable). What is not required:
//   - ops at or below the backup's checkpoint (the checkpoint carries them);
//   - entries the simulator damaged: an export fails on them (storage.ErrFaulty,
//     storage.ErrCorrupt) or they are repaired first;
//   - entries above the highest intact one the replica acknowledged: an append that failed
//     after its entry reached the disk may leave it beyond the engine's log (journal.go,
//     cutFailedAppend), never acknowledged.
//
// The swarm's operator holds each export it restores on a scratch disk to this
// (swarm_operator.go); the runbook scenarios that restore a replica from its own backup
// (replica_crash option B, assertion_failure) hold the restored disk to it.

// heldCopy is a prepare a replica's disk durably held, intact, when its backup was taken.
type heldCopy struct {
	op  uint64
	sum checksum.Sum
}

// heldCopies returns what a backup of replica taken now must hold (see above): the intact
// entries of its durable disk image up to the highest one it acknowledged. Nil when the
// checkers do not run or the image has no intact superblock.
func (run *swarmRun) heldCopies(replica int) []heldCopy {
	if !run.checked || run.disks == nil || run.suite == nil {
		return nil
	}
	return heldCopies(run.disks, run.suite, replica)
}

// ackedCopies is what the checkers know a replica acknowledged (invariants.Suite).
type ackedCopies interface {
	AckedCopy(replica int, op uint64) (checksum.Sum, bool)
	HighestExecuted() uint64
}

func heldCopies(disks *durableDisks, acked ackedCopies, replica int) []heldCopy {
	img := disks.image(replica, acked.HighestExecuted())
	if !img.Valid {
		return nil
	}
	top := -1
	for i, e := range img.Entries {
		if sum, ok := acked.AckedCopy(replica, e.Op); ok && e.Intact && sum == e.Prepare {
			top = i
		}
	}
	var held []heldCopy
	for _, e := range img.Entries[:top+1] {
		if e.Intact {
			held = append(held, heldCopy{e.Op, e.Prepare})
		}
	}
	return held
}

// backupMissing holds a restored log to the copies its replica held when the backup was
// taken: has returns the prepare the restored log holds at an op; checkpoint is the
// restored checkpoint. It returns "" or the first copy lacking, and how many are.
func backupMissing(held []heldCopy, checkpoint uint64, has func(op uint64) (checksum.Sum, bool)) string {
	var first string
	missing := 0
	for _, h := range held {
		if h.op <= checkpoint {
			continue
		}
		sum, ok := has(h.op)
		if ok && sum == h.sum {
			continue
		}
		if missing++; first == "" {
			got := "nothing"
			if ok {
				got = "prepare " + sumText(sum)
			}
			first = fmt.Sprintf("holds %s at op %d, where the replica's disk durably held prepare %s when the backup "+
				"was taken", got, h.op, sumText(h.sum))
		}
	}
	if missing == 0 {
		return ""
	}
	return fmt.Sprintf("is incomplete: it %s (%d of the %d prepares the disk held above checkpoint %d, up to the "+
		"highest the replica had acknowledged, op %d, are missing or differ): a replica restored from it forgets "+
		"prepares it acknowledged", first, missing, len(held), checkpoint, held[len(held)-1].op)
}

// recoveredPrepares reads the prepare each entry of a restored backup's recovery holds
// (rec.Entries, ascending by op), for backupMissing.
func recoveredPrepares(rec *storage.Recovery, cluster uint64) func(op uint64) (checksum.Sum, bool) {
	return func(op uint64) (checksum.Sum, bool) {
		i := sort.Search(len(rec.Entries), func(i int) bool { return rec.Entries[i].Op >= op })
		if i == len(rec.Entries) || rec.Entries[i].Op != op {
			return checksum.Sum{}, false
		}
		body := rec.Entries[i].Body
		head, err := vsr.DecodeHeader(body[:min(len(body), vsr.HeaderSize)], cluster)
		if err != nil || head.Op != op {
			return checksum.Sum{}, false
		}
		return head.Checksum, true
	}
}

// imagePrepares reads the prepare each intact entry of a disk image holds, for
// backupMissing.
func imagePrepares(img *invariants.DiskImage) func(op uint64) (checksum.Sum, bool) {
	return func(op uint64) (checksum.Sum, bool) {
		i := sort.Search(len(img.Entries), func(i int) bool { return img.Entries[i].Op >= op })
		if i == len(img.Entries) || img.Entries[i].Op != op || !img.Entries[i].Intact {
			return checksum.Sum{}, false
		}
		return img.Entries[i].Prepare, true
	}
}

// checkRestoredComplete reads replica's disk right after `storage restore` from its own
// backup and holds it to the copies the replica held when the backup was taken; "" or what
// is missing.
func (run *swarmRun) checkRestoredComplete(replica int, held []heldCopy) string {
	if !run.checked || len(held) == 0 {
		return ""
	}
	img := run.disks.image(replica, held[len(held)-1].op)
	if !img.Valid {
		return "restored disk has no intact superblock"
	}
	if problem := backupMissing(held, img.CheckpointOp, imagePrepares(&img)); problem != "" {
		return "the backup " + problem
	}
	return ""
}
