package scenarios

import (
	"fmt"
	"strconv"
	"strings"
)

// PrometheusRulesFile is where the rendered rules live, from the repository's root.
const PrometheusRulesFile = "deploy/prometheus/kimberlite-alerts.yml"

// PrometheusRules renders rules (RunbookAlerts) as a Prometheus rules file: one source for
// the alerts the scenarios evaluate in simulated time and the ones a real cluster's
// Prometheus evaluates. A recording rule first sums the replicas' kimberlite_replica_status
// into the runbook's kimberlite_cluster_replicas_total{status}, as ClusterStatus counts it:
// per vsr status, "healthy" (normal and not isolated) and "unreachable" (a scrape target that is down).
// Each alert carries its severity as a label and its simulated form as an annotation.
// The YAML is written by hand (this package imports no YAML library); strings are
// double-quoted with Go's escapes, which YAML reads the same for this text.
func PrometheusRules(rules []AlertRule) []byte {
	var b strings.Builder
	job := strconv.Quote(PrometheusJob)
	fmt.Fprintf(&b, "# Generated from scenarios.RunbookAlerts (scenarios/metrics.go), the alert rules the\n")
	fmt.Fprintf(&b, "# scenarios evaluate in simulated time. Do not edit: change the rules there and run\n")
	fmt.Fprintf(&b, "#   VOPR_UPDATE_RULES=1 go test ./scenarios/ -run TestPrometheusRulesFile\n")
	fmt.Fprintf(&b, "# The kimberlite servers (--metrics-addr) are scraped by the job %s.\n", job)
	b.WriteString("groups:\n  - name: kimberlite-cluster\n    rules:\n")
	record := func(expr, status string) {
		fmt.Fprintf(&b, "      - record: kimberlite_cluster_replicas_total\n        expr: %s\n", strconv.Quote(expr))
		if status != "" {
			fmt.Fprintf(&b, "        labels:\n          status: %s\n", status)
		}
	}
	record("sum by (status) (kimberlite_replica_status)", "")
	// Healthy is normal and not isolated (ops.ReplicaStatusReport.Healthy): an isolated
	// replica keeps its status but takes no part in the cluster.
	record(`sum(kimberlite_replica_status{status="normal"} unless on(job, instance) (kimberlite_replica_isolated == 1)) or vector(0)`,
		"healthy")
	record(fmt.Sprintf(`count(up{job=%s} == 0) or vector(0)`, job), StatusUnreachable)
	b.WriteString("  - name: kimberlite-alerts\n    rules:\n")
	for _, r := range rules {
		fmt.Fprintf(&b, "      - alert: %s\n        expr: %s\n", r.Name, strconv.Quote(r.Prometheus.Expr))
		if r.Prometheus.For != "" {
			fmt.Fprintf(&b, "        for: %s\n", r.Prometheus.For)
		}
		fmt.Fprintf(&b, "        labels:\n          severity: %s\n", r.Severity)
		simulated := r.Expr
		if r.For > 0 {
			simulated += " for " + r.For.String() + " (simulated)"
		}
		fmt.Fprintf(&b, "        annotations:\n          summary: %s\n          simulated: %s\n",
			strconv.Quote(fmt.Sprintf("%s %s: %s", r.Severity, r.Name, r.Prometheus.Expr)), strconv.Quote(simulated))
	}
	return []byte(b.String())
}
