package scenarios

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

// rulesPath is the rendered rules file, from this package's directory.
var rulesPath = filepath.Join("..", PrometheusRulesFile)

// TestPrometheusRulesFile: the shipped rules file is exactly the rendering of the rules the
// scenarios evaluate (VOPR_UPDATE_RULES=1 rewrites it); a changed threshold, severity or
// rule fails here until the file is regenerated.
func TestPrometheusRulesFile(t *testing.T) {
	want := PrometheusRules(RunbookAlerts())
	if os.Getenv("VOPR_UPDATE_RULES") != "" {
		require.NoError(t, os.MkdirAll(filepath.Dir(rulesPath), 0o755))
		require.NoError(t, os.WriteFile(rulesPath, want, 0o644))
	}
	got, err := os.ReadFile(rulesPath)
	require.NoError(t, err)
	require.Equal(t, string(want), string(got), "%s drifted from RunbookAlerts: regenerate it (VOPR_UPDATE_RULES=1)", PrometheusRulesFile)
}

// TestPrometheusRulesFileDetectsDrift: a threshold changed in the rules no longer renders
// the shipped file.
func TestPrometheusRulesFileDetectsDrift(t *testing.T) {
	rules := RunbookAlerts()
	rules[len(rules)-1].Prometheus.Expr = "kimberlite_storage_disk_usage_percent > 96"
	got, err := os.ReadFile(rulesPath)
	require.NoError(t, err)
	require.NotEqual(t, string(got), string(PrometheusRules(rules)))
}

var (
	simMetric  = regexp.MustCompile(`[a-z_]+_(total|percent|ms)`)
	comparison = regexp.MustCompile(`[<>]=? \d+`)
)

// TestPrometheusAlertsMatchTheSimulatedOnes: each rule's PromQL reads the runbook's name of
// the metric its simulated check reads, compares with the same threshold, and waits (for)
// exactly when the simulated one does.
func TestPrometheusAlertsMatchTheSimulatedOnes(t *testing.T) {
	for _, r := range RunbookAlerts() {
		p := r.Prometheus
		require.NotEmpty(t, p.Expr, r.Name)
		metric := simMetric.FindString(r.Expr)
		require.NotEmpty(t, metric, "%s: %s", r.Name, r.Expr)
		require.Regexp(t, `kimberlite_([a-z]+_)?`+metric+`\b`, p.Expr, r.Name)
		require.Equal(t, comparison.FindString(r.Expr), comparison.FindString(p.Expr), r.Name)
		require.Equal(t, r.For > 0, p.For != "", "%s: for %v in simulation, %q in production", r.Name, r.For, p.For)
	}
}

// TestPrometheusRulesPassPromtool runs `promtool check rules` on the file when promtool is
// installed (Debian's prometheus package ships it); otherwise it says so and skips.
func TestPrometheusRulesPassPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not installed (apt-get install prometheus): the rules file is not checked by it")
	}
	out, err := exec.Command(promtool, "check", "rules", "--lint-fatal", rulesPath).CombinedOutput()
	require.NoError(t, err, "promtool check rules: %s", out)
	t.Logf("%s", out)
}

// TestPrometheusHealthyCountsLikeClusterStatus evaluates the shipped recording rules with
// `promtool test rules` on three scraped replicas, all normal, one of them isolated: the
// healthy count is 2, as ClusterStatus counts it (an isolated replica is not healthy), and
// ReplicasUnhealthy fires. It fails if the rule counted the isolated replica.
func TestPrometheusHealthyCountsLikeClusterStatus(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not installed (apt-get install prometheus)")
	}
	rules, err := filepath.Abs(rulesPath)
	require.NoError(t, err)
	series := ""
	for i := 0; i < 3; i++ {
		isolated := "0"
		if i == 1 {
			isolated = "1"
		}
		l := fmt.Sprintf(`job="kimberlite", instance="r%d"`, i)
		series += fmt.Sprintf("      - series: 'up{%s}'\n        values: '1x5'\n", l)
		series += fmt.Sprintf("      - series: 'kimberlite_replica_status{%s, status=\"normal\"}'\n        values: '1x5'\n", l)
		series += fmt.Sprintf("      - series: 'kimberlite_replica_isolated{%s}'\n        values: '%sx5'\n", l, isolated)
	}
	test := fmt.Sprintf(`rule_files: [%q]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
%s    promql_expr_test:
      - expr: kimberlite_cluster_replicas_total{status="healthy"}
        eval_time: 2m
        exp_samples:
          - labels: 'kimberlite_cluster_replicas_total{status="healthy"}'
            value: 2
      - expr: ALERTS{alertname="ReplicasUnhealthy", alertstate="firing"}
        eval_time: 4m
        exp_samples:
          - labels: 'ALERTS{alertname="ReplicasUnhealthy", alertstate="firing", severity="P2"}'
            value: 1
`, rules, series)
	path := filepath.Join(t.TempDir(), "healthy_test.yml")
	require.NoError(t, os.WriteFile(path, []byte(test), 0o644))
	out, err := exec.Command(promtool, "test", "rules", path).CombinedOutput()
	require.NoError(t, err, "promtool test rules: %s", out)
}
