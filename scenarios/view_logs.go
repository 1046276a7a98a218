package scenarios

import (
	"vopr/cluster/vsr"
	"vopr/invariants"
)

// logRefs decodes the log headers a do_view_change or start_view carries; ok is false if
// the body is not a log the checkers can read.
func logRefs(body []byte, cluster uint64) (log []invariants.PrepareRef, ok bool) {
	for at := 0; at+vsr.HeaderSize <= len(body); at += vsr.HeaderSize {
		h, err := vsr.DecodeHeader(body[at:at+vsr.HeaderSize], cluster)
		if err != nil {
			return nil, false
		}
		log = append(log, invariants.PrepareRef{Op: h.Op, View: h.View, Checksum: h.Checksum})
	}
	return log, true
}

// onViewLogSent shows view_log_committed the log a replica sent in a do_view_change or a
// start_view, with the commit number it sent alongside.
func (run *swarmRun) onViewLogSent(from int, m vsr.Message) {
	if int(m.Header.Replica) != from {
		return
	}
	if log, ok := logRefs(m.Body, run.c.ClusterID()); ok {
		run.suite.OnViewLog(int64(run.c.Loop.Now()), from, m.Header.Command, m.Header.View, m.Header.Commit, log)
	}
}
