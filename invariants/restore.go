package invariants

import (
	"slices"

	"vopr/cluster/vsr"
)

// OnRestoreFromBackup tells the Suite that every replica's data was replaced by one backup
// whose committed prefix ends at op (the runbook's `cluster restore-from-backup`, Scenario
// 2 option C): the operations after it are lost by design (RPO = the backup's age), and
// everything up to it must survive intact. It returns the acknowledged ops above op (the
// writes the restore lost, for the report), or a violation when the restore point cannot
// be checked: no replica ever reported the state digest at op, so "nothing else is lost"
// would go unverified.
//
// From here on:
//   - canonical_commit, digest_agreement and checkpoint_agreement forget the ops above op
//     (the rebuilt cluster commits new ones there) and keep those up to it: a restored
//     replica whose state at op differs from the old cluster's fails digest_agreement;
//   - acked_survive forgets the acknowledgements above op and keeps checking the others;
//   - view_monotonic starts afresh (the restored superblock holds the backup's views);
//   - the history is cut: operations still pending are abandoned (their late replies may
//     come from either cluster and are ignored); a workload that goes on must use keys the
//     old cluster never wrote, since the old keys' values went back in time by design.
func (s *Suite) OnRestoreFromBackup(atNs int64, op uint64) (lost []uint64, v *Violation) {
	if !s.see(atNs) {
		return nil, s.first
	}
	if _, ok := s.digests.digests.get(op); !ok {
		v = violation(NameDigestAgreement, -1, op, 0, atNs,
			"restore point op %d: no replica reported its state digest there, so the restored state cannot be checked", op)
		s.report(v)
		return nil, v
	}
	return s.rewindTo(op), nil
}

// OnFailover tells the Suite that a standby was promoted into a new configuration (the
// runbook's `cluster failover --promote-standby`, Scenario 2 option B) keeping the committed
// prefix up to op: every replica of the old configuration is gone, and what they
// acknowledged above op is lost by the operator's approval. It returns those acknowledged
// ops (the recovery point the failover cost, counted exactly). From here on the checkers
// treat the new configuration as OnRestoreFromBackup does the restored cluster: up to op
// everything must survive (the promoted replica's state at op is held to the old cluster's
// digest there, when one was reported), above op the new epoch commits its own ops, and
// views start afresh. The durability of executed ops is judged on the promoted replica's
// disk alone (promoted is its index, the one the checkers know it by).
func (s *Suite) OnFailover(atNs int64, op uint64, promoted int) []uint64 {
	if !s.see(atNs) {
		return nil
	}
	s.activeDisks = []int{promoted}
	s.copies.replicas = 1
	return s.rewindTo(op)
}

// rewindTo forgets everything above op and the old configuration's views and disks (see
// OnRestoreFromBackup); it returns the acknowledged ops above op.
func (s *Suite) rewindTo(op uint64) (lost []uint64) {
	s.history.cut()
	lost = s.acked.rewind(op)
	s.quorums.rewind(op)
	// The new configuration numbers its views afresh: the old one's start_view logs name
	// nothing of it (swarm seed 2026171698: a promoted standby's view 5 was held to the lost
	// configuration's view 5).
	s.logViews.views = nil
	s.canonical.rewind(op)
	s.audits.rewind(op)
	s.digests.digests.truncate(op)
	s.snapshots.first.truncate(op)
	for i := range s.views.replicas {
		s.views.replicas[i] = viewTrack{}
	}
	// Every disk was replaced: the copies and checkpoints they held are gone by design.
	for i := range s.checkpoints.replicas {
		s.checkpoints.wipe(i)
	}
	for i := range s.copies.acks {
		s.copies.forget(i)
	}
	s.copies.covered = min(s.copies.covered, op)
	s.vcAcks = viewChangeAcks{canon: &s.canonical}
	for i := range s.logViews.normal {
		s.logViews.forget(i)
	}
	// The rebuilt cluster goes through view numbers and ops the old one used.
	s.logViews.views = nil
	s.prepared.byOp.truncate(op)
	s.reads.model.rewind(op)
	return lost
}

// rewind forgets the canonical ops above op; every replica resumes from at most op.
func (c *canonicalCommit) rewind(op uint64) {
	c.canon.truncate(op)
	c.highest = min(c.highest, op)
	for i := range c.executors {
		c.executors[i] = executor{ceiling: op, crashed: true}
	}
}

// rewind forgets the acknowledgements above op and returns their ops, ascending.
func (a *ackedSurvive) rewind(op uint64) []uint64 {
	var kept []ackRecord
	var lost []uint64
	for _, rec := range a.acks {
		if rec.op > op {
			lost = append(lost, rec.op)
		} else {
			kept = append(kept, rec)
		}
	}
	a.byOp.truncate(op)
	a.acks, a.stairs = kept, nil
	for _, rec := range kept {
		a.addStair(rec.view, rec.op)
	}
	for i := range a.commitMins {
		a.commitMins[i] = min(a.commitMins[i], op)
	}
	slices.Sort(lost)
	return lost
}

// event takes a checkpoint's digest (vsr.EventCheckpoint carries the state digest at its
// op): a checkpoint is the state a backup or a state sync carries, so its digest is
// recorded even when no inspection happened to see the replica at that op.
func (d *digestAgreement) event(atNs int64, e vsr.Event) *Violation {
	if e.Kind != vsr.EventCheckpoint {
		return nil
	}
	return d.inspect(atNs, e.Replica, &vsr.Inspection{Status: vsr.StatusNormal, CommitMin: e.Op, Digest: e.Checksum,
		View: e.View})
}

// cut abandons every pending operation: it counts as indeterminate, and its completion,
// whenever it comes, is ignored.
func (h *History) cut() {
	for i := range h.ops {
		if h.ops[i].status == opPending {
			h.ops[i].status, h.ops[i].abandoned = opIndeterminate, true
		}
	}
}
