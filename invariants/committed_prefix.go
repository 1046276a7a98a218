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

// prefix holds the headers of log at ops up to commit to the canonical prepares.
func (c *canonicalCommit) prefix(atNs int64, replica int, view uint32, commit uint64, log []PrepareRef, what string) *Violation {
	for _, p := range log {
		if p.Op > commit {
			continue
		}
		canon, ok := c.lookup(p.Op)
		if !ok || canon.sum == p.Checksum {
			continue
		}
		return violation(NameCommittedPrefix, replica, p.Op, view, atNs,
			"in view %d %s prepare %s (view %d) at op %d, at or below its commit number %d, but the canonical prepare of op %d is %s (view %d)",
			view, what, short(p.Checksum), p.View, p.Op, commit, p.Op, short(canon.sum), canon.view)
	}
	return nil
}
