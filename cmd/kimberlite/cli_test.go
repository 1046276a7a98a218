package main

import (
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"vopr/cluster/kv"
	"vopr/ops"
)

// cli runs kimberlite-cli against the cluster and returns its stdout and exit code.
func (c *realCluster) cli(args ...string) ([]byte, int) {
	if !(args[0] == "storage" && args[1] == "verify") { // a local directory: no servers
		args = append(append(args, c.memberFlags()...), "--cluster", strconv.Itoa(testCluster))
	}
	out, err := exec.Command(filepath.Join(c.bin, "kimberlite-cli"), args...).Output()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return out, exit.ExitCode()
	}
	require.NoError(c.t, err, "kimberlite-cli %v", args)
	return out, 0
}

// cliJSON runs a command that must succeed and decodes its JSON into out.
func (c *realCluster) cliJSON(out any, args ...string) {
	b, code := c.cli(args...)
	require.Equal(c.t, 0, code, "kimberlite-cli %v: %s", args, b)
	require.NoError(c.t, json.Unmarshal(b, out), "kimberlite-cli %v: %s", args, b)
}

// TestCLICommandsOnRealServers: each runbook command kimberlite-cli has against three real
// servers, through the admin port's ops.Serve.
func TestCLICommandsOnRealServers(t *testing.T) {
	if testing.Short() {
		t.Skip("real processes: not in -short")
	}
	c := newRealCluster(t, 3)
	for i := range c.addrs {
		c.start(i)
	}
	s := c.waitStatus("started", 20*time.Second, func(s ops.ClusterStatusReport) bool { return s.Healthy == 3 && s.Primary >= 0 })
	backup := (s.Primary + 1) % 3

	var version ops.ClusterVersionReport
	c.cliJSON(&version, "cluster", "version")
	require.Equal(t, ops.ClusterVersionReport{Binaries: []uint32{kv.ReleaseBase, kv.ReleaseBase, kv.ReleaseBase},
		Cluster: kv.ReleaseBase}, version)
	var features ops.FeaturesReport
	c.cliJSON(&features, "cluster", "features")
	require.Equal(t, ops.FeaturesReport{ClusterRelease: kv.ReleaseBase, Features: []string{}}, features)

	var smoke ops.SmokeReport
	c.cliJSON(&smoke, "test", "smoke-tests", "--critical-only")
	require.Equal(t, "passed", smoke.Status)
	require.Len(t, smoke.Steps, len(ops.SmokeTests("x", true)))
	c.cliJSON(&smoke, "test", "smoke-tests")
	require.Equal(t, "passed", smoke.Status)
	require.Len(t, smoke.Steps, len(ops.SmokeTests("x", false)))

	var iso ops.IsolationReport
	id := strconv.Itoa(backup)
	_, code := c.cli("replica", "isolate", "--replica-id", id)
	require.Equal(t, 1, code, "isolate without a reason is refused")
	c.cliJSON(&iso, "replica", "isolate", "--replica-id", id, "--reason", "lag-exceeded")
	require.Equal(t, ops.IsolationReport{Replica: backup, Isolated: true, Reason: "lag-exceeded"}, iso)
	c.waitStatus("isolated", 10*time.Second, func(s ops.ClusterStatusReport) bool {
		return s.Healthy == 2 && s.Replicas[backup].Isolated && s.QuorumAvailable
	})
	require.Equal(t, 1.0, c.scrape(backup)["kimberlite_replica_isolated"], "the healthy rule's isolated series")
	_, code = c.cli("replica", "status", "--replica-id", id, "--wait-healthy", "--timeout", "500ms")
	require.Equal(t, 1, code, "an isolated replica is not healthy: --wait-healthy times out")
	c.cliJSON(&smoke, "test", "smoke-tests", "--critical-only") // writes go on without it
	require.Equal(t, "passed", smoke.Status)
	iso = ops.IsolationReport{}
	c.cliJSON(&iso, "replica", "unisolate", "--replica-id", id, "--reason", "recovered")
	require.Equal(t, ops.IsolationReport{Replica: backup}, iso)
	require.Equal(t, 0.0, c.scrape(backup)["kimberlite_replica_isolated"])
	c.waitStatus("unisolated, caught up", 20*time.Second, func(s ops.ClusterStatusReport) bool {
		return s.Healthy == 3 && s.Replicas[backup].CommitMin == s.Replicas[s.Primary].Commit
	})

	var compact ops.CompactReport
	c.cliJSON(&compact, "storage", "compact", "--replica-id", id)
	require.Equal(t, backup, compact.Replica)
	require.GreaterOrEqual(t, compact.FreedBytes, int64(0))
	_, code = c.cli("storage", "compact", "--replica-id", id, "--aggressive")
	require.Equal(t, 2, code, "--aggressive: the replica has no more aggressive compaction")
	stderr, code := c.cliStderr("cluster", "reconfig", "add-replica", "--replica-id", "3")
	require.Equal(t, 64, code, "three slots: 3 names none: %s", stderr)
	require.Contains(t, stderr, "expected")
	stderr, code = c.cliStderr("cluster", "reconfig", "add-replica", "--replica-id", "1")
	require.Equal(t, 1, code, "the primary refuses to add a member: %s", stderr)
	require.Contains(t, stderr, "replica 1 is already a member")
	_, code = c.cli("cluster", "failover", "--promote-standby", "100")
	require.Equal(t, 64, code, "no --standby-addresses: 100 names no standby")
	_, code = c.cli("cluster", "reconfigure")
	require.Equal(t, 64, code, "an unknown command is a usage error")
	_, code = c.cli("standby", "throttle", "--replica-id", "100", "--max-qps", "10")
	require.Equal(t, 64, code, "no --standby-addresses: 100 names no member")

	var dump ops.StateDump
	c.cliJSON(&dump, "debug", "dump-state", "--replica-id", id)
	require.Equal(t, "normal", dump.Status)
	require.Equal(t, ops.NodeUp, dump.Node)
	require.NotNil(t, dump.Inspection)
	require.Greater(t, dump.Inspection.CommitMin, uint64(0))
	require.Len(t, dump.LogHead, 32, "a 128-bit checksum in hex")

	c.terminate(backup) // storage verify runs on a stopped replica's directory
	dump = ops.StateDump{}
	c.cliJSON(&dump, "debug", "dump-state", "--replica-id", id)
	require.Equal(t, ops.StatusUnreachable, dump.Status, "a stopped replica is dumped as unreachable")
	var verify ops.VerifyResult
	c.cliJSON(&verify, "storage", "verify", "--full-scan", "--dir", c.dirs[backup])
	require.Equal(t, "ok", verify.Status, "%+v", verify)
	require.Empty(t, verify.Problems)
	require.Greater(t, verify.Entries, 0)

	for _, i := range []int{(backup + 1) % 3, (backup + 2) % 3} {
		c.terminate(i)
	}
}
