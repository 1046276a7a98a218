package invariants

import "vopr/cluster/vsr"

// NameViewLogCommitted checks the logs replicas send each other in a view change: a
// do_view_change or start_view carries its sender's log headers and its commit number, and
// every header it carries at an op the sender counts as committed (op <= commit) must be the
// canonical prepare of that op, once a replica has executed it. A committed prefix is the
// same on every replica (VRR's log-matching); a log that holds another prepare below its
// own commit number came from somewhere the protocol forbids (a stale suffix kept across a
// state sync, a commit number advanced without checking the op at the commit point, a
// merge that took a header from an older log view), and the view change that reads it may
// install and execute it. Headers above the commit number may differ: they are uncommitted,
// and the view change decides them. Ops no replica has executed yet are not checked.
const NameViewLogCommitted = "view_log_committed"

// OnViewLog takes the log a do_view_change or start_view carries (command names it): the
// sender, the view it was sent in, the sender's commit number, and its headers.
func (s *Suite) OnViewLog(atNs int64, replica int, command vsr.Command, view uint32, commit uint64, log []PrepareRef) {
	if !s.see(atNs) {
		return
	}
	for _, p := range log {
		if p.Op > commit {
			continue
		}
		canon, ok := s.canonical.lookup(p.Op)
		if !ok || canon.sum == p.Checksum {
			continue
		}
		s.report(violation(NameViewLogCommitted, replica, p.Op, view, atNs,
			"its %s of view %d carries prepare %s (view %d) at op %d, below its commit number %d, but the canonical prepare of op %d is %s (view %d)",
			command, view, short(p.Checksum), p.View, p.Op, commit, p.Op, short(canon.sum), canon.view))
		return
	}
}
