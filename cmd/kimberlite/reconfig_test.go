package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"vopr/cluster/kv"
	"vopr/ops"
	"vopr/server/remote"
)

// reconfig runs `kimberlite-cli cluster reconfig COMMAND --replica-id ID`, which must succeed,
// and returns its result.
func (c *realCluster) reconfig(command string, id int) ops.ReconfigResult {
	var res ops.ReconfigResult
	c.cliJSON(&res, "cluster", "reconfig", command, "--replica-id", strconv.Itoa(id), "--timeout", "10s")
	c.t.Logf("cluster reconfig %s --replica-id %d: %s", command, id, res.Configuration)
	return res
}

// memberStatus is `replica status --replica-id` of member i.
func (c *realCluster) memberStatus(i int) ops.ReplicaStatusReport {
	var s ops.ReplicaStatusReport
	c.cliJSON(&s, "replica", "status", "--replica-id", c.id(i))
	return s
}

// waitMember polls member i's status until ok holds, or fails after timeout.
func (c *realCluster) waitMember(i int, what string, timeout time.Duration, ok func(ops.ReplicaStatusReport) bool) ops.ReplicaStatusReport {
	deadline := time.Now().Add(timeout)
	for {
		s := c.memberStatus(i)
		if ok(s) {
			return s
		}
		require.True(c.t, time.Now().Before(deadline), "member %d: %s: not within %v; last status %+v", i, what, timeout, s)
		time.Sleep(100 * time.Millisecond)
	}
}

// TestReconfigOnRealServers: the runbook's membership changes with five real processes. A
// cluster of four active slots and standby slot 100 is formatted with slots 3 and 100 spare
// (--spare-replicas: those two start joining) while a client writes. add-replica 3: it joins
// by state sync and catches up. add-standby 100: it runs as a standby. remove-replica 0: its
// process reports that it was removed, and the cluster keeps taking writes. replace 1: the
// command removes it, then waits while its disk is wiped, formatted with --join and its
// process started, and adds it back; it catches up. remove-standby 100. Every acknowledged
// write reads back, and every status shows the configuration.
func TestReconfigOnRealServers(t *testing.T) {
	if testing.Short() {
		t.Skip("real processes: not in -short")
	}
	c := newRealClusterFormatted(t, 4, 1, "--spare-replicas", "3,100")
	require.Contains(t, c.format3Output(), "joining, outside the configuration until kimberlite-cli cluster reconfig add-replica --replica-id 3")
	out, err := exec.Command(filepath.Join(c.bin, "kimberlite"), "format", "--cluster", "1", "--replica-id", "0",
		"--replica-count", "4", "--spare-replicas", "3,101", t.TempDir()).CombinedOutput()
	require.Error(t, err, "no standby slot 101")
	require.Contains(t, string(out), "--replica-id 101: expected 0..3 (active)")
	for i := range c.dirs {
		c.start(i)
	}
	s := c.waitStatus("three members normal, slot 3 joining", 20*time.Second, func(s ops.ClusterStatusReport) bool {
		return s.Healthy == 3 && s.Primary >= 0 && s.Replicas[3].Joining && s.Standbys[0].Joining
	})
	require.Equal(t, "epoch 0, members 0 1 2; outside 3 100", s.Configuration)
	require.Equal(t, 2, s.Quorum, "a majority of the three members")

	cl := remote.NewClient(testCluster, c.addrs)
	defer cl.Close()
	w := startWriter(t, cl)
	w.waitAcked(t, 20, 10*time.Second)

	res := c.reconfig("add-replica", 3)
	require.Equal(t, []ops.ReconfigReport{{Change: "add-replica 3", Primary: res.Changes[0].Primary, Epoch: 1}}, res.Changes)
	require.Equal(t, "epoch 1, members 0 1 2 3; outside 100", res.Configuration)
	w.waitAcked(t, len(w.acked)+20, 10*time.Second)
	// Caught up: past what the primary had executed when asked. (Within 5 ops of the primary
	// at each poll raced the writer: a backup trails by the commit in flight, often more.)
	target := c.memberStatus(c.status().Primary).CommitMin
	c.waitMember(3, "caught up", 15*time.Second, func(r ops.ReplicaStatusReport) bool {
		return r.Status == "normal" && r.Epoch == 1 && r.CommitMin >= target
	})

	res = c.reconfig("add-standby", 100)
	require.Equal(t, "epoch 2, members 0 1 2 3; standbys 100", res.Configuration)
	c.waitMember(4, "standby running", 15*time.Second, func(r ops.ReplicaStatusReport) bool {
		return r.Status == "normal" && r.Role == "standby" && r.Epoch == 2
	})

	res = c.reconfig("remove-replica", 0)
	require.Equal(t, "epoch 3, members 1 2 3; standbys 100; outside 0", res.Configuration)
	removed := c.waitMember(0, "removed", 10*time.Second, func(r ops.ReplicaStatusReport) bool { return r.Removed })
	require.Equal(t, "stopped", removed.Status)
	require.True(t, strings.HasPrefix(removed.Reason, ops.RemovedPrefix), "%+v", removed)
	w.waitAcked(t, len(w.acked)+20, 10*time.Second)

	// Enough ops for a checkpoint first: a joiner that leads its first epoch before one
	// exists has nothing to state-sync from and never executes (reported to the lead).
	w.waitAcked(t, 150, 10*time.Second)
	c.replace(1)
	w.waitAcked(t, len(w.acked)+20, 10*time.Second)
	res = c.reconfig("remove-standby", 100)
	require.Equal(t, "epoch 6, members 1 2 3; outside 0 100", res.Configuration)

	w.finish()
	require.Greater(t, len(w.acked), 80)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for key, value := range w.acked {
		res, _, err := cl.Do(ctx, kv.Op{Kind: kv.KindGet, Key: key})
		require.NoError(t, err, "get %s", key)
		require.Equal(t, value, res.Value, "acknowledged write %s", key)
	}
	t.Logf("%d acknowledged writes read back (%d uncertain)", len(w.acked), w.uncertain)
	for _, i := range []int{1, 2, 3} {
		c.terminate(i)
	}
}

// format3Output is what kimberlite format says of a spare slot (formatted again: the
// output of the first format is not kept).
func (c *realCluster) format3Output() string {
	dir := filepath.Join(c.t.TempDir(), "spare")
	out, err := exec.Command(filepath.Join(c.bin, "kimberlite"), "format", "--cluster", strconv.Itoa(testCluster),
		"--replica-id", "3", "--replica-count", "4", "--standby-count", "1", "--spare-replicas", "3,100", dir).CombinedOutput()
	require.NoError(c.t, err, "%s", out)
	return string(out)
}

// replace runs `cluster reconfig replace --replica-id i` and does the operator's part while
// it waits: once replica i reports it was removed, its process is stopped, its directory
// wiped and formatted with --join, and the process started again; the command then adds it.
func (c *realCluster) replace(i int) {
	var stdout bytes.Buffer
	args := append([]string{"cluster", "reconfig", "replace", "--replica-id", c.id(i), "--timeout", "10s",
		"--join-timeout", "20s", "--cluster", strconv.Itoa(testCluster)}, c.memberFlags()...)
	cmd := exec.Command(filepath.Join(c.bin, "kimberlite-cli"), args...)
	cmd.Stdout = &stdout
	pipe, err := cmd.StderrPipe()
	require.NoError(c.t, err)
	require.NoError(c.t, cmd.Start())
	lines := make(chan string, 64)
	go func() {
		defer close(lines)
		for sc := bufio.NewScanner(pipe); sc.Scan(); {
			lines <- sc.Text()
		}
	}()
	var stderr []string
	for line := range lines { // until the command asks for the new disk
		stderr = append(stderr, line)
		if strings.Contains(line, "is removed. Now stop its process") {
			break
		}
	}
	asked := regexp.MustCompile(`kimberlite format --join --join-epoch (\d+) `).FindStringSubmatch(strings.Join(stderr, "\n"))
	require.NotNil(c.t, asked, "the command tells the operator what to do: %s", strings.Join(stderr, "\n"))
	require.True(c.t, c.memberStatus(i).Removed, "replica %d reports it was removed", i)
	c.terminate(i)
	require.NoError(c.t, os.RemoveAll(c.dirs[i]), "the disk is replaced")
	require.Contains(c.t, c.format(i, "--join", "--join-epoch", asked[1]), "joining")
	c.start(i)
	for line := range lines {
		stderr = append(stderr, line)
	}
	require.NoError(c.t, cmd.Wait(), "cluster reconfig replace: %s", strings.Join(stderr, "\n"))
	var res ops.ReconfigResult
	require.NoError(c.t, json.Unmarshal(stdout.Bytes(), &res), "%s", stdout.String())
	require.Len(c.t, res.Changes, 2)
	require.Equal(c.t, "remove-replica 1", res.Changes[0].Change)
	require.Equal(c.t, "add-replica 1", res.Changes[1].Change)
	c.t.Logf("replace: %s", res.Configuration)
	c.waitMember(i, "rejoined by state sync", 15*time.Second, func(r ops.ReplicaStatusReport) bool {
		return r.Status == "normal" && r.Epoch == res.Changes[1].Epoch && r.CommitMin > 0
	})
}
