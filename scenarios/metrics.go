package scenarios

import (
	"fmt"
	"slices"

	"vopr/cluster/vsr"
	"vopr/sim"
)

// Metrics with the runbook's names, sampled in simulated time, and the runbook's alert rules
// evaluated over the samples (DESIGN.md section 6).
//
// Where each metric comes from:
//   - commits_total{replica}: Inspection.Metrics.CommitsTotal (ops executed by the process).
//   - view_changes_total{replica}: Inspection.Metrics.ViewChangesTotal. Both reset when the
//     process restarts; the Monitor folds resets into a monotonic counter (what Prometheus's
//     rate() does with counter resets), detecting a restart by a new process.
//   - commit_latency_p99_ms: the current primary's CommitLatency histogram (whole lifetime
//     of the process, upper bound of the power-of-two bucket, vsr.Histogram.QuantileMs).
//   - replication_lag_ms{replica}: for each reachable replica that is not the primary, how
//     long ago the cluster committed the first op that replica has not executed: the
//     Monitor keeps the commit frontier over time (the highest commit_number of any
//     reachable replica, at each sample) and the lag of a replica at commit_min m is
//     now - (time of the first sample whose frontier exceeded m); 0 when caught up. This is
//     "ops behind" converted to time by the cluster's own commit timeline, so it stays
//     meaningful when the load is idle (where ops behind x mean op interval would be 0/0).
//     Resolution is the sampling interval. An unreachable replica has no series (it has no
//     exporter); replicas_total{status="unreachable"} covers it.
//   - assertion_failures_total: the cluster's fail-stops that were typed assertion failures
//     (sim.Failure.Assertion).
//   - replicas_total{status}: ClusterStatus counts per status; "healthy" is normal status.
//   - disk_usage_percent{replica}: Inspection.DiskUsagePct while the replica runs, else the
//     disk's own usage (the host's df, which works while the process is down).
//
// Time scaling: the runbook's windows are minutes of production time; a simulation lasts
// tens of seconds. The view-change window is scaled from 5 minutes to 30 seconds
// (ViewChangeWindow says why not shorter), and its threshold kept as an increase of more than 10 view
// changes in the window (the runbook's "rate(...[5m]) > 10" read as "more than 10 in the
// window": as a per-second rate it would need 3000 view changes in 5 minutes, far beyond
// "leader changes every few seconds"). Alerts that the runbook states without a duration
// get a short `for` (1 s simulated, DefaultFor) so a status flapping through one view change
// does not page; the assertion alert fires at once.

// Severity is the runbook's incident level.
type Severity int

const (
	P0 Severity = iota
	P1
	P2
	P3
)

func (s Severity) String() string { return fmt.Sprintf("P%d", int(s)) }

// ReplicaSample is one replica's metrics at one sample.
type ReplicaSample struct {
	Status           string // vsr status or "unreachable"
	Role             string
	CommitsTotal     uint64 // this process's
	ViewChangesTotal uint64 // folded across restarts (monotonic)
	CommitMin        uint64
	Commit           uint64
	LagMs            int64 // replication_lag_ms; -1: no series (unreachable or primary)
	DiskUsagePct     int
}

// Sample is the cluster's metrics at one instant of simulated time.
type Sample struct {
	At                     sim.Time
	Replicas               []ReplicaSample
	StatusTotals           map[string]int // replicas_total{status}; "healthy" = normal
	Healthy                int
	Quorum                 int
	Primary                int    // -1 if none healthy
	CommitsTotal           uint64 // the primary's commits_total (0 without a primary)
	CommitLatencyP99Ms     int64  // from the primary's histogram
	AssertionFailuresTotal uint64
	Frontier               uint64 // highest commit_number of any reachable replica so far
}

// MaxLagMs returns the highest replication_lag_ms and its replica (-1 if no series).
func (s Sample) MaxLagMs() (int64, int) {
	lag, who := int64(-1), -1
	for i, r := range s.Replicas {
		if r.LagMs > lag {
			lag, who = r.LagMs, i
		}
	}
	return lag, who
}

// MaxDiskUsage returns the highest disk_usage_percent and its replica.
func (s Sample) MaxDiskUsage() (int, int) {
	pct, who := -1, -1
	for i, r := range s.Replicas {
		if r.DiskUsagePct > pct {
			pct, who = r.DiskUsagePct, i
		}
	}
	return pct, who
}

// AlertRule is one of the runbook's alert conditions. Check reads the history of samples
// (newest last) and says whether the condition holds at the newest one, with its value and
// the replica it concerns (-1: the cluster).
type AlertRule struct {
	Name     string
	Severity Severity
	Expr     string       // the runbook's expression (as scaled)
	For      sim.Duration // how long the condition must hold before the alert fires
	Check    func(h []Sample) (firing bool, value float64, replica int)
	// Prometheus is the same rule for a real cluster's Prometheus, in production time
	// (deploy/prometheus/kimberlite-alerts.yml is rendered from it: alert_rules.go).
	Prometheus PrometheusAlert
}

// PrometheusAlert is a rule's PromQL form: the same metric, threshold and severity over
// the servers' /metrics (cmd/kimberlite --metrics-addr), with the runbook's unscaled
// windows. The servers are scraped by a job named "kimberlite" (PrometheusJob).
type PrometheusAlert struct {
	Expr string
	For  string // a Prometheus duration; "" fires at once
}

// PrometheusJob is the scrape job of the kimberlite servers that the rules count replicas in.
const PrometheusJob = "kimberlite"

// ProductionFor is DefaultFor in production time: long enough that a status flapping
// through one view change does not page.
const ProductionFor = "1m"

// healthyReplicas is the runbook's kimberlite_cluster_replicas_total{status="healthy"}, as
// the recording rule of alert_rules.go computes it from the replicas' exporters.
const healthyReplicas = `kimberlite_cluster_replicas_total{status="healthy"}`

// configuredReplicas is the number of replicas Prometheus scrapes, reachable or not.
var configuredReplicas = fmt.Sprintf(`count(up{job=%q})`, PrometheusJob)

// AlertEvent is an alert firing or resolving.
type AlertEvent struct {
	Rule     string
	Severity Severity
	At       sim.Time
	Value    float64
	Replica  int
	Resolved bool
}

func (e AlertEvent) String() string {
	verb := "firing"
	if e.Resolved {
		verb = "resolved"
	}
	return fmt.Sprintf("%s %s %s at %s (value %g, replica %d)", e.Severity, e.Rule, verb, e.At, e.Value, e.Replica)
}

// Alert rule names.
const (
	AlertReplicasUnhealthy = "ReplicasUnhealthy" // replicas_total{status="healthy"} < N
	AlertQuorumLost        = "QuorumLost"
	AlertViewChangeStorm   = "ViewChangeStorm"
	AlertReplicationLag    = "ReplicationLagHigh"
	AlertReplicationLagP2  = "ReplicationLagWarning"
	AlertAssertionFailure  = "AssertionFailure"
	AlertDiskUsage80       = "DiskUsage80"
	AlertDiskUsage90       = "DiskUsage90"
	AlertDiskUsage95       = "DiskUsage95"
)

// DefaultFor is how long a condition without an immediate alert must hold.
const DefaultFor = sim.Second

// ViewChangeWindow is the runbook's 5-minute rate window, scaled to simulated time. Not
// shorter: a replica's own timers (election timeout 500 ms plus jitter, a stuck view change
// 1 s) allow about one view change a second, so "more than 10" needs a window of tens of
// seconds to be reachable at all.
const ViewChangeWindow = 30 * sim.Second

// viewChangeStormMax is the most view changes a replica may enter in the window.
const viewChangeStormMax = 10

// RunbookAlerts returns the runbook's alert rules.
func RunbookAlerts() []AlertRule {
	disk := func(name string, sev Severity, pct int) AlertRule {
		return AlertRule{Name: name, Severity: sev, Expr: fmt.Sprintf("disk_usage_percent > %d", pct), For: DefaultFor,
			Check: func(h []Sample) (bool, float64, int) {
				v, who := h[len(h)-1].MaxDiskUsage()
				return v > pct, float64(v), who
			},
			Prometheus: PrometheusAlert{Expr: fmt.Sprintf("kimberlite_storage_disk_usage_percent > %d", pct), For: ProductionFor}}
	}
	lag := func(name string, sev Severity, ms int64) AlertRule {
		return AlertRule{Name: name, Severity: sev, Expr: fmt.Sprintf("replication_lag_ms > %d", ms),
			Check: func(h []Sample) (bool, float64, int) {
				v, who := h[len(h)-1].MaxLagMs()
				return v > ms, float64(v), who
			},
			Prometheus: PrometheusAlert{Expr: fmt.Sprintf("kimberlite_replication_lag_ms > %d", ms)}}
	}
	return []AlertRule{
		{Name: AlertReplicasUnhealthy, Severity: P2, Expr: `replicas_total{status="healthy"} < replica count`,
			For: DefaultFor, Check: func(h []Sample) (bool, float64, int) {
				s := h[len(h)-1]
				return s.Healthy < len(s.Replicas), float64(s.Healthy), -1
			},
			Prometheus: PrometheusAlert{Expr: healthyReplicas + " < on() " + configuredReplicas, For: ProductionFor}},
		{Name: AlertQuorumLost, Severity: P0, Expr: `replicas_total{status="healthy"} < quorum`, For: DefaultFor,
			Check: func(h []Sample) (bool, float64, int) {
				s := h[len(h)-1]
				return s.Healthy < s.Quorum, float64(s.Healthy), -1
			},
			Prometheus: PrometheusAlert{Expr: healthyReplicas + " < on() floor(" + configuredReplicas + " / 2) + 1",
				For: ProductionFor}},
		{Name: AlertViewChangeStorm, Severity: P1, Expr: fmt.Sprintf("increase(view_changes_total[30s]) > %d (runbook: [5m])", viewChangeStormMax),
			Check: func(h []Sample) (bool, float64, int) {
				now := h[len(h)-1]
				from := h[0]
				for k := len(h) - 1; k >= 0 && now.At-h[k].At <= sim.Time(ViewChangeWindow); k-- {
					from = h[k]
				}
				best, who := uint64(0), -1
				for i := range now.Replicas {
					if d := now.Replicas[i].ViewChangesTotal - from.Replicas[i].ViewChangesTotal; d > best || who < 0 {
						best, who = d, i
					}
				}
				return best > viewChangeStormMax, float64(best), who
			},
			Prometheus: PrometheusAlert{Expr: fmt.Sprintf("increase(kimberlite_consensus_view_changes_total[5m]) > %d",
				viewChangeStormMax)}},
		lag(AlertReplicationLag, P1, 1000),
		lag(AlertReplicationLagP2, P2, 500),
		{Name: AlertAssertionFailure, Severity: P0, Expr: "assertion_failures_total > 0",
			Check: func(h []Sample) (bool, float64, int) {
				v := h[len(h)-1].AssertionFailuresTotal
				return v > 0, float64(v), -1
			},
			Prometheus: PrometheusAlert{Expr: "kimberlite_assertion_failures_total > 0"}},
		disk(AlertDiskUsage80, P3, 80),
		disk(AlertDiskUsage90, P1, 90),
		disk(AlertDiskUsage95, P0, 95),
	}
}

// Monitor samples a cluster's metrics every Interval of simulated time and evaluates the
// alert rules at every sample. Call Observe after every tick (it samples when an interval
// has passed).
type Monitor struct {
	c        *sim.Cluster
	Interval sim.Duration
	Rules    []AlertRule
	samples  []Sample
	events   []AlertEvent
	next     sim.Time
	// per rule: when the condition started to hold (pending), and whether it is firing
	pendingSince map[string]sim.Time
	firing       map[string]bool
	// folded view-change counters: the process they were read from, its last value, and
	// the total of earlier processes.
	procs     []*vsr.Replica
	lastViews []uint64
	baseViews []uint64
	frontier  uint64
}

// NewMonitor samples every 100 ms of simulated time with the runbook's rules.
func NewMonitor(c *sim.Cluster) *Monitor {
	n := c.ReplicaCount()
	return &Monitor{c: c, Interval: 100 * sim.Millisecond, Rules: RunbookAlerts(),
		pendingSince: map[string]sim.Time{}, firing: map[string]bool{},
		procs: make([]*vsr.Replica, n), lastViews: make([]uint64, n), baseViews: make([]uint64, n)}
}

// Observe takes a sample if an interval has passed since the last one.
func (m *Monitor) Observe() {
	now := m.c.Loop.Now()
	if now < m.next {
		return
	}
	m.next = now + sim.Time(m.Interval)
	m.Add(m.sample(now))
}

func (m *Monitor) sample(now sim.Time) Sample {
	c := m.c
	status := ClusterStatus(c)
	s := Sample{At: now, StatusTotals: map[string]int{"healthy": status.Healthy}, Healthy: status.Healthy,
		Quorum: status.Quorum, Primary: status.Primary}
	for _, f := range c.Failures() {
		if f.Assertion {
			s.AssertionFailuresTotal++
		}
	}
	s.Replicas = make([]ReplicaSample, c.ReplicaCount())
	for i, st := range status.Replicas {
		s.StatusTotals[st.Status]++
		rs := ReplicaSample{Status: st.Status, Role: st.Role, CommitMin: st.CommitMin, Commit: st.Commit, LagMs: -1,
			DiskUsagePct: c.Nodes[i].Disk.Usage().Percent()}
		if r := c.Replica(i); r != nil && st.Status != StatusUnreachable {
			in := r.InspectState()
			in.DiskUsagePct = r.DiskUsagePct() // the compactable bytes are not sampled
			if r != m.procs[i] {
				m.baseViews[i] += m.lastViews[i]
				m.procs[i], m.lastViews[i] = r, 0
			}
			m.lastViews[i] = in.Metrics.ViewChangesTotal
			rs.CommitsTotal, rs.DiskUsagePct = in.Metrics.CommitsTotal, in.DiskUsagePct
			if i == status.Primary {
				s.CommitsTotal = in.Metrics.CommitsTotal
				s.CommitLatencyP99Ms = in.Metrics.CommitLatency.QuantileMs(0.99)
			}
			m.frontier = max(m.frontier, st.Commit)
		}
		rs.ViewChangesTotal = m.baseViews[i] + m.lastViews[i]
		s.Replicas[i] = rs
	}
	s.Frontier = m.frontier
	for i := range s.Replicas {
		rs := &s.Replicas[i]
		if rs.Status == StatusUnreachable || i == status.Primary {
			continue
		}
		rs.LagMs = m.lagMs(now, rs.CommitMin)
	}
	return s
}

// lagMs is how long ago the frontier first exceeded commitMin (0 if it has not).
func (m *Monitor) lagMs(now sim.Time, commitMin uint64) int64 {
	if m.frontier <= commitMin {
		return 0
	}
	// the first sample whose frontier exceeds commitMin (frontiers never decrease)
	k, _ := slices.BinarySearchFunc(m.samples, commitMin+1, func(s Sample, target uint64) int {
		if s.Frontier < target {
			return -1
		}
		return 1
	})
	at := now
	if k < len(m.samples) {
		at = m.samples[k].At
	}
	return int64(now-at) / int64(sim.Millisecond)
}

// Add appends a sample (taken by Observe, or synthetic in tests) and evaluates the rules.
func (m *Monitor) Add(s Sample) {
	m.samples = append(m.samples, s)
	for _, rule := range m.Rules {
		holds, value, who := rule.Check(m.samples)
		since, pending := m.pendingSince[rule.Name]
		switch {
		case holds && !pending:
			m.pendingSince[rule.Name] = s.At
			since = s.At
		case !holds && pending:
			delete(m.pendingSince, rule.Name)
			if m.firing[rule.Name] {
				m.firing[rule.Name] = false
				m.alert(AlertEvent{Rule: rule.Name, Severity: rule.Severity, At: s.At, Value: value, Replica: who,
					Resolved: true})
			}
			continue
		}
		if holds && !m.firing[rule.Name] && s.At-since >= sim.Time(rule.For) {
			m.firing[rule.Name] = true
			m.alert(AlertEvent{Rule: rule.Name, Severity: rule.Severity, At: s.At, Value: value, Replica: who})
		}
	}
}

// alert records an alert firing or resolving, and notes it in the trace (--log short).
func (m *Monitor) alert(e AlertEvent) {
	m.events = append(m.events, e)
	if m.c != nil {
		m.c.Trace.Note(sim.LevelShort, -1, "alert", e.String(), e)
	}
}

// Samples returns the samples so far.
func (m *Monitor) Samples() []Sample { return m.samples }

// Events returns every alert firing and resolution so far, in order.
func (m *Monitor) Events() []AlertEvent { return m.events }

// Firing reports whether the rule is firing now.
func (m *Monitor) Firing(rule string) bool { return m.firing[rule] }

// Fired reports whether the rule has fired at any time.
func (m *Monitor) Fired(rule string) bool {
	for _, e := range m.events {
		if e.Rule == rule && !e.Resolved {
			return true
		}
	}
	return false
}

// FiredAtOrAbove returns the alerts that fired with severity at or above sev (P0 is the
// highest).
func (m *Monitor) FiredAtOrAbove(sev Severity) []AlertEvent {
	var out []AlertEvent
	for _, e := range m.events {
		if !e.Resolved && e.Severity <= sev {
			out = append(out, e)
		}
	}
	return out
}

// Counters reports the alert firings as counters for a Result ("alert.NAME").
func (m *Monitor) Counters(into map[string]uint64) {
	for _, rule := range m.Rules {
		into["alert."+rule.Name] = 0
	}
	for _, e := range m.events {
		if !e.Resolved {
			into["alert."+e.Rule]++
		}
	}
}
