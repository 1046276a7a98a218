package sim

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// echoWorld builds a world of echo actors. Every node pings on every tick (a busy network);
// actors[i] is the current incarnation on node i.
type echoWorld struct {
	world  *World
	actors []*EchoActor
}

func newEchoWorld(o WorldOptions) *echoWorld {
	w := &echoWorld{world: NewWorld(o), actors: make([]*EchoActor, o.NodeCount)}
	for i, n := range w.world.Nodes {
		n.Start(w.boot(i))
	}
	return w
}

func (w *echoWorld) boot(i int) func(*Node) Actor {
	return func(n *Node) Actor {
		a := NewEchoActor(n, w.world.Network, Stream(w.world.Seed, fmt.Sprintf("echo/%d", i)), len(w.world.Nodes))
		a.SendProbability = 1
		w.actors[i] = a
		return a
	}
}

func (w *echoWorld) run(d Duration) { w.world.Loop.RunUntil(w.world.Loop.Now() + Time(d)) }

func (w *echoWorld) total() EchoStats {
	var s EchoStats
	for _, a := range w.actors {
		s.PingsSent += a.Stats.PingsSent
		s.PingsReceived += a.Stats.PingsReceived
		s.PongsReceived += a.Stats.PongsReceived
		s.Persisted += a.Stats.Persisted
		s.DiskErrors += a.Stats.DiskErrors
		s.CorruptDropped += a.Stats.CorruptDropped
	}
	return s
}

func quietDisk() DiskOptions {
	return DiskOptions{
		ReadLatencyMin: 20 * Microsecond, ReadLatencyMean: 100 * Microsecond,
		WriteLatencyMin: 20 * Microsecond, WriteLatencyMean: 200 * Microsecond,
		Capacity: 8 << 20,
	}
}

// busyWorldOptions is the benchmark's world: 6 nodes with disks, every node pinging every
// tick, over a network with a little of every per-packet fault.
func busyWorldOptions(seed uint64) WorldOptions {
	return WorldOptions{
		Seed: seed, NodeCount: 6, DiskNodes: 6,
		Network: NetworkOptions{
			OneWayDelayMin: 100 * Microsecond, OneWayDelayMean: Millisecond,
			PacketLossProbability: 0.01, PacketReplayProbability: 0.01,
			PacketReorderProbability: 0.01, PacketCorruptionProbability: 0.001,
		},
		Disk: quietDisk(),
	}
}

func TestWorldWiresNodesDisksClocksAndNetwork(t *testing.T) {
	clocks := []ClockOptions{{DriftPPM: 50_000}, {}, {DriftPPM: -50_000}, {OffsetNs: int64(Second)}}
	w := newEchoWorld(WorldOptions{
		Seed: 7, NodeCount: 4, DiskNodes: 2,
		Network: NetworkOptions{OneWayDelayMin: Millisecond, OneWayDelayMean: 2 * Millisecond},
		Disk:    quietDisk(), Clocks: clocks,
	})
	require.Len(t, w.world.Nodes, 4)
	for i, n := range w.world.Nodes {
		require.Equal(t, i, n.ID)
		require.Equal(t, i < 2, n.Disk != nil, "node %d: the first DiskNodes nodes have disks", i)
		require.Equal(t, clocks[i], n.Clock.Options(), "node %d has its own clock", i)
		require.Equal(t, NodeUp, n.Status())
	}
	w.run(10 * Second)

	s := w.total()
	// Each node pings once per tick of its own clock: the drifting nodes ping 5% more/less.
	require.Equal(t, uint64(1050), w.actors[0].Stats.PingsSent)
	require.Equal(t, uint64(1000), w.actors[1].Stats.PingsSent)
	require.Equal(t, uint64(950), w.actors[2].Stats.PingsSent)
	require.Equal(t, uint64(1000), w.actors[3].Stats.PingsSent)
	// A perfect network: every ping arrives; the disk nodes persist before they answer.
	require.Zero(t, s.CorruptDropped)
	require.Zero(t, s.DiskErrors)
	inFlight := uint64(w.world.Network.InFlight())
	require.LessOrEqual(t, s.PingsSent-s.PingsReceived, inFlight)
	received := w.actors[0].Stats.PingsReceived + w.actors[1].Stats.PingsReceived
	persisted := w.actors[0].Stats.Persisted + w.actors[1].Stats.Persisted
	require.LessOrEqual(t, persisted, received)
	require.LessOrEqual(t, received-persisted, uint64(8),
		"every ping to a disk node is persisted, bar the last few still being written")
	require.Zero(t, w.actors[2].Stats.Persisted, "diskless nodes answer at once")
	require.Greater(t, s.PongsReceived, s.PingsSent*9/10)
	require.Empty(t, w.world.Failures())
}

// The echo actor drops a message that fails its checksum or has the wrong size, and counts it.
func TestEchoActorRejectsCorruptMessages(t *testing.T) {
	w := newEchoWorld(WorldOptions{Seed: 1, NodeCount: 2, Network: NetworkOptions{OneWayDelayMean: Millisecond}})
	good := echoEncode(echoPing, 1, 0)
	flipped := append([]byte(nil), good...)
	flipped[3] ^= 0x10
	badKind := echoEncode(7, 1, 0)
	w.world.Nodes[0].Deliver(1, flipped)
	w.world.Nodes[0].Deliver(1, good[:len(good)-1])
	w.world.Nodes[0].Deliver(1, badKind)
	w.world.Nodes[0].Deliver(1, nil)
	require.Equal(t, uint64(4), w.actors[0].Stats.CorruptDropped)
	require.Zero(t, w.actors[0].Stats.PingsReceived)
	w.world.Nodes[0].Deliver(1, good)
	require.Equal(t, uint64(1), w.actors[0].Stats.PingsReceived)
	require.Empty(t, w.world.Failures(), "corrupt input must never panic the actor")
}

func TestWorldSameSeedSameTraceOtherSeedOtherTrace(t *testing.T) {
	hash := func(seed uint64) (uint64, uint64) {
		w := newEchoWorld(busyWorldOptions(seed))
		w.run(2 * Second)
		w.world.Nodes[3].Crash()
		w.run(Second)
		w.world.Nodes[3].Start(w.boot(3))
		w.run(Second)
		return w.world.Trace.Hash(), w.world.Trace.Count()
	}
	h1, n1 := hash(11)
	h2, n2 := hash(11)
	require.Equal(t, h1, h2)
	require.Equal(t, n1, n2)
	h3, _ := hash(12)
	require.NotEqual(t, h1, h3)
}

func TestWorldFailuresInNodeOrder(t *testing.T) {
	w := NewWorld(WorldOptions{Seed: 1, NodeCount: 3, Network: NetworkOptions{}})
	for i := 2; i >= 0; i-- {
		n := w.Nodes[i]
		n.Start(func(*Node) Actor { panic(fmt.Sprintf("boot %d", i)) })
	}
	failures := w.Failures()
	require.Len(t, failures, 3)
	for i, f := range failures {
		require.Equal(t, i, f.Node)
		require.Equal(t, fmt.Sprintf("boot %d", i), f.Message)
	}
}

func TestWorldRejectsInvalidOptions(t *testing.T) {
	requireAssertion(t, "no nodes", func() { NewWorld(WorldOptions{}) })
	requireAssertion(t, "disk nodes out of range", func() { NewWorld(WorldOptions{NodeCount: 2, DiskNodes: 3}) })
	requireAssertion(t, "one clock per node", func() {
		NewWorld(WorldOptions{NodeCount: 2, Clocks: []ClockOptions{{}}})
	})
}

// BenchmarkWorld runs a busy network of 6 echo nodes with disks for 10 s of virtual time per
// iteration and reports loop events per wall second and simulated seconds per wall second.
func BenchmarkWorld(b *testing.B) {
	const simulated = 10 * Second
	b.ReportAllocs()
	var events, records uint64
	for i := 0; i < b.N; i++ {
		w := newEchoWorld(busyWorldOptions(uint64(i + 1)))
		w.run(simulated)
		events += w.world.Loop.Steps()
		records += w.world.Trace.Count()
		if s := w.total(); s.PongsReceived == 0 {
			b.Fatalf("no pongs: %+v", s)
		}
	}
	wall := b.Elapsed().Seconds()
	b.ReportMetric(float64(events)/wall, "events/s")
	b.ReportMetric(float64(records)/wall, "records/s")
	b.ReportMetric(float64(b.N)*float64(simulated)/float64(Second)/wall, "sim-s/s")
	b.ReportMetric(float64(events)/float64(b.N), "events/op")
}
