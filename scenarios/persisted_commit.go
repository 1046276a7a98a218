package scenarios

import (
	"cmp"
	"fmt"

	"vopr/cluster/checksum"
	"vopr/cluster/vsr"
	"vopr/invariants"
	"vopr/sim"
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
// whatever mark the replica kept. It is also held below an op whose committed header the
// replica does not hold in its log (Replica.Header): a replica cannot vouch for an entry of
// its disk before its log names that entry's prepare, and after a log install whose headers
// begin above its own ops it forgets them as unverified (forgetUnverified) until the repair
// of the ops between chains down to them; the disk's truth alone judged that window (swarm
// seed 182: replica 2 restarted with ops 705-738 whole on disk, installed a start_view
// naming ops from 771 up with commit 896, and was judged at once, its durable commit at its
// checkpoint 704). What the replica knows is read, what it marks is not. A replica whose log above the durable checkpoint spans
// more than LogSlotsMax ops is not judged (its slots of the lower ops were reused, and it
// then rightly counts them unknown until a checkpoint covers them).
//
// It is judged where the swarm holds the converged cluster idle (holdAlerts): every member
// up, in normal status, executed up to its commit number, with no superblock write of its in
// flight, queued or waiting to be retried (Inspection.StateWritePending), no failed log write
// waiting for its retry (persistedCommitWaits) and its disk idle.
// The hold does not make the last write land: on a slow disk the superblock write a
// replica began at its last commit can still be on its way (make soak, swarm seed
// 602651060947629680: standby 1 executed op 99 at 37.634 s, 33 past its durable commit 66,
// and began the write of commit 99 at once, as persistState does one op past the slack;
// judged at 37.779 s with that write's sync still in flight, it read one op past the
// bound). Such a replica is left to the per-tick judgement, which waits for the write.

// persistedCommitSlack is how far the persisted commit may trail: half a checkpoint interval.
const persistedCommitSlack = vsr.CheckpointInterval / 2

// persistedCommitStride is how many ticks apart checkPersistedCommitAt judges a replica.
const persistedCommitStride = 4

// persistedCommitLag returns the violation, if replica's durable superblock (img) names a
// commit number more than persistedCommitSlack below min(commitMax, the disk's verified
// floor). op is the replica's op_number; canonical gives the committed prepare of an op,
// known the checksum of the header the replica's log holds for it.
func persistedCommitLag(replica int, img invariants.DiskImage, commitMax, op uint64,
	canonical, known func(uint64) (checksum.Sum, bool)) string {
	msg, _, _ := persistedCommitJudge(replica, img, commitMax, op, canonical, known)
	return msg
}

// persistedCommitJudge is persistedCommitLag, also reporting whether it judged the replica
// and whether the disk's floor was below commit_max.
func persistedCommitJudge(replica int, img invariants.DiskImage, commitMax, op uint64,
	canonical, known func(uint64) (checksum.Sum, bool)) (msg string, judged, held bool) {
	return persistedCommitJudgeWhen(replica, img, commitMax, op, canonical, known, "on an idle cluster")
}

// persistedCommitJudgeWhen is persistedCommitJudge, its violation saying when it was judged.
func persistedCommitJudgeWhen(replica int, img invariants.DiskImage, commitMax, op uint64,
	canonical, known func(uint64) (checksum.Sum, bool), when string) (msg string, judged, held bool) {
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
		if mine, ok := known(next); !ok || mine != sum {
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
		why = fmt.Sprintf("the highest op up to which its disk holds every committed prepare intact and its log their headers (commit_max %d)", commitMax)
	}
	return fmt.Sprintf("replica %d's durable superblock names commit number %d %s, %d below %d, %s "+
		"(durable checkpoint %d): a restart would recover a commit number more than half a checkpoint interval "+
		"(%d ops) behind what its disk verifiably holds", replica, img.Commit, when, floor-img.Commit, floor, why,
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
		if in.Status != vsr.StatusNormal || in.CommitMin != in.CommitMax || persistedCommitWaits(&in) ||
			run.c.Nodes[i].Disk.InFlightUntil() > run.c.Loop.Now() {
			continue // a superblock write on its way: the per-tick judgement sees it land
		}
		img := run.disks.image(i, in.CommitMax)
		msg, judged, held := persistedCommitJudge(i, img, in.CommitMax, in.Op, run.suite.CanonicalAt, replicaHeaderSum(rep))
		run.broken = cmp.Or(run.broken, msg)
		if judged {
			run.persistedJudged++
		}
		if held {
			run.persistedFloorHeld++
		}
	}
}

// checkPersistedCommitAt judges replica i at a tick of the run, as the idle check does, once
// nothing the replica meant to persist can still be on its way: it is a member in normal
// status, no superblock write of its is in flight, queued in the storage engine or waiting
// to be retried (Inspection.StateWritePending), and its disk has no operation in flight. The
// bound is the idle check's: a superblock write the replica did not make was one it chose
// not to make (persistState: within the slack, or held below an op its disk may not hold as
// the log's, which the disk's floor reads for itself). Cheap on most ticks: the durable
// superblock is read through its memo, and the disk image only when its commit number trails
// commit_max by more than the slack.
//
// It judges each replica at every persistedCommitStride-th tick only (replicas in turn): a
// lag the bound forbids lasts until the next checkpoint, far longer, and reading every
// superblock at every tick cost 3% of the swarm's time.
func (run *swarmRun) checkPersistedCommitAt(i int, in *vsr.Inspection) string {
	now := run.c.Loop.Now()
	if (int64(now)/int64(sim.TickInterval)+int64(i))%persistedCommitStride != 0 || run.disks == nil ||
		in.Status != vsr.StatusNormal || persistedCommitWaits(in) ||
		in.CommitMax <= in.CheckpointOp+persistedCommitSlack || run.gone[i] || !run.c.IsMember(i) {
		return ""
	}
	disk := run.c.Nodes[i].Disk
	if sb := run.disks.superblocks[i].read(disk); sb.ok && sb.commit+persistedCommitSlack >= in.CommitMax {
		return "" // the common case, first: the superblock's memo answers it without a copy
	}
	if disk.InFlightUntil() > now {
		return ""
	}
	img := run.disks.image(i, in.CommitMax)
	msg, _, _ := persistedCommitJudgeWhen(i, img, in.CommitMax, in.Op, run.suite.CanonicalAt, replicaHeaderSum(run.c.Replica(i)), "at a tick with no superblock write pending and its disk idle")
	return msg
}

// persistedCommitWaits reports that what the replica means to persist may still be on its
// way, so that neither check judges it yet: a superblock write in flight, queued or waiting
// to be retried (Inspection.StateWritePending), or a log write that failed and waits for the
// repair timeout to write it again (Inspection.LogWriteRetry). The failed entry holds the
// replica's commit below it (unverifiedFloor: it cannot know what the failed write left on
// disk) while the disk may hold it whole, which the floor reads; the retry, at most one
// repair round later, persists the commit (writePrepareCallback). Judging in that window was
// a false alarm (swarm seed 10000007607, h125: R3, its repairs rewritten in place, the
// record write of the last failed at 4.921 s; judged at 4.934 s, durable commit 79 under a
// floor of 113; the repair timeout wrote it again at 4.952 s and the superblock at once).
// The wait is one round long: the timeout clears LogWriteRetry, so a replica whose retry
// never persists the commit is judged again.
func persistedCommitWaits(in *vsr.Inspection) bool {
	return in.StateWritePending || in.LogWriteRetry
}

// replicaHeaderSum gives the checksum of the header rep's log holds for an op.
func replicaHeaderSum(rep *vsr.Replica) func(uint64) (checksum.Sum, bool) {
	return func(op uint64) (checksum.Sum, bool) {
		h, ok := rep.Header(op)
		return h.Checksum, ok
	}
}
