package scenarios

import (
	"cmp"
	"fmt"

	"vopr/cluster/checksum"
	"vopr/cluster/vsr"
	"vopr/invariants"
)

// The persisted commit check holds what a restarted replica recovers to the bound the
// replica promises for the commit number its superblock keeps (cluster/vsr replica_open.go:
// persistState writes the superblock "when the view, log view or commit changed", a commit
// alone once it is more than half a checkpoint interval ahead of the persisted one; its
// commit "is at most the larger of the durable one and commit_max, within the slack"; and it
// stays below an op whose entry on disk may not be the log's prepare, unverifiedFloor).
//
// So on an idle cluster, once every superblock write has landed, a replica's durable
// superblock (read from its simulated disk with the harness's own decoder, durability.go)
// names a commit number at least min(commit_max, floor) - CheckpointInterval/2, where floor
// is the harness's own reading of the disk: the highest op F such that every op above the
// durable checkpoint up to F has an intact entry on disk that is the canonical (committed)
// prepare of its op. A crash now must bring the replica back knowing that much of the
// committed history on its own: it executes up to its recovered commit number from its disk
// without a peer (a replica that recovers a commit far behind leans on its peers for what it
// knew, floors its recovery walk and its do_view_change's commit there, and, alone, waits
// for a quorum to re-learn ops its disk held whole). A TigerBeetle user expects no more lag
// than the replica documents: half an interval (32 ops) past what the disk holds verifiably.
//
// The floor is the disk's truth, not the replica's bookkeeping: an entry the replica has
// rewritten durably with the committed prepare no longer holds the persisted commit down,
// whatever mark the replica kept. A replica whose log above the durable checkpoint spans
// more than LogSlotsMax ops is not judged (its slots of the lower ops were reused, and it
// then rightly counts them unknown until a checkpoint covers them).
//
// It is judged where the swarm holds the converged cluster idle (holdAlerts): every member
// up, in normal status, executed up to its commit number, after a second and more without
// load, so every superblock write the replica meant to make has landed.

// persistedCommitSlack is how far the persisted commit may trail: half a checkpoint interval.
const persistedCommitSlack = vsr.CheckpointInterval / 2

// persistedCommitLag returns the violation, if replica's durable superblock (img) names a
// commit number more than persistedCommitSlack below min(commitMax, the disk's verified
// floor). op is the replica's op_number; canonical gives the committed prepare of an op.
func persistedCommitLag(replica int, img invariants.DiskImage, commitMax, op uint64,
	canonical func(uint64) (checksum.Sum, bool)) string {
	msg, _, _ := persistedCommitJudge(replica, img, commitMax, op, canonical)
	return msg
}

// persistedCommitJudge is persistedCommitLag, also reporting whether it judged the replica
// and whether the disk's floor was below commit_max.
func persistedCommitJudge(replica int, img invariants.DiskImage, commitMax, op uint64,
	canonical func(uint64) (checksum.Sum, bool)) (msg string, judged, held bool) {
	if !img.Valid || commitMax <= img.CheckpointOp || max(op, commitMax) > img.CheckpointOp+vsr.LogSlotsMax {
		return "", false, false
	}
	floor, at := img.CheckpointOp, 0
	for floor < commitMax {
		next := floor + 1
		for at < len(img.Entries) && img.Entries[at].Op < next {
			at++
		}
		if at == len(img.Entries) || img.Entries[at].Op != next || !img.Entries[at].Intact {
			break
		}
		sum, ok := canonical(next)
		if !ok || sum != img.Entries[at].Prepare {
			break
		}
		floor = next
	}
	judged, held = true, floor < commitMax
	if img.Commit+persistedCommitSlack >= floor {
		return "", judged, held
	}
	why := "commit_max"
	if floor < commitMax {
		why = fmt.Sprintf("the highest op up to which its disk holds every committed prepare intact (commit_max %d)", commitMax)
	}
	return fmt.Sprintf("replica %d's durable superblock names commit number %d on an idle cluster, %d below %d, %s "+
		"(durable checkpoint %d): a restart would recover a commit number more than half a checkpoint interval "+
		"(%d ops) behind what its disk verifiably holds", replica, img.Commit, floor-img.Commit, floor, why,
		img.CheckpointOp, persistedCommitSlack), judged, held
}

// checkPersistedCommits judges every member replica of the converged, idle cluster.
func (run *swarmRun) checkPersistedCommits() {
	if !run.checked || run.disks == nil || run.broken != "" {
		return
	}
	for i := 0; i < run.c.MemberCount(); i++ {
		if run.gone[i] || !run.c.IsMember(i) {
			continue
		}
		rep := run.c.Replica(i)
		if rep == nil {
			continue
		}
		in := rep.Inspect()
		if in.Status != vsr.StatusNormal || in.CommitMin != in.CommitMax {
			continue
		}
		img := run.disks.image(i, in.CommitMax)
		msg, judged, held := persistedCommitJudge(i, img, in.CommitMax, in.Op, run.suite.CanonicalAt)
		run.broken = cmp.Or(run.broken, msg)
		if judged {
			run.persistedJudged++
		}
		if held {
			run.persistedFloorHeld++
		}
	}
}
