package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"vopr/cluster/client"
	"vopr/cluster/kv"
	"vopr/ops"
	"vopr/server/remote"
)

// The real-process test: three kimberlite processes on loopback, each on its own directory;
// a client writes; the primary is killed with SIGKILL; writes go on; it restarts, recovers
// from its files and catches up; every acknowledged write reads back. kimberlite-cli's
// cluster status is checked at each stage.

const testCluster = 42

type realCluster struct {
	t     testing.TB
	bin   string
	dirs  []string // every member's, by index: the active replicas, then the standbys
	addrs []string // the active replicas'
	// standbys are the standbys' addresses (member len(addrs)+k is standby 100+k).
	standbys []string
	// metrics are the replicas' --metrics-addr.
	metrics []string
	procs   []*proc
	logs    []string
	// startArgs are extra flags for kimberlite start (the benchmark's --max-batch-size).
	startArgs []string
}

// proc is a running server process; exited receives its Wait result once.
type proc struct {
	cmd    *exec.Cmd
	exited chan error
}

// goTool finds the go command that runs this test (make test puts it on PATH).
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// freeAddrs returns n loopback addresses whose ports were free a moment ago.
func freeAddrs(t testing.TB, n int) []string {
	var addrs []string
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addrs = append(addrs, ln.Addr().String())
		defer ln.Close()
	}
	return addrs
}

func newRealCluster(t testing.TB, n int) *realCluster {
	return newRealClusterWithStandbys(t, n, 0)
}

// newRealClusterWithStandbys formats n active replicas and standbys standbys (ids 100 and
// up, members n..n+standbys-1).
func newRealClusterWithStandbys(t testing.TB, n, standbys int) *realCluster {
	return newRealClusterFormatted(t, n, standbys)
}

// newRealClusterFormatted is newRealClusterWithStandbys with extra flags for every member's
// kimberlite format (--spare-replicas).
func newRealClusterFormatted(t testing.TB, n, standbys int, formatFlags ...string) *realCluster {
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "bin")
	build := exec.Command(goTool(), "build", "-o", bin+string(filepath.Separator), "vopr/cmd/kimberlite", "vopr/cmd/kimberlite-cli")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	members := n + standbys
	addrs := freeAddrs(t, 2*members)
	c := &realCluster{t: t, bin: bin, addrs: addrs[:n], standbys: addrs[n:members], metrics: addrs[members:],
		procs: make([]*proc, members)}
	for i := 0; i < members; i++ {
		dir := filepath.Join(tmp, fmt.Sprintf("replica%d", i))
		c.dirs = append(c.dirs, dir)
		c.logs = append(c.logs, filepath.Join(tmp, fmt.Sprintf("replica%d.log", i)))
		c.format(i, formatFlags...)
	}
	t.Cleanup(c.stopAll)
	return c
}

// format runs kimberlite format for member i's directory, with flags, and returns its output.
func (c *realCluster) format(i int, flags ...string) string {
	args := append([]string{"format", "--cluster", strconv.Itoa(testCluster), "--replica-id", c.id(i),
		"--replica-count", strconv.Itoa(len(c.addrs)), "--standby-count", strconv.Itoa(len(c.standbys))}, flags...)
	out, err := exec.Command(filepath.Join(c.bin, "kimberlite"), append(args, c.dirs[i])...).CombinedOutput()
	require.NoError(c.t, err, "format: %s", out)
	return string(out)
}

// id is member i's --replica-id: its index for an active replica, 100+k for standby k.
func (c *realCluster) id(i int) string {
	if i >= len(c.addrs) {
		return strconv.Itoa(100 + i - len(c.addrs))
	}
	return strconv.Itoa(i)
}

// memberFlags are the addresses every kimberlite and kimberlite-cli command is given.
func (c *realCluster) memberFlags() []string {
	flags := []string{"--addresses", strings.Join(c.addrs, ",")}
	if len(c.standbys) > 0 {
		flags = append(flags, "--standby-addresses", strings.Join(c.standbys, ","))
	}
	return flags
}

// start starts replica i's process; its stderr goes (appended) to its log file.
func (c *realCluster) start(i int) {
	logFile, err := os.OpenFile(c.logs[i], os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	require.NoError(c.t, err)
	defer logFile.Close()
	args := append(append([]string{"start", "--replica-id", c.id(i), "--metrics-addr", c.metrics[i]}, c.memberFlags()...),
		c.startArgs...)
	cmd := exec.Command(filepath.Join(c.bin, "kimberlite"), append(args, c.dirs[i])...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	require.NoError(c.t, cmd.Start())
	p := &proc{cmd: cmd, exited: make(chan error, 1)}
	go func() { p.exited <- cmd.Wait() }()
	c.procs[i] = p
}

// exitedByItself returns replica i's exit error if its process ended without being told to.
func (c *realCluster) exitedByItself(i int) (error, bool) {
	if c.procs[i] == nil {
		return nil, false
	}
	select {
	case err := <-c.procs[i].exited:
		c.procs[i] = nil
		return err, true
	default:
		return nil, false
	}
}

// kill9 kills replica i's process with SIGKILL and reaps it.
func (c *realCluster) kill9(i int) {
	require.NoError(c.t, c.procs[i].cmd.Process.Signal(syscall.SIGKILL))
	<-c.procs[i].exited
	c.procs[i] = nil
}

// stopAll ends the processes still running (SIGKILL: cleanup after a failure), and shows
// their logs if the test failed or $KIMBERLITE_TEST_LOGS is set.
func (c *realCluster) stopAll() {
	for i, p := range c.procs {
		if p != nil {
			_ = p.cmd.Process.Kill()
			<-p.exited
			c.procs[i] = nil
		}
	}
	if c.t.Failed() || os.Getenv("KIMBERLITE_TEST_LOGS") != "" {
		for i, l := range c.logs {
			b, _ := os.ReadFile(l)
			c.t.Logf("replica %d log:\n%s", i, b)
		}
	}
}

// terminate stops replica i with SIGTERM and requires a clean exit.
func (c *realCluster) terminate(i int) {
	p := c.procs[i]
	require.NoError(c.t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-p.exited:
		require.NoError(c.t, err, "replica %d: exit after SIGTERM", i)
	case <-time.After(10 * time.Second):
		c.t.Fatalf("replica %d did not exit within 10 s of SIGTERM", i)
	}
	c.procs[i] = nil
}

// status runs `kimberlite-cli cluster status` and decodes its JSON.
func (c *realCluster) status() ops.ClusterStatusReport {
	args := append([]string{"cluster", "status", "--cluster", strconv.Itoa(testCluster)}, c.memberFlags()...)
	cmd := exec.Command(filepath.Join(c.bin, "kimberlite-cli"), args...)
	out, err := cmd.Output()
	require.NoError(c.t, err, "cluster status")
	var s ops.ClusterStatusReport
	require.NoError(c.t, json.Unmarshal(out, &s), "cluster status output: %s", out)
	return s
}

// scrape reads replica i's /metrics and returns the value of each unlabelled series.
func (c *realCluster) scrape(i int) map[string]float64 {
	resp, err := http.Get("http://" + c.metrics[i] + "/metrics")
	require.NoError(c.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	values := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		name, value, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(line, "#") || strings.Contains(name, "{") {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		require.NoError(c.t, err, "metric line %q", line)
		values[name] = v
	}
	return values
}

// waitStatus polls cluster status until ok holds, or fails after timeout.
func (c *realCluster) waitStatus(what string, timeout time.Duration, ok func(ops.ClusterStatusReport) bool) ops.ClusterStatusReport {
	deadline := time.Now().Add(timeout)
	for {
		s := c.status()
		if ok(s) {
			c.t.Logf("%s: %s", what, s.Gist())
			return s
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s: not reached within %v; last status %+v", what, timeout, s)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// writer puts fresh keys one after another and records every outcome: acked writes must read
// back; uncertain ones (the client gave up, or the call timed out) may or may not have run.
type writer struct {
	stop      chan struct{}
	done      chan struct{}
	results   chan writeResult
	acked     map[string]string
	uncertain int
}

type writeResult struct {
	key, value string
	ok         bool
}

func startWriter(t *testing.T, cl *remote.Client) *writer {
	w := &writer{stop: make(chan struct{}), done: make(chan struct{}), results: make(chan writeResult, 1<<16),
		acked: map[string]string{}}
	go func() {
		defer close(w.done)
		for i := 0; ; i++ {
			select {
			case <-w.stop:
				return
			default:
			}
			key, value := fmt.Sprintf("key-%05d", i), fmt.Sprintf("value-%d-%d", i, time.Now().UnixNano())
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			res, r, err := cl.Do(ctx, kv.Op{Kind: kv.KindPut, Key: key, Value: value})
			cancel()
			ok := err == nil && r.Outcome == client.OK && res.Status == kv.StatusOK
			if err == nil && res.Status != kv.StatusOK {
				t.Errorf("put %s: status %d", key, res.Status)
			}
			w.results <- writeResult{key: key, value: value, ok: ok}
		}
	}()
	return w
}

// collect takes in the results so far and returns the number of acknowledged writes.
func (w *writer) collect() int {
	for {
		select {
		case r := <-w.results:
			if r.ok {
				w.acked[r.key] = r.value
			} else {
				w.uncertain++
			}
		default:
			return len(w.acked)
		}
	}
}

// waitAcked waits until n writes in all were acknowledged.
func (w *writer) waitAcked(t *testing.T, n int, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for w.collect() < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d writes acknowledged within %v (%d uncertain)", len(w.acked), n, timeout, w.uncertain)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (w *writer) finish() {
	close(w.stop)
	<-w.done
	w.collect()
}

var recoveredLine = regexp.MustCompile(`replica \d+: recovered view=(\d+) op=(\d+)`)

// lastRecoveredOp returns the op of the last "recovered" line in replica i's log.
func (c *realCluster) lastRecoveredOp(i int) uint64 {
	b, err := os.ReadFile(c.logs[i])
	require.NoError(c.t, err)
	m := recoveredLine.FindAllStringSubmatch(string(b), -1)
	require.NotEmpty(c.t, m, "replica %d never recovered", i)
	op, err := strconv.ParseUint(m[len(m)-1][2], 10, 64)
	require.NoError(c.t, err)
	return op
}

func TestKill9PrimaryRecoversAndAckedWritesSurvive(t *testing.T) {
	if testing.Short() {
		t.Skip("real processes: not in -short")
	}
	c := newRealCluster(t, 3)
	for i := range c.addrs {
		c.start(i)
	}
	s := c.waitStatus("started", 20*time.Second, func(s ops.ClusterStatusReport) bool {
		return s.Healthy == 3 && s.Primary >= 0
	})
	primary := s.Primary
	cl := remote.NewClient(testCluster, c.addrs)
	defer cl.Close()
	w := startWriter(t, cl)
	w.waitAcked(t, 40, 20*time.Second)

	c.kill9(primary)
	before := w.collect()
	s = c.waitStatus("primary killed", 20*time.Second, func(s ops.ClusterStatusReport) bool {
		return s.Replicas[primary].Status == ops.StatusUnreachable && s.Healthy == 2 && s.QuorumAvailable &&
			s.Primary >= 0 && s.Primary != primary
	})
	w.waitAcked(t, before+40, 30*time.Second)
	target := s.Replicas[s.Primary].Commit // committed while the old primary was down
	require.Greater(t, target, uint64(0))

	c.start(primary)
	c.waitStatus("restarted and caught up", 30*time.Second, func(s ops.ClusterStatusReport) bool {
		r := s.Replicas[primary]
		return s.Healthy == 3 && r.Status == "normal" && r.CommitMin >= target
	})
	require.Greater(t, c.lastRecoveredOp(primary), uint64(0), "the restarted replica recovers its log from its files")
	m := c.scrape(s.Primary)
	require.GreaterOrEqual(t, m["kimberlite_consensus_commits_total"], float64(target), "metrics of replica %d", s.Primary)
	require.GreaterOrEqual(t, m["kimberlite_consensus_view_changes_total"], 1.0, "the new primary entered a view")
	w.waitAcked(t, len(w.acked)+20, 20*time.Second) // and writes go on with it back
	w.finish()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for key, value := range w.acked {
		res, _, err := cl.Do(ctx, kv.Op{Kind: kv.KindGet, Key: key})
		require.NoError(t, err, "get %s", key)
		require.Equal(t, kv.StatusOK, res.Status, "acknowledged write %s lost", key)
		require.Equal(t, value, res.Value, "acknowledged write %s reads back another value", key)
	}
	t.Logf("%d acknowledged writes read back (%d uncertain); the killed primary recovered op %d from disk",
		len(w.acked), w.uncertain, c.lastRecoveredOp(primary))
	for i := range c.addrs {
		c.terminate(i)
	}
}
