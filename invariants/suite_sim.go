package invariants

// The Suite's inputs from what only the simulator knows: prepares as their primaries
// created them (with the clocks' true readings), the logs views started with, and the disks'
// durable images.

// OnPrepare takes a prepare its primary sent (the harness passes prepares sent by the
// replica that created them; the first sighting of each is its creation, resends are
// ignored). It checks the timestamp at the instant of creation and keeps the prepare's
// digest for canonical_commit and its view for log_view_durable.
func (s *Suite) OnPrepare(atNs int64, p Prepared) {
	if !s.see(atNs) {
		return
	}
	maxBefore := s.prepared.maxTimestamp
	if _, fresh := s.prepared.add(atNs, p); !fresh {
		return
	}
	s.prepared.maxTimestamp = max(s.prepared.maxTimestamp, p.Timestamp)
	s.prepared.maxOp = max(s.prepared.maxOp, p.Op)
	if p.Late {
		s.stamps.late++
		return
	}
	s.report(s.stamps.created(atNs, p, maxBefore))
	if s.monotonic != nil {
		s.report(s.clocks.offsetSide(atNs, p, s.monotonic(p.Replica), maxBefore))
	}
}

// OnStartView takes a start_view its view's primary sent: the log of view up to op (the
// headers it carries). The first one of each view is the log the view started with.
func (s *Suite) OnStartView(atNs int64, epoch, view uint32, op uint64, log []PrepareRef) {
	if !s.see(atNs) {
		return
	}
	s.logViews.startView(viewKey(epoch, view), op, log)
}

// SetDisks lets the Suite read the replicas' durable disk images (acked_durable,
// log_view_durable and the crash checks of checkpoint_monotonic); without it those checks
// do not run.
func (s *Suite) SetDisks(read DiskReader) { s.disks = read }

// OnWipe declares that a replica's disk was wiped or replaced (an operator's storage
// restore while it was down): what it held before is forgotten, and it may restart below
// its former checkpoint.
func (s *Suite) OnWipe(atNs int64, replica int) {
	if !s.see(atNs) {
		return
	}
	s.wipes++
	if replica < len(s.views.replicas) {
		s.views.replicas[replica] = viewTrack{} // a new disk votes from view 0 again
	}
	s.checkpoints.wipe(replica)
	s.copies.forget(replica)
	s.logViews.forget(replica)
	s.vcAcks.forget(replica)
	s.audits.wipe(replica)
}

// OnAuditHead takes the audit chain head a replica's newly durable superblock stores for its
// checkpoint op (read from the disk by the harness; op 0: the format's state), and whether the
// head is the seed of that checkpoint's snapshot (a chain starting there) rather than a chain
// head: audit_chain holds it to the committed prepares.
func (s *Suite) OnAuditHead(atNs int64, replica int, op uint64, head [32]byte, seeded bool) {
	if !s.see(atNs) {
		return
	}
	s.report(s.audits.stored(atNs, replica, op, head, seeded))
}

func (s *Suite) readDisk(replica int) DiskImage {
	return s.disks(replica, max(s.prepared.maxOp, s.canonical.highest))
}

// checkDisk reads one replica's disk and holds it to its acknowledgements and log_view.
func (s *Suite) checkDisk(atNs int64, replica int) {
	if s.disks == nil || s.first != nil {
		return
	}
	image := s.readDisk(replica)
	s.vcAcks.sawDisk(atNs, replica, &image)
	excused := s.damage.excused(replica, &image)
	s.report(s.copies.check(atNs, replica, &image, excused))
	s.report(s.logViews.check(atNs, replica, &image, excused))
	s.report(s.canonical.diskPrefix(atNs, replica, &image))
}

// checkAllDisks reads every replica's disk: each one's checks, then the cluster-wide one.
func (s *Suite) checkAllDisks(atNs int64) {
	if s.disks == nil || s.first != nil {
		return
	}
	disks := s.activeDisks
	if disks == nil {
		disks = make([]int, s.copies.replicas)
		for i := range disks {
			disks[i] = i
		}
	}
	images := make([]DiskImage, len(disks))
	for k, i := range disks {
		images[k] = s.readDisk(i)
		s.vcAcks.sawDisk(atNs, i, &images[k])
		excused := s.damage.excused(i, &images[k])
		s.report(s.copies.check(atNs, i, &images[k], excused))
		s.report(s.logViews.check(atNs, i, &images[k], excused))
		s.report(s.canonical.diskPrefix(atNs, i, &images[k]))
	}
	s.report(s.copies.lastCopy(atNs, images))
}

// Counters reports how much the simulator-aware checkers saw, so that a batch shows they
// were active: prepares whose timestamps were checked (and how many inside the clock
// model), executed prepares held to their created bytes, and disk reads.
func (s *Suite) Counters() map[string]uint64 {
	return map[string]uint64{
		"invariants.prepares_created":            s.prepared.count,
		"invariants.timestamps_checked":          s.stamps.checked,
		"invariants.prepares_seen_late":          s.stamps.late,
		"invariants.timestamps_in_model":         s.stamps.inModel,
		"invariants.executed_unseen_created":     s.canonical.executedUnseen,
		"invariants.disk_checks":                 s.copies.checks,
		"invariants.log_view_checks":             s.logViews.checks,
		"invariants.wipes_declared":              s.wipes,
		"invariants.standby_reads_checked":       s.reads.checked,
		"invariants.standby_reads_unchecked":     s.reads.unchecked,
		"invariants.linearizable_keys_unchecked": uint64(s.history.unchecked),
		"invariants.client_sessions_checked":     s.sessions.checked,
		"invariants.client_sessions_skipped":     s.sessions.skipped,
		"invariants.client_sessions_stale":       s.sessions.stale,
		"invariants.evictions_checked":           s.sessions.evictionsChecked,
		"invariants.evictions_skipped":           s.sessions.evictionsSkipped,
		"invariants.sync_contexts_checked":       s.canonical.syncsChecked,
		"invariants.sync_contexts_none":          s.canonical.syncsNone,
		"invariants.committed_replies_checked":   s.replies.checked,
		"invariants.committed_replies_skipped":   s.replies.skipped,
		"invariants.clock_sync_checked":          s.clockRef.checked,
		"invariants.clock_sync_unmatched":        s.clockRef.unmatched,
		"invariants.clock_sync_stale_pongs":      s.clockRef.stalePongs,
		"invariants.audit_heads_checked":         s.audits.checked,
		"invariants.audit_heads_unchecked":       s.audits.unchecked,
		"invariants.audit_seeds":                 s.audits.seeds,
		"invariants.checkpoints_compared":        s.snapshots.checked,
		"invariants.checkpoint_contents_checked": s.contents.checked,
		"invariants.session_executions_checked":  s.executions.checked,
		"invariants.session_executions_skipped":  s.executions.skipped,
		"invariants.prepare_window_checked":      s.commitLeOp.windowChecked,
		"coverage.check.prepare_window_full":     s.commitLeOp.windowFull,
	}
}
