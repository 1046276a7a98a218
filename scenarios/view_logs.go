package scenarios

import (
	"slices"

	"vopr/cluster/vsr"
	"vopr/invariants"
)

// logRefs decodes the log headers a do_view_change or start_view carries, into buf's array
// (the checkers copy what they keep); ok is false if the body is not a log the checkers can
// read.
func logRefs(body []byte, cluster uint64, buf []invariants.PrepareRef) (log []invariants.PrepareRef, ok bool) {
	log = slices.Grow(buf[:0], len(body)/vsr.HeaderSize)
	for at := 0; at+vsr.HeaderSize <= len(body); at += vsr.HeaderSize {
		h, err := vsr.DecodeHeader(body[at:at+vsr.HeaderSize], cluster)
		if err != nil {
			return nil, false
		}
		log = append(log, invariants.PrepareRef{Op: h.Op, View: h.View, Epoch: h.Epoch, Checksum: h.Checksum})
	}
	return log, true
}

// onViewLogSent shows committed_prefix the log (logRefs of its body) replica from sent in a
// do_view_change or a start_view, with the commit number it sent alongside.
func (run *swarmRun) onViewLogSent(from int, m vsr.Message, log []invariants.PrepareRef) {
	run.suite.OnViewLog(int64(run.c.Loop.Now()), from, m.Header.Command, m.Header.View, m.Header.Commit, log)
}

// onLogSettled shows committed_prefix a replica's log up to its commit number whenever it
// settles on a new state: after a state sync or a recovery, and on entering normal status.
// (Every event would be thorough but costly; these are where a log is rebuilt.)
func (run *swarmRun) onLogSettled(e vsr.Event) {
	switch {
	case e.Kind == vsr.EventStateSync, e.Kind == vsr.EventRecovered,
		e.Kind == vsr.EventStatus && (e.Text == "normal backup" || e.Text == "normal primary"):
	default:
		return
	}
	r := run.c.Replica(e.Replica)
	if r == nil {
		return
	}
	s := r.TraceState()
	log := run.heldLog[:0] // the checkers copy what they keep
	for op := s.CommitMax - min(s.CommitMax, vsr.LogSlotsMax-1); op <= s.CommitMax; op++ {
		if h, ok := r.Header(op); ok && op > 0 {
			log = append(log, invariants.PrepareRef{Op: op, View: h.View, Checksum: h.Checksum})
		}
	}
	run.heldLog = log
	run.suite.OnLogHeld(int64(run.c.Loop.Now()), e.Replica, s.View, s.CommitMax, log)
}
