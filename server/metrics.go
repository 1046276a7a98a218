package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"vopr/cluster/vsr"
	"vopr/internal/assert"
)

// Metrics with the runbook's names, served on /metrics when --metrics-addr is set. They are
// read from the replica's own counters (vsr.Inspection.Metrics) on the loop at each scrape,
// so the scrape never races the replica:
//
//   - kimberlite_consensus_commits_total, kimberlite_consensus_view_changes_total: the
//     process's counters (reset by a restart; Prometheus's rate() handles counter resets).
//   - kimberlite_consensus_commit_latency_seconds{quantile}: the replica's prepare-to-commit
//     histogram over the process's life (a primary's; an upper bound of the power-of-two
//     bucket, vsr.Histogram.QuantileMs), as the simulator's Monitor reads it.
//   - kimberlite_replication_lag_ms: the simulator's definition as this replica can see it:
//     how long ago the commit number it knows first passed the first op it has not executed
//     (0 when caught up). A replica that hears of no commits (cut off) cannot see its lag.
//   - kimberlite_storage_disk_usage_percent: the data directory's file system (statfs),
//     what the host's df shows.
//   - kimberlite_replica_status{status}: 1 for this replica's status (the cluster's
//     replicas_total{status} is its sum over the replicas' exporters, unreachable ones
//     excepted: deploy/prometheus's recording rule).
//   - kimberlite_replica_isolated: 1 while an operator has the replica cut off (`replica
//     isolate`). Its status stays what it was (normal, say), but it takes no part in the
//     cluster, so the recording rule does not count it healthy, as the simulator's
//     ClusterStatus does not (ops.ReplicaStatusReport.Healthy).
//   - kimberlite_assertion_failures_total: the fail-stops noted in the data directory's
//     AssertionLog by this process's predecessors.

var (
	descCommits = prometheus.NewDesc("kimberlite_consensus_commits_total",
		"Operations executed by this replica process.", nil, nil)
	descViewChanges = prometheus.NewDesc("kimberlite_consensus_view_changes_total",
		"Views this replica process entered.", nil, nil)
	descLatency = prometheus.NewDesc("kimberlite_consensus_commit_latency_seconds",
		"Prepare-to-commit latency on the primary (upper bound of a power-of-two bucket).", []string{"quantile"}, nil)
	descLag = prometheus.NewDesc("kimberlite_replication_lag_ms",
		"How long ago the cluster committed the first op this replica has not executed.", nil, nil)
	descDisk = prometheus.NewDesc("kimberlite_storage_disk_usage_percent",
		"Used space of the data directory's file system.", nil, nil)
	descStatus = prometheus.NewDesc("kimberlite_replica_status",
		"1 for the replica's current status.", []string{"status"}, nil)
	descIsolated = prometheus.NewDesc("kimberlite_replica_isolated",
		"1 while an operator has the replica isolated (replica isolate), else 0.", nil, nil)
	descAssertions = prometheus.NewDesc("kimberlite_assertion_failures_total",
		"Assertion failures (fail-stops) of the replica in this data directory, across restarts.", nil, nil)
)

// AssertionLog is the file in the data directory where the server notes each assertion
// failure before it exits: the process that fail-stopped cannot serve its own counter, so
// the next one serves the count of lines (kimberlite_assertion_failures_total).
const AssertionLog = "assertion-failures.log"

// recordAssertionFailure runs deferred on the loop: an assertion failure of the replica is
// appended to AssertionLog (synced), then the panic goes on and the process exits.
func (s *Server) recordAssertionFailure() {
	r := recover()
	if r == nil {
		return
	}
	if f, ok := assert.AsFailure(r); ok {
		if file, err := os.OpenFile(filepath.Join(s.cfg.Dir, AssertionLog), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); err == nil {
			_, _ = fmt.Fprintf(file, "%s replica %d: %s\n", time.Now().UTC().Format(time.RFC3339Nano), s.cfg.Replica,
				strings.ReplaceAll(f.Message, "\n", " "))
			_ = file.Sync()
			_ = file.Close()
		}
	}
	panic(r)
}

// countAssertionFailures counts the lines of dir's AssertionLog (0 if it has none).
func countAssertionFailures(dir string) int {
	b, err := os.ReadFile(filepath.Join(dir, AssertionLog))
	if err != nil {
		return 0
	}
	return strings.Count(string(b), "\n")
}

// lagSamplesMax bounds the commit timeline the lag is read from.
const lagSamplesMax = 4096

// commitTimeline records when the commit number the replica knows rose. Owned by the loop.
type commitTimeline struct {
	commits []uint64 // increasing
	at      []time.Time
}

// observe notes the commit number known now.
func (t *commitTimeline) observe(now time.Time, commitMax uint64) {
	if n := len(t.commits); n > 0 && commitMax <= t.commits[n-1] {
		return
	}
	if len(t.commits) == lagSamplesMax {
		t.commits, t.at = t.commits[1:], t.at[1:]
	}
	t.commits, t.at = append(t.commits, commitMax), append(t.at, now)
}

// lag is how long ago the known commit number first exceeded commitMin (0 if it has not,
// or too long ago for the timeline: then the oldest sample bounds it from below).
func (t *commitTimeline) lag(now time.Time, commitMin uint64) time.Duration {
	for i, c := range t.commits {
		if c > commitMin {
			return now.Sub(t.at[i])
		}
	}
	return 0
}

// metricsSnapshot is what a scrape reads from the loop.
type metricsSnapshot struct {
	in  vsr.Inspection
	lag time.Duration
}

type collector struct{ s *Server }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descCommits, descViewChanges, descLatency, descLag, descDisk, descStatus,
		descIsolated, descAssertions} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var snap metricsSnapshot
	if !c.s.onLoop(ctx, func() {
		snap.in = c.s.replica.InspectState()
		snap.lag = c.s.commits.lag(time.Now(), snap.in.CommitMin)
	}) {
		return // the loop did not answer: no series rather than stale ones
	}
	m := snap.in.Metrics
	ch <- prometheus.MustNewConstMetric(descCommits, prometheus.CounterValue, float64(m.CommitsTotal))
	ch <- prometheus.MustNewConstMetric(descViewChanges, prometheus.CounterValue, float64(m.ViewChangesTotal))
	for _, q := range []struct {
		label string
		q     float64
	}{{"0.5", 0.5}, {"0.99", 0.99}, {"0.999", 0.999}} {
		ch <- prometheus.MustNewConstMetric(descLatency, prometheus.GaugeValue,
			float64(m.CommitLatency.QuantileMs(q.q))/1000, q.label)
	}
	ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, float64(snap.lag.Milliseconds()))
	if pct, err := diskUsagePercent(c.s.cfg.Dir); err == nil {
		ch <- prometheus.MustNewConstMetric(descDisk, prometheus.GaugeValue, pct)
	}
	ch <- prometheus.MustNewConstMetric(descStatus, prometheus.GaugeValue, 1, snap.in.Status.String())
	isolated := 0.0
	if snap.in.Isolated {
		isolated = 1
	}
	ch <- prometheus.MustNewConstMetric(descIsolated, prometheus.GaugeValue, isolated)
	ch <- prometheus.MustNewConstMetric(descAssertions, prometheus.CounterValue, float64(c.s.assertionFailures))
}

// diskUsagePercent is df's Use% of the file system holding dir.
func diskUsagePercent(dir string) (float64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	used, avail := float64(st.Blocks-st.Bfree), float64(st.Bavail)
	if used+avail == 0 {
		return 0, errors.New("statfs: empty file system")
	}
	return 100 * used / (used + avail), nil
}

// startMetrics serves /metrics on cfg.MetricsAddr, if set, until ctx is done. It returns
// the address it listens on.
func (s *Server) startMetrics(ctx context.Context) (string, error) {
	if s.cfg.MetricsAddr == "" {
		return "", nil
	}
	ln, err := net.Listen("tcp", s.cfg.MetricsAddr)
	if err != nil {
		return "", err
	}
	registry := prometheus.NewRegistry()
	registry.MustRegister(collector{s})
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	context.AfterFunc(ctx, func() { _ = srv.Close() })
	return ln.Addr().String(), nil
}
