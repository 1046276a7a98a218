package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"vopr/ops"
)

// cliStderr runs kimberlite-cli against the cluster and returns its stderr and exit code.
func (c *realCluster) cliStderr(args ...string) (string, int) {
	args = append(append(args, c.memberFlags()...), "--cluster", strconv.Itoa(testCluster))
	var stderr bytes.Buffer
	cmd := exec.Command(filepath.Join(c.bin, "kimberlite-cli"), args...)
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return stderr.String(), exit.ExitCode()
	}
	require.NoError(c.t, err, "kimberlite-cli %v", args)
	return stderr.String(), 0
}

// cliKeyJSON runs a client command that must succeed, with its positional arguments (KEY,
// VALUE) after the flags, and decodes its JSON into out.
func (c *realCluster) cliKeyJSON(out any, args []string, positional ...string) {
	args = append(append(append(args, c.memberFlags()...), "--cluster", strconv.Itoa(testCluster)), positional...)
	b, err := exec.Command(filepath.Join(c.bin, "kimberlite-cli"), args...).Output()
	require.NoError(c.t, err, "kimberlite-cli %v: %s", args, b)
	require.NoError(c.t, json.Unmarshal(b, out), "kimberlite-cli %v: %s", args, b)
}

// startWithStandby starts three replicas and standby 100 and waits until all are normal.
func (c *realCluster) startWithStandby() {
	for i := range c.dirs {
		c.start(i)
	}
	c.waitStatus("started", 20*time.Second, func(s ops.ClusterStatusReport) bool {
		return s.Healthy == 3 && s.Primary >= 0 && len(s.Standbys) == 1 && s.Standbys[0].Status == "normal"
	})
}

// putAnswer is what `client put` prints.
type putAnswer struct {
	Status string `json:"status"`
	Op     uint64 `json:"op"`
}

// standbyStatus is `replica status --replica-id 100`.
func (c *realCluster) standbyStatus() ops.ReplicaStatusReport {
	var s ops.ReplicaStatusReport
	c.cliJSON(&s, "replica", "status", "--replica-id", "100")
	return s
}

// staleRead is what `client get --stale` prints.
type staleRead struct {
	Status    string `json:"status"`
	Value     string `json:"value"`
	Op        uint64 `json:"op"`
	Stale     bool   `json:"stale"`
	ReplicaID int    `json:"replica_id"`
}

// TestStandbyOnRealServers: three replicas and standby 100 as four real processes. The
// superblock's standby count is checked at start; writes go through the actives; the
// standby executes them (replica status --replica-id 100: role standby, eligible), serves
// a stale read of the written value at an op no newer than its commit, and takes a read
// limit (standby throttle) that its status reports; an active replica refuses the throttle.
func TestStandbyOnRealServers(t *testing.T) {
	if testing.Short() {
		t.Skip("real processes: not in -short")
	}
	c := newRealClusterWithStandbys(t, 3, 1)
	kimberlite := filepath.Join(c.bin, "kimberlite")
	out, err := exec.Command(kimberlite, "format", "--cluster", "1", "--replica-id", "100", "--replica-count", "3",
		t.TempDir()).CombinedOutput()
	require.Error(t, err, "no --standby-count: id 100 names no member")
	require.Contains(t, string(out), "expected 0..2 (active)")
	out, err = exec.Command(kimberlite, "start", "--addresses", c.addrs[0]+","+c.addrs[1]+","+c.addrs[2],
		"--replica-id", "0", c.dirs[0]).CombinedOutput()
	require.Error(t, err, "a superblock with one standby and no --standby-addresses")
	require.Contains(t, string(out), "1 standbys, not index 0 of 3 --addresses and 0 --standby-addresses")

	c.startWithStandby()
	var put putAnswer
	for i := 0; i < 3; i++ {
		c.cliKeyJSON(&put, []string{"client", "put"}, "standby-key", "value-"+strconv.Itoa(i))
		require.Equal(t, "ok", put.Status)
	}

	deadline := time.Now().Add(10 * time.Second)
	s := c.standbyStatus()
	for (s.CommitMin < put.Op || s.Standby == nil || !s.Standby.Eligible) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		s = c.standbyStatus()
	}
	require.Equal(t, "standby", s.Role, "%+v", s)
	require.Equal(t, 3, s.Replica, "standby 100 is member 3")
	require.NotNil(t, s.Standby)
	require.Equal(t, 100, s.Standby.ID)
	require.True(t, s.Standby.Eligible, "caught up: eligible for promotion %+v", s.Standby)
	require.GreaterOrEqual(t, s.CommitMin, put.Op, "the standby executed the writes")

	var read staleRead
	c.cliKeyJSON(&read, []string{"client", "get", "--stale", "--replica-id", "100"}, "standby-key")
	after := c.standbyStatus()
	require.Equal(t, staleRead{Status: "ok", Value: "value-2", Op: read.Op, Stale: true, ReplicaID: 100}, read)
	require.GreaterOrEqual(t, read.Op, put.Op, "read after the standby executed the last put")
	require.LessOrEqual(t, read.Op, after.Commit, "a stale read is of an op the standby knows committed")

	var lag ops.ReplicationLagReport
	c.cliJSON(&lag, "replication", "lag", "--all")
	require.Len(t, lag.Replicas, 4)
	require.Equal(t, "standby", lag.Replicas[3].Role)
	require.NotNil(t, lag.Replicas[3].Standby)
	require.Equal(t, 100, lag.Replicas[3].Standby.ID)

	var throttle ops.ThrottleReport
	c.cliJSON(&throttle, "standby", "throttle", "--replica-id", "100", "--max-qps", "5")
	require.Equal(t, ops.ThrottleReport{Replica: 3, ID: 100, MaxQPS: 5}, throttle)
	require.Equal(t, 5, c.standbyStatus().Standby.ReadsMaxQPS, "replica status reports the limit")

	stderr, code := c.cliStderr("standby", "throttle", "--replica-id", "0", "--max-qps", "5")
	require.Equal(t, 1, code, "an active replica refuses: %s", stderr)
	require.Contains(t, stderr, "standby throttle: replica 0: config: not a standby")
	for _, usage := range [][]string{{"standby", "throttle", "--replica-id", "101", "--max-qps", "5"},
		{"standby", "throttle", "--replica-id", "100"}, {"client", "get", "--stale", "standby-key"},
		{"client", "put", "--stale", "--replica-id", "100", "k", "v"}, {"replica", "status", "--replica-id", "3"}} {
		stderr, code = c.cliStderr(usage...)
		require.Equal(t, 64, code, "%v: a usage error: %s", usage, stderr)
		require.Contains(t, stderr, "expected", "%v says what it expected", usage)
	}
	for i := range c.dirs {
		c.terminate(i)
	}
}

// TestFailoverOnRealServers: the runbook's DR failover with real processes. The three active
// replicas are lost; `cluster failover --promote-standby 100` is refused without
// --approve-data-loss-risk, saying what would be lost; with it the standby promotes itself
// (epoch 1, keeping every acknowledged write it had executed), and restarted as replica 0 of
// 1 it serves the written value and takes new writes.
func TestFailoverOnRealServers(t *testing.T) {
	if testing.Short() {
		t.Skip("real processes: not in -short")
	}
	c := newRealClusterWithStandbys(t, 3, 1)
	c.startWithStandby()
	var put putAnswer
	c.cliKeyJSON(&put, []string{"client", "put"}, "dr-key", "before-failover")
	require.Equal(t, "ok", put.Status)
	deadline := time.Now().Add(10 * time.Second)
	for s := c.standbyStatus(); s.CommitMin < put.Op && time.Now().Before(deadline); s = c.standbyStatus() {
		time.Sleep(50 * time.Millisecond)
	}
	for i := 0; i < 3; i++ {
		c.kill9(i) // the active region is gone
	}

	stderr, code := c.cliStderr("cluster", "failover", "--promote-standby", "100")
	require.Equal(t, 1, code, "a failover without the approval: %s", stderr)
	require.Contains(t, stderr, "without --approve-data-loss-risk")
	require.Contains(t, stderr, "above op", "the refusal says what would be lost")

	var rep ops.FailoverReport
	c.cliJSON(&rep, "cluster", "failover", "--promote-standby", "100", "--approve-data-loss-risk", "--force")
	require.Equal(t, uint32(1), rep.Promote.Epoch)
	require.GreaterOrEqual(t, rep.Promote.Op, put.Op, "the acknowledged write the standby executed is kept")

	c.terminate(3)
	standby := c.standbys[0]
	logFile, err := os.OpenFile(c.logs[3], os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	require.NoError(t, err)
	defer logFile.Close()
	cmd := exec.Command(filepath.Join(c.bin, "kimberlite"), "start", "--addresses", standby, "--replica-id", "0", c.dirs[3])
	cmd.Stdout, cmd.Stderr = logFile, logFile
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()

	cli := func(verb string, positional ...string) ([]byte, error) {
		args := append([]string{"client", verb, "--timeout", "3s", "--addresses", standby, "--cluster",
			strconv.Itoa(testCluster)}, positional...)
		return exec.Command(filepath.Join(c.bin, "kimberlite-cli"), args...).Output()
	}
	var got struct {
		Status string `json:"status"`
		Value  string `json:"value"`
	}
	deadline = time.Now().Add(15 * time.Second)
	for {
		out, err := cli("get", "dr-key")
		if err == nil && json.Unmarshal(out, &got) == nil && got.Status == "ok" {
			break
		}
		require.True(t, time.Now().Before(deadline), "the promoted standby never served a read: %s %v", out, err)
		time.Sleep(100 * time.Millisecond)
	}
	require.Equal(t, "before-failover", got.Value)
	out, err := cli("put", "dr-key", "after-failover")
	require.NoError(t, err, "%s", out)
}
