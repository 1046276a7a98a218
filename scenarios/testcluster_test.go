package scenarios

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/client"
	"vopr/cluster/kv"
	"vopr/cluster/vsr"
	"vopr/sim"
)

// testCluster is the scripting surface of the replica scenario tests, in the manner of
// TigerBeetle's replica_test TestContext: a quiet, fault-free world unless a test asks for
// faults, selectors for replicas, and verbs that run the real replicas until something holds.
type testCluster struct {
	t *testing.T
	*sim.Cluster
	// acked counts OK replies per client; results keeps every result.
	acked   []int
	results []client.Result
	commits map[uint64]map[int]vsr.Event // op -> replica -> commit event
	load    bool
	// bigValues makes every put write a new key with a value of kv.ValueSizeMax bytes, so
	// that the state grows by about a kilobyte per op.
	bigValues bool
}

type testOptions struct {
	replicas, clients int
	standbys          int
	seed              uint64
	mutate            func(*sim.ClusterOptions)
}

func newTestCluster(t *testing.T, o testOptions) *testCluster {
	t.Helper()
	if o.clients == 0 {
		o.clients = 1
	}
	tc := &testCluster{t: t, acked: make([]int, o.clients), commits: map[uint64]map[int]vsr.Event{}}
	opts := sim.ClusterOptions{
		Replicas: o.replicas, Standbys: o.standbys, Clients: o.clients, ClusterID: 7,
		World: sim.WorldOptions{
			Seed: o.seed,
			Network: sim.NetworkOptions{OneWayDelayMin: sim.Millisecond, OneWayDelayMean: 2 * sim.Millisecond,
				PathMaximumCapacity: 256},
			Disk: sim.DiskOptions{ReadLatencyMin: 100 * sim.Microsecond, ReadLatencyMean: 200 * sim.Microsecond,
				WriteLatencyMin: 100 * sim.Microsecond, WriteLatencyMean: 500 * sim.Microsecond, Capacity: 64 << 20},
		},
		OnEvent: tc.onEvent,
	}
	if o.mutate != nil {
		o.mutate(&opts)
	}
	tc.Cluster = sim.NewCluster(opts)
	for i := 0; i < o.clients; i++ {
		i := i
		tc.SetClientTick(i, func() { tc.clientTick(i) })
	}
	return tc
}

func (tc *testCluster) onEvent(e vsr.Event) {
	if e.Kind != vsr.EventCommit {
		return
	}
	byReplica := tc.commits[e.Op]
	if byReplica == nil {
		byReplica = map[int]vsr.Event{}
		tc.commits[e.Op] = byReplica
	}
	for r, other := range byReplica {
		require.Equal(tc.t, other.Checksum, e.Checksum, "replicas %d and %d committed different ops at op %d", r, e.Replica, e.Op)
	}
	byReplica[e.Replica] = e
}

// clientTick keeps client i busy with puts while load is on.
func (tc *testCluster) clientTick(i int) {
	c := tc.Client(i)
	if !tc.load || c.Busy() {
		return
	}
	n := tc.acked[i]
	key, value := fmt.Sprintf("k%d", n%8), fmt.Sprintf("c%d-%d", i, n)
	if tc.bigValues {
		key, value = fmt.Sprintf("k%d-%d", i, n), value+strings.Repeat("x", kv.ValueSizeMax-len(value))
	}
	op := kv.EncodeOp(kv.Op{Kind: kv.KindPut, Key: key, Value: value})
	c.Submit(op, func(r client.Result) {
		tc.results = append(tc.results, r)
		if r.Outcome == client.OK {
			tc.acked[i]++
		}
	})
}

func (tc *testCluster) totalAcked() int {
	total := 0
	for _, n := range tc.acked {
		total += n
	}
	return total
}

// commitN runs load until n more requests are acknowledged, or fails the test.
func (tc *testCluster) commitN(n int, ticksMax int) {
	tc.t.Helper()
	target := tc.totalAcked() + n
	tc.load = true
	ok := tc.RunUntil(func() bool { return tc.totalAcked() >= target }, ticksMax)
	tc.load = false
	require.True(tc.t, ok, "only %d of %d requests acknowledged within %d ticks; replicas: %s",
		tc.totalAcked(), target, ticksMax, tc.describe())
}

func (tc *testCluster) describe() string {
	s := ""
	for i := 0; i < tc.MemberCount(); i++ {
		r := tc.Replica(i)
		if r == nil {
			s += fmt.Sprintf("[R%d down] ", i)
			continue
		}
		in := r.Inspect()
		s += fmt.Sprintf("[R%d %s %s v%d op=%d commit=%d/%d ckpt=%d] ", i, in.Status, in.Role, in.View, in.Op,
			in.CommitMin, in.CommitMax, in.CheckpointOp)
	}
	return s
}

// primary returns the replica that is primary in normal status of the highest view, or -1.
func (tc *testCluster) primary() int {
	best, view := -1, uint32(0)
	for i := 0; i < tc.ReplicaCount(); i++ {
		if r := tc.Replica(i); r != nil {
			in := r.Inspect()
			if in.Status == vsr.StatusNormal && in.Role == vsr.RolePrimary && (best < 0 || in.View > view) {
				best, view = i, in.View
			}
		}
	}
	return best
}

func (tc *testCluster) inspect(i int) vsr.Inspection {
	r := tc.Replica(i)
	require.NotNil(tc.t, r, "replica %d is down", i)
	return r.Inspect()
}

// converge runs until every running replica has executed up to the same commit, in normal
// status, with identical digests.
func (tc *testCluster) converge(ticksMax int) {
	tc.t.Helper()
	ok := tc.RunUntil(tc.converged, ticksMax)
	require.True(tc.t, ok, "replicas did not converge: %s", tc.describe())
}

func (tc *testCluster) requireNoFailures() {
	tc.t.Helper()
	require.Empty(tc.t, tc.Failures(), "fail-stops")
}

// converged: every running replica normal, executed up to the same commit, same digest.
func (tc *testCluster) converged() bool {
	var first *vsr.Inspection
	for i := 0; i < tc.MemberCount(); i++ {
		r := tc.Replica(i)
		if r == nil || !tc.IsMember(i) {
			continue
		}
		in := r.Inspect()
		if in.Status != vsr.StatusNormal || in.CommitMin != in.CommitMax {
			return false
		}
		if first == nil {
			first = &in
		} else if first.CommitMin != in.CommitMin || first.Digest != in.Digest {
			return false
		}
	}
	return first != nil
}
