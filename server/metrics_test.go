package server

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"vopr/internal/assert"
	"vopr/ops"
)

// The lag is read from when the known commit number first passed the replica's executed op.
func TestCommitTimelineLag(t *testing.T) {
	var tl commitTimeline
	t0 := time.Unix(1000, 0)
	tl.observe(t0, 5)
	tl.observe(t0.Add(100*time.Millisecond), 5) // no rise: not a sample
	tl.observe(t0.Add(200*time.Millisecond), 9)
	tl.observe(t0.Add(300*time.Millisecond), 12)
	now := t0.Add(time.Second)
	require.Equal(t, time.Duration(0), tl.lag(now, 12), "caught up")
	require.Equal(t, 700*time.Millisecond, tl.lag(now, 9), "op 10 committed at +300 ms")
	require.Equal(t, 800*time.Millisecond, tl.lag(now, 5), "op 6 committed at +200 ms")
	require.Equal(t, time.Second, tl.lag(now, 0), "behind the oldest sample")
}

// The timeline stays bounded.
func TestCommitTimelineBounded(t *testing.T) {
	var tl commitTimeline
	t0 := time.Unix(1000, 0)
	for i := 1; i <= 3*lagSamplesMax; i++ {
		tl.observe(t0.Add(time.Duration(i)*time.Millisecond), uint64(i))
	}
	require.Len(t, tl.commits, lagSamplesMax)
	require.Equal(t, uint64(2*lagSamplesMax+1), tl.commits[0])
}

// An assertion failure on the loop is noted in the data directory before the panic goes
// on, and the next process counts it; other panics are not noted.
func TestAssertionFailuresAreCountedAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	s := &Server{cfg: Config{Dir: dir, Replica: 1}}
	fail := func(v any) {
		defer func() { require.Equal(t, v, recover(), "the panic goes on") }()
		defer s.recordAssertionFailure()
		panic(v)
	}
	require.Equal(t, 0, countAssertionFailures(dir))
	fail(&assert.Failure{Message: "commit_min > op\nsecond line"})
	fail(errors.New("not an assertion"))
	fail(&assert.Failure{Message: "again"})
	require.Equal(t, 2, countAssertionFailures(dir))
	b, err := os.ReadFile(filepath.Join(dir, AssertionLog))
	require.NoError(t, err)
	require.Contains(t, string(b), "replica 1: commit_min > op second line\n")
}

// Every kimberlite metric the shipped alert rules read is one this server exports (the
// cluster's replica counts are recorded there from kimberlite_replica_status).
func TestAlertRulesReadServedMetrics(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "deploy", "prometheus", "kimberlite-alerts.yml"))
	require.NoError(t, err)
	served := map[string]bool{"kimberlite_cluster_replicas_total": true}
	descs := make(chan *prometheus.Desc, 16)
	collector{}.Describe(descs)
	close(descs)
	for d := range descs {
		served[regexp.MustCompile(`fqName: "([a-z_]+)"`).FindStringSubmatch(d.String())[1]] = true
	}
	names := regexp.MustCompile(`kimberlite_[a-z_]+`).FindAllString(string(b), -1)
	require.NotEmpty(t, names)
	for _, name := range names {
		require.True(t, served[name], "the alert rules read %s, which the server does not export", name)
	}
}

// ops.TickMs, which config set rounds to, is the server's tick.
func TestOpsTickIsTheServersTick(t *testing.T) {
	require.Equal(t, time.Duration(ops.TickMs)*time.Millisecond, TickInterval)
}
