package scenarios

import (
	"fmt"

	"vopr/cluster/vsr"
	"vopr/sim"
)

// metricsAgreement holds each replica's own counters (Inspection.Metrics: what `replica
// status`, the metrics endpoint and the runbook's dashboards and alerts read) to the events
// the same process reported: every executed op is an EventCommit, every view entered an
// EventStatus "view_change", every repair, truncation, checkpoint, state sync, eviction
// and upgrade its own event (and the commit latency histogram agrees with itself, and with
// the latencies the harness measured: metrics_latency.go). The two are kept apart in the
// replica, so a counter bumped in the wrong
// place (twice per op, per batch instead of per op, or not at all on one path) shows as a
// disagreement, where the checkers that read the events alone would never see it, and a
// view-change counter that misses a path silences the ViewChangeStorm alert.
//
// Counts are per process (the replica object): a restart starts both at zero.
type metricsAgreement struct {
	tallies []metricsTally // by replica slot
	// latency holds each primary's commit latency histogram to the latencies the harness
	// measured (metrics_latency.go); nil until the first hook hands it the cluster.
	latency *latencyWitness
	// clockHolds counts the alert holds whose clock verdicts were checked
	// (swarm_clock_verdict.go).
	clockHolds uint64
}

// metricsTally is what one process reported in events.
type metricsTally struct {
	of                                                                        *vsr.Replica
	commits, viewChanges, repairs, truncations, checkpoints, syncs, evictions uint64
	upgrades                                                                  uint64
	// release is the cluster release of this process's last upgrade event: each one must
	// name a higher release (an upgrade op executed again, a duplicate prepared across a
	// view change, changes nothing), and repeated names a release that did not rise.
	release  uint32
	repeated string
	// checked is the last commit latency histogram that passed checkLatencyHistogram (valid
	// when histogramChecked): the check is a function of the histogram alone, and between
	// commits the replica reports the same one at every tick.
	checked          vsr.Histogram
	histogramChecked bool
}

// onEvent counts e for the process that emitted it (the slot's current replica: events are
// emitted synchronously by it).
func (m *metricsAgreement) onEvent(c *sim.Cluster, e vsr.Event) {
	r := c.Replica(e.Replica)
	if r == nil || e.Replica < 0 {
		return
	}
	m.count(e.Replica, r, e)
	m.witness(c).event(e.Replica, e)
}

// witness returns the latency witness, made at the first call.
func (m *metricsAgreement) witness(c *sim.Cluster) *latencyWitness {
	if m.latency == nil {
		m.latency = &latencyWitness{mono: func(node int) int64 { return c.Nodes[node].Clock.Monotonic() },
			active: func() int {
				active, _ := c.Members()
				return len(active)
			}}
	}
	return m.latency
}

// onPrepareSent shows the latency witness a prepare replica from sent.
func (m *metricsAgreement) onPrepareSent(c *sim.Cluster, from int, msg []byte) {
	m.witness(c).sent(c.ClusterID(), from, msg)
}

// onPrepareOK shows the latency witness a prepare_ok the network delivered to replica to.
func (m *metricsAgreement) onPrepareOK(c *sim.Cluster, to int, msg []byte) {
	m.witness(c).delivered(c.ClusterID(), to, msg)
}

// count tallies e for process r in slot i.
func (m *metricsAgreement) count(i int, r *vsr.Replica, e vsr.Event) {
	t := m.tally(i, r)
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
	case vsr.EventUpgrade:
		t.upgrades++
		var release uint32
		if _, err := fmt.Sscanf(e.Text, "cluster release %d", &release); err == nil && release <= t.release && t.repeated == "" {
			t.repeated = fmt.Sprintf("metrics: replica %d reported an upgrade to cluster release %d at op %d, after its upgrade to release %d: the release did not rise",
				e.Replica, release, e.Op, t.release)
		}
		t.release = max(t.release, release)
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
	if t.repeated != "" {
		return t.repeated
	}
	if reason := checkEligible(i, in); reason != "" {
		return reason
	}
	got := &in.Metrics
	// The usual case, every counter agreeing, compared without building the table below
	// (which names them for the message) at every inspection.
	if got.CommitsTotal != t.commits || got.ViewChangesTotal != t.viewChanges || got.Repairs != t.repairs ||
		got.Truncations != t.truncations || got.Checkpoints != t.checkpoints || got.StateSyncs != t.syncs ||
		got.Evictions != t.evictions || got.Upgrades != t.upgrades {
		return t.disagreement(i, got)
	}
	if m.latency != nil {
		if reason := m.latency.inspect(i, r, in); reason != "" {
			return reason
		}
	}
	if t.histogramChecked && got.CommitLatency == t.checked {
		return "" // passed as it is: the same histogram gives the same verdict
	}
	if reason := checkLatencyHistogram(i, &got.CommitLatency); reason != "" {
		return reason
	}
	t.checked, t.histogramChecked = got.CommitLatency, true
	return ""
}

// counters reports how often the latency witness compared a histogram and the clock
// verdicts were checked.
func (m *metricsAgreement) counters(counters map[string]uint64) {
	if m.latency != nil {
		counters["coverage.mark.latency_witness.checked"] = m.latency.checked
	}
	counters["coverage.mark.clock_verdict.checked"] = m.clockHolds
}

// disagreement returns the first of the counters got that differs from the tally's events.
func (t *metricsTally) disagreement(i int, got *vsr.Metrics) string {
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
		{"upgrades", got.Upgrades, t.upgrades, "upgrade events"},
	} {
		if c.counter != c.seen {
			return fmt.Sprintf("metrics: replica %d reports %s = %d, but this process reported %d %s",
				i, c.name, c.counter, c.seen, c.event)
		}
	}
	return ""
}

// checkLatencyHistogram holds a replica's commit latency histogram to itself: its buckets
// add up to its count, and each quantile it reports (Histogram.QuantileMs: the p99 of
// `replica status`, the metrics endpoint and the latency alert) is the upper end of the
// bucket that holds the nearest-rank sample (rank ceil(q*count)), recomputed here from the
// buckets. A quantile taken one bucket off is a latency reported half or twice what it was.
func checkLatencyHistogram(i int, h *vsr.Histogram) string {
	var sum uint64
	for _, c := range h.Buckets {
		sum += c
	}
	if sum != h.Count {
		return fmt.Sprintf("metrics: replica %d's commit latency histogram counts %d samples, but its buckets %v hold %d",
			i, h.Count, h.Buckets, sum)
	}
	for _, permille := range []uint64{500, 990, 999, 1000} {
		want := nearestRankBoundMs(h.Buckets[:], h.Count, permille)
		if got := h.QuantileMs(float64(permille) / 1000); got != want {
			return fmt.Sprintf("metrics: replica %d reports a p%g commit latency of %d ms over %d samples (buckets %v), but the nearest-rank sample lies in the bucket that ends at %d ms",
				i, float64(permille)/10, got, h.Count, h.Buckets, want)
		}
	}
	return ""
}

// nearestRankBoundMs is the upper end, in ms, of the power-of-two bucket (bucket k: samples
// under 2^k ms) holding the sample of rank ceil(permille*count/1000); 0 without samples.
func nearestRankBoundMs(buckets []uint64, count, permille uint64) int64 {
	if count == 0 {
		return 0
	}
	rank := (count*permille + 999) / 1000
	var cum uint64
	for k, c := range buckets {
		if cum += c; cum >= rank {
			return int64(1) << k
		}
	}
	return -1 // the buckets hold fewer samples than the count (checked before)
}

// checkEligible holds a standby's promotion eligibility (what `replica status` shows and a
// DR failover is judged by) to the runbook's definition: a standby is eligible only while it
// is normal and its lag, in time and in ops, is known (it has heard from a primary since it
// started) and within the bounds (vsr.StandbyLagMaxNs, vsr.StandbyLagOpsMax) of the same
// status. An operator who promotes a standby the status calls eligible while it is a
// checkpoint or more behind, or while nothing measures how far behind it is, loses what it
// lacks.
func checkEligible(i int, in *vsr.Inspection) string {
	if !in.StandbyEligible {
		return ""
	}
	if !in.StandbyLagKnown {
		return fmt.Sprintf("metrics: standby %d reports itself eligible for promotion while its lag is unknown "+
			"(no primary heard since it started; op %d executed, commit %d known)", i, in.CommitMin, in.CommitMax)
	}
	if in.Status != vsr.StatusNormal || in.StandbyLagNs > vsr.StandbyLagMaxNs || in.StandbyLagOps > vsr.StandbyLagOpsMax {
		return fmt.Sprintf("metrics: standby %d reports itself eligible for promotion while %s with a lag of %s and %d ops "+
			"(the bounds: %s and %d ops, in normal status)", i, in.Status, sim.Duration(in.StandbyLagNs), in.StandbyLagOps,
			sim.Duration(vsr.StandbyLagMaxNs), vsr.StandbyLagOpsMax)
	}
	return ""
}
