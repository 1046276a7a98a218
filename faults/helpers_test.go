package faults

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/kv"
	"vopr/sim"
)

// swarmWith draws swarms from consecutive seeds from start until one has the given replica
// count, so that tests get realistic swarms of the size they need.
func swarmWith(t *testing.T, replicas int, start uint64) (Swarm, uint64) {
	t.Helper()
	for seed := start; seed < start+1000; seed++ {
		// Without standbys or reconfiguration: these tests aim the nemesis at the active
		// replicas as formatted, and count them.
		s, err := DrawSwarmOverride(sim.Stream(seed, "swarm"), Override{NoStandbys: true, NoReconfig: true})
		require.NoError(t, err)
		if s.Replicas == replicas {
			return s, seed
		}
	}
	t.Fatalf("no swarm of %d replicas from seed %d", replicas, start)
	return Swarm{}, 0
}

// workloadCluster builds the swarm's cluster with clients that keep writing, and a trace
// that prints LevelShort records into a buffer for the test to read back.
func workloadCluster(s Swarm, seed uint64) (*sim.Cluster, *bytes.Buffer) {
	c := sim.NewCluster(s.ClusterOptions(seed))
	var out bytes.Buffer
	c.Trace.Out, c.Trace.Level = &out, sim.LevelShort
	r := sim.Stream(seed, "workload")
	for i := 0; i < s.Clients; i++ {
		c.SetClientTick(i, clientTick(c, i, r))
	}
	return c, &out
}

const workloadStart = sim.Time(300 * sim.Millisecond)

func clientTick(c *sim.Cluster, i int, r *rand.Rand) func() {
	return func() {
		cl := c.Client(i)
		// Start once the replicas' clocks can have synchronised: a request queued by an
		// unsynchronised primary waits for the client to give up (see the report).
		if cl.Busy() || c.Loop.Now() < workloadStart {
			return
		}
		op := kv.Op{Kind: kv.KindPut, Key: fmt.Sprintf("k%d", r.IntN(16)),
			Value: strings.Repeat("v", r.IntN(600))}
		cl.Submit(kv.EncodeOp(op), nil)
	}
}

// traceLine is one printed trace record: its kind and text.
type traceLine struct{ kind, text string }

// traceLines parses the records printed by Trace.Out ("<time> <node> <kind> <text>").
func traceLines(out *bytes.Buffer) []traceLine {
	var lines []traceLine
	for _, line := range strings.Split(out.String(), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		lines = append(lines, traceLine{kind: f[2], text: strings.Join(f[3:], " ")})
	}
	return lines
}

// requireProgress fails unless some replica has ops in its log: a test that saw no writes
// proves nothing about faults on them.
func requireProgress(t *testing.T, c *sim.Cluster) {
	t.Helper()
	var op uint64
	for i := 0; i < c.ReplicaCount(); i++ {
		if r := c.Replica(i); r != nil {
			op = max(op, r.Inspect().Op)
		}
	}
	require.Positive(t, op, "the cluster committed nothing: %v", c.Failures())
}
