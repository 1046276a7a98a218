package scenarios

import (
	"fmt"
	"math/rand/v2"

	"vopr/cluster/client"
	"vopr/cluster/kv"
	"vopr/cluster/vsr"
	"vopr/sim"
)

// The cluster scenario runs the real replicas and clients under random crashes, restarts,
// pauses, partitions and message loss (a fault phase), then heals everything and requires
// the cluster to finish the clients' requests and converge (a liveness phase). Safety is
// checked on every commit: no two replicas execute different prepares at the same op. The
// replicas assert their own invariants (commit_number <= op_number and more) at every step;
// any fail-stop is a correctness failure. It is the forerunner of the swarm scenario.
func init() {
	register(Scenario{
		Name:    "cluster",
		Runbook: "Scenarios 1-3 (faults at random)",
		Summary: "real VSR replicas and clients under crashes, restarts, pauses, partitions and loss; liveness after heal",
		Params:  func(seed uint64) string { return drawClusterParams(seed).String() },
		Run:     runCluster,
	})
}

type clusterParams struct {
	replicas, clients int
	network           sim.NetworkOptions
	crashRate         float64 // per tick, for the whole cluster
	restartRate       float64
	pauseRate         float64
}

func drawClusterParams(seed uint64) clusterParams {
	r := sim.Stream(seed, "params")
	p := clusterParams{replicas: []int{1, 3, 3, 3, 5}[r.IntN(5)], clients: 1 + r.IntN(6)}
	p.network = sim.NetworkOptions{
		OneWayDelayMin: sim.Duration(r.IntN(3)) * sim.Millisecond, OneWayDelayMean: sim.Duration(1+r.IntN(20)) * sim.Millisecond,
		PacketLossProbability: 0.1 * r.Float64(), PacketReplayProbability: 0.05 * r.Float64(),
		PacketReorderProbability: 0.05 * r.Float64(), PacketCorruptionProbability: 0.01 * r.Float64(),
		PathMaximumCapacity: 64, PathClogProbability: 0.001 * r.Float64(), PathClogDurationMean: 200 * sim.Millisecond,
		PartitionMode: sim.PartitionMode(r.IntN(4)), PartitionProbability: 0.005 * r.Float64(),
		UnpartitionProbability: 0.05, PartitionStabilityMin: sim.Second, UnpartitionStabilityMin: sim.Second,
	}
	p.crashRate, p.restartRate, p.pauseRate = 0.003*r.Float64(), 0.02+0.05*r.Float64(), 0.001*r.Float64()
	return p
}

func (p clusterParams) String() string {
	n := p.network
	return fmt.Sprintf("replicas=%d clients=%d delay=%s/%s loss=%.3f replay=%.3f reorder=%.3f corrupt=%.4f partition_mode=%d partition=%.4f crash=%.4f restart=%.3f pause=%.4f",
		p.replicas, p.clients, n.OneWayDelayMin, n.OneWayDelayMean, n.PacketLossProbability, n.PacketReplayProbability,
		n.PacketReorderProbability, n.PacketCorruptionProbability, n.PartitionMode, n.PartitionProbability,
		p.crashRate, p.restartRate, p.pauseRate)
}

const (
	clusterFaultTicksDefault    = 3000
	clusterLivenessTicksDefault = 3000
)

type clusterRun struct {
	c        *sim.Cluster
	commits  map[uint64]vsr.Event
	conflict string
	acked    int
	load     bool
	workload *rand.Rand
	events   map[vsr.EventKind]uint64
	// nackTruncations counts suffixes truncated by protocol-aware recovery.
	nackTruncations uint64
	viewChanges     uint64 // replicas entering a view change
}

func runCluster(o Options) Result {
	p := drawClusterParams(o.Seed)
	run := &clusterRun{commits: map[uint64]vsr.Event{}, events: map[vsr.EventKind]uint64{}, workload: sim.Stream(o.Seed, "workload"), load: true}
	run.c = sim.NewCluster(sim.ClusterOptions{
		Replicas: p.replicas, Clients: p.clients, ClusterID: o.Seed | 1,
		World: sim.WorldOptions{Seed: o.Seed, Network: p.network, Disk: sim.DiskOptions{
			ReadLatencyMin: 50 * sim.Microsecond, ReadLatencyMean: 300 * sim.Microsecond,
			WriteLatencyMin: 50 * sim.Microsecond, WriteLatencyMean: 800 * sim.Microsecond,
			CrashLostProbability: 0.3, CrashTornProbability: 0.3, Capacity: 256 << 20}},
		OnEvent: run.onEvent, Mutation: o.Mutation,
	})
	c := run.c
	c.Trace.Out, c.Trace.Level, c.Trace.KeepMax = o.Out, o.Log, o.TraceKeep
	for i := 0; i < p.clients; i++ {
		i := i
		c.SetClientTick(i, func() { run.clientTick(i) })
	}
	faultTicks, livenessTicks := clusterFaultTicksDefault, clusterLivenessTicksDefault
	if o.TicksMax > 0 {
		faultTicks, livenessTicks = o.TicksMax/2, o.TicksMax-o.TicksMax/2
	}
	nemesis := sim.Stream(o.Seed, "nemesis")
	for tick := 0; tick < faultTicks && run.conflict == "" && len(c.Failures()) == 0; tick++ {
		c.RunFor(sim.TickInterval)
		run.nemesis(nemesis, p)
	}
	return run.finish(o, p, livenessTicks)
}

// nemesis keeps at most f replicas down or paused at a time, so a quorum can always form
// once the network heals.
func (run *clusterRun) nemesis(r *rand.Rand, p clusterParams) {
	c := run.c
	f := (p.replicas - 1) / 2
	down := 0
	for i := 0; i < p.replicas; i++ {
		if c.Nodes[i].Status() != sim.NodeUp {
			down++
		}
	}
	i := r.IntN(p.replicas)
	switch c.Nodes[i].Status() {
	case sim.NodeUp:
		if down < f && sim.Chance(r, p.crashRate) {
			c.CrashReplica(i)
		} else if down < f && sim.Chance(r, p.pauseRate) {
			c.Nodes[i].Pause()
		}
	case sim.NodeCrashed:
		if sim.Chance(r, p.restartRate) {
			c.StartReplica(i)
		}
	case sim.NodePaused:
		if sim.Chance(r, p.restartRate) {
			c.Nodes[i].Unpause()
		}
	}
}

func (run *clusterRun) onEvent(e vsr.Event) {
	run.events[e.Kind]++
	if e.Kind == vsr.EventTruncate && e.Text == "nack" {
		run.nackTruncations++
	}
	if e.Kind == vsr.EventStatus && e.Text == "view_change" {
		run.viewChanges++
	}
	if e.Kind != vsr.EventCommit {
		return
	}
	if first, ok := run.commits[e.Op]; ok && first.Checksum != e.Checksum && run.conflict == "" {
		run.conflict = fmt.Sprintf("replicas %d and %d executed different prepares at op %d (views %d, %d)",
			first.Replica, e.Replica, e.Op, first.View, e.View)
	}
	if _, ok := run.commits[e.Op]; !ok {
		run.commits[e.Op] = e
	}
}

func (run *clusterRun) clientTick(i int) {
	cl := run.c.Client(i)
	if !run.load || cl.Busy() {
		return
	}
	key := fmt.Sprintf("k%d", run.workload.IntN(8))
	op := kv.Op{Kind: kv.KindPut, Key: key, Value: fmt.Sprintf("c%d-%d", i, run.workload.Uint32())}
	if run.workload.IntN(4) == 0 {
		op = kv.Op{Kind: kv.KindGet, Key: key}
	}
	cl.Submit(kv.EncodeOp(op), func(r client.Result) {
		if r.Outcome == client.OK {
			run.acked++
		}
	})
}
