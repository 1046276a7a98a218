package invariants

import "vopr/cluster/vsr"

// NameCommittedPrefix checks VRR's log matching on the committed prefix: every header a
// replica holds, or sends in a do_view_change or start_view, at an op at or below its commit
// number is the canonical prepare of that op (once a replica has executed it). A committed
// prefix is the same everywhere; a log holding another prepare below its own commit number
// got it somewhere the protocol forbids (a stale suffix kept across a state sync, a commit
// number advanced without checking the op at the commit point, a merge that took a header
// from an older log view), and a view change that reads it may install and execute it.
// Headers above the commit number may differ: they are uncommitted, and a view change
// decides them. Ops no replica has executed yet are not checked.
//
// The harness shows the checker every do_view_change and start_view sent (OnViewLog), and a
// replica's whole log below its commit number whenever it settles on a new state: after a
// state sync or a recovery, and on entering normal status (OnLogHeld).
//
// The same holds of the disk, read by the harness at the disk checks: every intact entry
// above the durable checkpoint and at or below the durable commit number is the canonical
// prepare of its op. After a crash the replica replays its entries up to that commit number
// as committed; an entry of an older log below it (a persisted commit number that ran past
// an op the replica had not yet rewritten since a view change replaced it) would be executed
// in place of the committed prepare.
const NameCommittedPrefix = "committed_prefix"

// OnViewLog takes the log a do_view_change or start_view carries (command names it): the
// sender, the view it was sent in, the sender's commit number, and its headers.
func (s *Suite) OnViewLog(atNs int64, replica int, command vsr.Command, view uint32, commit uint64, log []PrepareRef) {
	if s.see(atNs) {
		s.report(s.canonical.prefix(atNs, replica, view, commit, log, "its "+command.String()+" carries"))
	}
}

// OnLogHeld takes the headers a replica's log holds at ops up to its commit number.
func (s *Suite) OnLogHeld(atNs int64, replica int, view uint32, commit uint64, log []PrepareRef) {
	if s.see(atNs) {
		s.report(s.canonical.prefix(atNs, replica, view, commit, log, "its log holds"))
	}
}

// diskPrefix holds the intact entries of a disk image, above its checkpoint and up to its
// commit number, to the canonical prepares.
func (c *canonicalCommit) diskPrefix(atNs int64, replica int, img *DiskImage) *Violation {
	if !img.Valid {
		return nil
	}
	for _, e := range img.Entries {
		if e.Op <= img.CheckpointOp || e.Op > img.Commit || !e.Intact || e.Disowned {
			continue
		}
		canon := c.record(e.Op)
		if canon == nil || canon.sum == e.Prepare {
			continue
		}
		return violation(NameCommittedPrefix, replica, e.Op, img.View, atNs,
			"its disk holds prepare %s (view %d) at op %d, at or below its durable commit number %d (checkpoint %d), but the canonical prepare of op %d is %s (view %d)",
			short(e.Prepare), e.View, e.Op, img.Commit, img.CheckpointOp, e.Op, short(canon.sum), canon.view)
	}
	return nil
}

// prefix holds the headers of log at ops up to commit to the canonical prepares.
func (c *canonicalCommit) prefix(atNs int64, replica int, view uint32, commit uint64, log []PrepareRef, what string) *Violation {
	for _, p := range log {
		if p.Op > commit {
			continue
		}
		canon := c.record(p.Op)
		if canon == nil || canon.sum == p.Checksum {
			continue
		}
		return violation(NameCommittedPrefix, replica, p.Op, view, atNs,
			"in view %d %s prepare %s (view %d) at op %d, at or below its commit number %d, but the canonical prepare of op %d is %s (view %d)",
			view, what, short(p.Checksum), p.View, p.Op, commit, p.Op, short(canon.sum), canon.view)
	}
	return nil
}
