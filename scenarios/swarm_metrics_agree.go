package scenarios

import (
	"fmt"

	"vopr/cluster/vsr"
	"vopr/sim"
)

// metricsAgreement holds each replica's own counters (Inspection.Metrics: what `replica
// status`, the metrics endpoint and the runbook's dashboards and alerts read) to the events
// the same process reported: every executed op is an EventCommit, every view entered an
// EventStatus "view_change", every repair, truncation, checkpoint, state sync and eviction
// its own event. The two are kept apart in the replica, so a counter bumped in the wrong
// place (twice per op, per batch instead of per op, or not at all on one path) shows as a
// disagreement, where the checkers that read the events alone would never see it, and a
// view-change counter that misses a path silences the ViewChangeStorm alert.
//
// Counts are per process (the replica object): a restart starts both at zero.
type metricsAgreement struct {
	tallies []metricsTally // by replica slot
}

// metricsTally is what one process reported in events.
type metricsTally struct {
	of                                                                        *vsr.Replica
	commits, viewChanges, repairs, truncations, checkpoints, syncs, evictions uint64
}

// onEvent counts e for the process that emitted it (the slot's current replica: events are
// emitted synchronously by it).
func (m *metricsAgreement) onEvent(c *sim.Cluster, e vsr.Event) {
	r := c.Replica(e.Replica)
	if r == nil || e.Replica < 0 {
		return
	}
	t := m.tally(e.Replica, r)
	switch e.Kind {
	case vsr.EventCommit:
		t.commits++
	case vsr.EventStatus:
		if e.Text == "view_change" {
			t.viewChanges++
		}
	case vsr.EventRepair:
		t.repairs++
	case vsr.EventTruncate:
		t.truncations++
	case vsr.EventCheckpoint:
		t.checkpoints++
	case vsr.EventStateSync:
		t.syncs++
	case vsr.EventEviction:
		t.evictions++
	}
}

// tally returns slot i's tally for process r, starting afresh for a new process.
func (m *metricsAgreement) tally(i int, r *vsr.Replica) *metricsTally {
	for len(m.tallies) <= i {
		m.tallies = append(m.tallies, metricsTally{})
	}
	if t := &m.tallies[i]; t.of != r {
		*t = metricsTally{of: r}
	}
	return &m.tallies[i]
}

// check compares process r's counters, as inspected, with its events; it returns the
// first disagreement.
func (m *metricsAgreement) check(i int, r *vsr.Replica, in *vsr.Inspection) string {
	t := m.tally(i, r)
	got := in.Metrics
	for _, c := range []struct {
		name          string
		counter, seen uint64
		event         string
	}{
		{"commits_total", got.CommitsTotal, t.commits, "commit events"},
		{"view_changes_total", got.ViewChangesTotal, t.viewChanges, "view_change status events"},
		{"repairs", got.Repairs, t.repairs, "repair events"},
		{"truncations", got.Truncations, t.truncations, "truncate events"},
		{"checkpoints", got.Checkpoints, t.checkpoints, "checkpoint events"},
		{"state_syncs", got.StateSyncs, t.syncs, "state sync events"},
		{"evictions", got.Evictions, t.evictions, "eviction events"},
	} {
		if c.counter != c.seen {
			return fmt.Sprintf("metrics: replica %d reports %s = %d, but this process reported %d %s",
				i, c.name, c.counter, c.seen, c.event)
		}
	}
	return ""
}
