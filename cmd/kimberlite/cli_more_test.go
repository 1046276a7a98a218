package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"vopr/ops"
)

// TestCLIDiagnosisAndRestoreOnRealServers: the runbook's diagnosis and backup commands
// against three real servers: cluster config set|get (a refused value changes nothing),
// replica clock-offset, replication lag --all, storage export of a running backup, then,
// with that replica stopped and the cluster moved on, storage restore into its directory
// (refused while a replica runs there); the replica starts from the backup and catches up
// (replica status --watch shows it, --wait-healthy exits 0); the primary is killed and
// cluster view-changes lists the view change.
func TestCLIDiagnosisAndRestoreOnRealServers(t *testing.T) {
	if testing.Short() {
		t.Skip("real processes: not in -short")
	}
	c := newRealCluster(t, 3)
	for i := range c.addrs {
		c.start(i)
	}
	s := c.waitStatus("started", 20*time.Second, func(s ops.ClusterStatusReport) bool { return s.Healthy == 3 && s.Primary >= 0 })
	primary := s.Primary
	backup := (primary + 1) % 3
	id := strconv.Itoa(backup)

	var config ops.ConfigReport
	c.cliJSON(&config, "cluster", "config", "set", ops.KeyElectionTimeoutMs, "2000")
	require.Equal(t, ops.ConfigReport{Key: ops.KeyElectionTimeoutMs, Values: []int{2000, 2000, 2000}, Changed: []int{0, 1, 2}}, config)
	_, code := c.cli("cluster", "config", "set", ops.KeyHeartbeatIntervalMs, "1500")
	require.Equal(t, 1, code, "election timeout must exceed two heartbeats: refused")
	config = ops.ConfigReport{}
	c.cliJSON(&config, "cluster", "config", "get", ops.KeyHeartbeatIntervalMs)
	require.Equal(t, []int{50, 50, 50}, config.Values, "a refused value changed nothing")
	_, code = c.cli("cluster", "config", "get", "no-such-key")
	require.Equal(t, 1, code)

	for i := range c.addrs {
		var clock ops.ClockOffsetReport
		c.cliJSON(&clock, "replica", "clock-offset", "--replica-id", strconv.Itoa(i))
		require.Equal(t, i, clock.Replica)
		require.False(t, clock.Desync, "one host's clock: %+v", clock)
		require.Less(t, clock.OffsetMs-clock.UncertaintyMs, 50.0, "%+v", clock)
	}

	var smoke ops.SmokeReport
	c.cliJSON(&smoke, "test", "smoke-tests", "--critical-only")
	require.Equal(t, "passed", smoke.Status)
	var lag ops.ReplicationLagReport
	c.cliJSON(&lag, "replication", "lag", "--all")
	require.Greater(t, lag.Frontier, uint64(0))
	require.Len(t, lag.Replicas, 3)
	require.Equal(t, int64(-1), lag.Replicas[primary].LagMs, "the primary defines the frontier")
	require.Equal(t, "backup", lag.Replicas[backup].Role)

	// Export the running backup, then stop it and let the cluster move on.
	exportFile := filepath.Join(t.TempDir(), "backup.bin")
	var export ops.ExportReport
	c.cliJSON(&export, "storage", "export", "--replica-id", id, "--output", exportFile)
	require.Equal(t, backup, export.Replica)
	info, err := os.Stat(exportFile)
	require.NoError(t, err)
	require.Equal(t, int64(export.Bytes), info.Size())
	require.Greater(t, export.Bytes, 0)
	_, code = c.cli("storage", "restore", "--backup-source", exportFile, "--dir", c.dirs[backup])
	require.Equal(t, 1, code, "restore onto a running replica's directory is refused")
	c.terminate(backup)
	c.cliJSON(&smoke, "test", "smoke-tests") // written after the backup: the restored replica must catch up
	require.Equal(t, "passed", smoke.Status)
	_, code = c.cli("replica", "status", "--replica-id", id, "--wait-healthy", "--timeout", "300ms")
	require.Equal(t, 1, code, "a stopped replica does not become healthy")

	var restore ops.RestoreReport
	c.cliJSON(&restore, "storage", "restore", "--backup-source", exportFile, "--dir", c.dirs[backup])
	require.Equal(t, backup, restore.Replica)
	require.Greater(t, restore.Head, uint64(0))
	var verify ops.VerifyResult
	c.cliJSON(&verify, "storage", "verify", "--full-scan", "--dir", c.dirs[backup])
	require.Equal(t, "ok", verify.Status, "%+v", verify)

	watch, lines := c.startWatch(backup)
	c.start(backup)
	out, code := c.cli("replica", "status", "--replica-id", id, "--wait-healthy", "--timeout", "20s")
	require.Equal(t, 0, code, "%s", out)
	s = c.waitStatus("restored replica caught up", 20*time.Second, func(s ops.ClusterStatusReport) bool {
		return s.Healthy == 3 && s.Replicas[backup].CommitMin >= lag.Frontier+uint64(len(smoke.Steps)) &&
			s.Replicas[backup].CommitMin == s.Replicas[s.Primary].Commit
	})
	require.NoError(t, watch.Process.Signal(syscall.SIGINT))
	require.NoError(t, watch.Wait(), "--watch exits 0 when interrupted")
	statuses := watchedStatuses(t, lines.Bytes())
	require.Equal(t, ops.StatusUnreachable, statuses[0], "%v", statuses)
	require.Equal(t, "normal", statuses[len(statuses)-1], "%v", statuses)

	// A view change: the primary is killed, a backup takes over.
	primary, view := s.Primary, s.Replicas[s.Primary].View
	c.kill9(primary)
	c.waitStatus("new primary", 20*time.Second, func(s ops.ClusterStatusReport) bool {
		return s.Healthy == 2 && s.Primary >= 0 && s.Primary != primary
	})
	var views ops.ViewChangesReport
	c.cliJSON(&views, "cluster", "view-changes", "--since", "1m")
	require.GreaterOrEqual(t, views.Started, 1, "%+v", views)
	require.Equal(t, []int{primary}, views.Unreachable)
	last := views.Changes[len(views.Changes)-1]
	require.Greater(t, last.View, view, "the view change after the kill is listed: %+v", views)
	require.NotEmpty(t, last.At)
	for i := range c.addrs {
		if i != primary {
			c.terminate(i)
		}
	}
}

// startWatch runs `replica status --watch` on replica i in the background; its stdout
// collects in the buffer.
func (c *realCluster) startWatch(i int) (*exec.Cmd, *bytes.Buffer) {
	var out bytes.Buffer
	cmd := exec.Command(filepath.Join(c.bin, "kimberlite-cli"), "replica", "status", "--replica-id", strconv.Itoa(i),
		"--watch", "--addresses", strings.Join(c.addrs, ","), "--cluster", strconv.Itoa(testCluster))
	cmd.Stdout = &out
	require.NoError(c.t, cmd.Start())
	c.t.Cleanup(func() { _ = cmd.Process.Kill() })
	time.Sleep(300 * time.Millisecond) // its first line: the replica as it is now
	return cmd, &out
}

// watchedStatuses decodes --watch's JSON lines into their statuses.
func watchedStatuses(t *testing.T, out []byte) []string {
	var statuses []string
	for _, line := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
		var s ops.ReplicaStatusReport
		require.NoError(t, json.Unmarshal(line, &s), "%s", line)
		statuses = append(statuses, s.Status)
	}
	require.NotEmpty(t, statuses)
	return statuses
}
