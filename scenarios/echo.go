package scenarios

import (
	"fmt"
	"math/rand/v2"

	"vopr/sim"
)

// The echo scenario runs the simulator's self-test workload (sim.EchoActor), not the
// database: it exists to exercise and benchmark the simulated network, disks, clocks and
// nodes on their own. Its first output line says so.
func init() {
	register(Scenario{
		Name:    "echo",
		Runbook: "none (simulator self-test)",
		Summary: "simulator self-test: echo actors (not the replica) ping each other over a faulty network, persist to faulty disks, crash and restart",
		Params:  func(seed uint64) string { return drawEchoParams(seed).String() },
		Run:     runEcho,
	})
}

// echoParams are drawn from the seed.
type echoParams struct {
	nodes     int
	world     sim.WorldOptions
	crashRate float64 // per tick, per node
}

func drawEchoParams(seed uint64) echoParams {
	r := sim.Stream(seed, "params")
	nodes := 2 + r.IntN(5)
	p := echoParams{nodes: nodes, crashRate: 0.002 * r.Float64()}
	p.world = sim.WorldOptions{
		Seed: seed, NodeCount: nodes, DiskNodes: nodes,
		Network: sim.NetworkOptions{
			OneWayDelayMin:              sim.Duration(r.IntN(5)) * sim.Millisecond,
			OneWayDelayMean:             sim.Duration(1+r.IntN(50)) * sim.Millisecond,
			PacketLossProbability:       0.2 * r.Float64(),
			PacketReplayProbability:     0.1 * r.Float64(),
			PacketCorruptionProbability: 0.05 * r.Float64(),
			PathMaximumCapacity:         16 + r.IntN(64),
			PathClogProbability:         0.01 * r.Float64(),
			PathClogDurationMean:        sim.Duration(100+r.IntN(1000)) * sim.Millisecond,
			PartitionMode:               sim.PartitionMode(r.IntN(4)),
			PartitionProbability:        0.02 * r.Float64(),
			UnpartitionProbability:      0.1 * r.Float64(),
			PartitionStabilityMin:       sim.Second,
			UnpartitionStabilityMin:     sim.Second,
		},
		Disk: sim.DiskOptions{
			ReadLatencyMin: 50 * sim.Microsecond, ReadLatencyMean: sim.Duration(100+r.IntN(2000)) * sim.Microsecond,
			WriteLatencyMin: 50 * sim.Microsecond, WriteLatencyMean: sim.Duration(100+r.IntN(5000)) * sim.Microsecond,
			WriteCorruptionProbability: 0.01 * r.Float64(),
			CrashLostProbability:       0.3 * r.Float64(),
			CrashTornProbability:       0.3 * r.Float64(),
			Capacity:                   64 << 20,
		},
	}
	for i := 0; i < nodes; i++ {
		p.world.Clocks = append(p.world.Clocks, sim.ClockOptions{
			OffsetNs: int64(r.IntN(1000)-500) * int64(sim.Millisecond),
			DriftPPM: int64(r.IntN(2001) - 1000),
		})
	}
	return p
}

// echoWorkload opens the first output line of every echo run, so that nobody mistakes it for
// a test of the database.
const echoWorkload = "simulator self-test: echo actors, not the replica"

func (p echoParams) String() string {
	n, d := p.world.Network, p.world.Disk
	return fmt.Sprintf("workload=%q nodes=%d delay=%s/%s loss=%.3f replay=%.3f corrupt=%.3f capacity=%d clog=%.4f partition_mode=%d partition=%.4f crash_rate=%.4f disk_write=%s torn=%.2f lost=%.2f",
		echoWorkload, p.nodes, n.OneWayDelayMin, n.OneWayDelayMean, n.PacketLossProbability, n.PacketReplayProbability,
		n.PacketCorruptionProbability, n.PathMaximumCapacity, n.PathClogProbability, n.PartitionMode,
		n.PartitionProbability, p.crashRate, d.WriteLatencyMean, d.CrashTornProbability, d.CrashLostProbability)
}

const echoTicksDefault = 3000

func runEcho(o Options) Result {
	p := drawEchoParams(o.Seed)
	w := sim.NewWorld(p.world)
	w.Trace.Out, w.Trace.Level, w.Trace.KeepMax = o.Out, o.Log, o.TraceKeep
	ticks := o.TicksMax
	if ticks == 0 {
		ticks = echoTicksDefault
	}
	actors := make([]*sim.EchoActor, p.nodes)
	boot := func(i int) func(n *sim.Node) sim.Actor {
		return func(n *sim.Node) sim.Actor {
			actors[i] = sim.NewEchoActor(n, w.Network, sim.Stream(o.Seed, fmt.Sprintf("echo/%d", i)), p.nodes)
			return actors[i]
		}
	}
	for i, n := range w.Nodes {
		n.Start(boot(i))
	}
	nemesis := sim.Stream(o.Seed, "nemesis")
	faultTicks := ticks * 2 / 3
	for tick := 0; tick < faultTicks; tick++ {
		w.Loop.RunUntil(w.Loop.Now() + sim.Time(sim.TickInterval))
		echoNemesis(w, nemesis, p.crashRate, boot)
	}
	// Liveness phase: heal everything, restart everyone, and require pongs to flow again.
	w.Network.SetFaultsEnabled(false)
	w.Network.Heal()
	for i, n := range w.Nodes {
		n.Disk.SetFaultsEnabled(false)
		if n.Status() == sim.NodeCrashed {
			n.Start(boot(i))
		}
	}
	pongsBefore := echoPongs(actors)
	w.Loop.RunUntil(w.Loop.Now() + sim.Time(ticks-faultTicks)*sim.Time(sim.TickInterval))
	r := Result{Scenario: "echo", Seed: o.Seed, Params: p.String(), TraceHash: w.Trace.Hash(),
		Events: w.Trace.Count(), SimTime: w.Loop.Now(), Trace: w.Trace.Detach(), Counters: echoCounters(w, actors)}
	if failures := w.Failures(); len(failures) > 0 {
		r.Outcome, r.Reason = Correctness, fmt.Sprintf("node %d fail-stopped at %s: %s", failures[0].Node, failures[0].At, failures[0].Message)
	} else if echoPongs(actors) == pongsBefore && p.nodes > 1 {
		r.Outcome, r.Reason = Liveness, "no pong arrived after the network healed"
	}
	return r
}

func echoNemesis(w *sim.World, r *rand.Rand, crashRate float64, boot func(int) func(*sim.Node) sim.Actor) {
	for i, n := range w.Nodes {
		switch n.Status() {
		case sim.NodeUp:
			if sim.Chance(r, crashRate) {
				n.Crash()
			}
		case sim.NodeCrashed:
			if sim.Chance(r, 0.05) {
				n.Start(boot(i))
			}
		}
	}
}

func echoPongs(actors []*sim.EchoActor) uint64 {
	var total uint64
	for _, a := range actors {
		if a != nil {
			total += a.Stats.PongsReceived
		}
	}
	return total
}

func echoCounters(w *sim.World, actors []*sim.EchoActor) map[string]uint64 {
	c := map[string]uint64{}
	for _, a := range actors {
		if a == nil {
			continue
		}
		c["echo.pings_sent"] += a.Stats.PingsSent
		c["echo.pongs_received"] += a.Stats.PongsReceived
		c["echo.persisted"] += a.Stats.Persisted
		c["echo.corrupt_dropped"] += a.Stats.CorruptDropped
	}
	ns := w.Network.Stats()
	c["net.sent"], c["net.delivered"], c["net.lost"] = ns.Sent, ns.Delivered, ns.Lost
	c["net.corrupted"], c["net.dropped_partition"] = ns.Corrupted, ns.DroppedPartition
	return c
}
