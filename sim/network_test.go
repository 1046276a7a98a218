package sim

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/bits"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// Tests of the simulated network. Each fault is checked twice: it happens at the configured
// rate or condition, and it does not happen otherwise (with the other faults on, so that a
// fault leaking into another's decision shows up).

// netRig drives a network and records every send and delivery. Packet i carries its id three
// times, so the id survives a single flipped bit.
type netRig struct {
	loop  *Loop
	trace *Trace
	net   *Network
	sent  []netSent
	got   []netGot
	count []int // deliveries per packet id
}

type netSent struct {
	at       Time
	from, to int
	msg      []byte // a copy of what was sent
	sent     []byte // the bytes handed to Send, which nothing may change (Send)
}

type netGot struct {
	at       Time
	from, to int
	id       int
	msg      []byte
}

const netMsgLen = 32

// netT is what the rig needs of *testing.T, *testing.B and *rapid.T.
type netT interface {
	require.TestingT
	Helper()
}

func newNetRig(t netT, seed uint64, opts NetworkOptions) *netRig {
	t.Helper()
	loop := NewLoop()
	r := &netRig{loop: loop, trace: NewTrace(loop.Now)}
	r.net = NewNetwork(loop, Stream(seed, "network"), r.trace, opts)
	r.net.SetDeliver(func(from, to int, msg []byte) {
		id := decodeNetID(msg)
		r.got = append(r.got, netGot{at: loop.Now(), from: from, to: to, id: id, msg: msg})
		r.count[id]++
	})
	return r
}

// send sends packet len(r.sent) on from->to, in a fresh buffer (Send keeps it).
func (r *netRig) send(from, to int) int {
	id := len(r.sent)
	buf := make([]byte, 0, netMsgLen)
	for range 3 {
		buf = binary.LittleEndian.AppendUint64(buf, uint64(id))
	}
	buf = append(buf, make([]byte, netMsgLen-len(buf))...)
	buf[netMsgLen-1] = byte(from<<4 | to)
	r.sent = append(r.sent, netSent{at: r.loop.Now(), from: from, to: to,
		msg: append([]byte(nil), buf...), sent: buf})
	r.count = append(r.count, 0)
	r.net.Send(from, to, buf)
	return id
}

// requireSentIntact checks that no packet's sent bytes changed: corruption in flight (and a
// replay of a corrupted packet) works on a copy, never on the bytes senders share.
func (r *netRig) requireSentIntact(t netT) {
	t.Helper()
	for id, s := range r.sent {
		require.Equal(t, s.msg, s.sent, "packet %d: the sent bytes changed", id)
	}
}

func decodeNetID(msg []byte) int {
	a := binary.LittleEndian.Uint64(msg[0:])
	b := binary.LittleEndian.Uint64(msg[8:])
	if a == b {
		return int(a)
	}
	return int(binary.LittleEndian.Uint64(msg[16:]))
}

// drain runs the loop until nothing is scheduled, with a bound so a bug cannot hang the test.
func (r *netRig) drain(t netT) {
	t.Helper()
	for i := 0; r.loop.Step(); i++ {
		require.Less(t, i, 10_000_000, "network never went quiet")
	}
}

// sendSpread sends count packets on random non-loopback paths, one every gap.
func (r *netRig) sendSpread(seed uint64, count int, gap Duration) {
	rng := Stream(seed, "test-traffic")
	nodes := r.net.opts.NodeCount
	for i := range count {
		r.loop.At(Time(i)*Time(gap), func() {
			from := rng.IntN(nodes)
			to := (from + 1 + rng.IntN(nodes-1)) % nodes
			r.send(from, to)
		})
	}
}

func hamming(a, b []byte) int {
	d := 0
	for i := range a {
		d += bits.OnesCount8(a[i] ^ b[i])
	}
	return d
}

func requireRate(t *testing.T, what string, count, total uint64, want, tolerance float64) {
	t.Helper()
	got := float64(count) / float64(total)
	require.InDelta(t, want, got, tolerance, "%s: %d of %d", what, count, total)
}

// allFaults turns every fault on, so that "not otherwise" tests switch one off against a
// noisy background.
func allFaults(nodes int) NetworkOptions {
	return NetworkOptions{
		NodeCount: nodes, OneWayDelayMin: Millisecond, OneWayDelayMean: 3 * Millisecond,
		PacketLossProbability: 0.1, PacketReplayProbability: 0.1,
		PacketReorderProbability: 0.1, PacketCorruptionProbability: 0.1,
		PathMaximumCapacity: 1000, PathClogProbability: 0.02,
		PathClogDurationMean: 20 * Millisecond,
		PartitionMode:        PartitionUniformSize, PartitionSymmetry: PartitionAsymmetric,
		PartitionProbability: 0.05, UnpartitionProbability: 0.2,
		PartitionStabilityMin: 30 * Millisecond, UnpartitionStabilityMin: 30 * Millisecond,
	}
}

func TestNetworkNoFaultsDeliversEachPacketOnceIntact(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		opts := NetworkOptions{
			NodeCount:           rapid.IntRange(1, 7).Draw(t, "nodes"),
			OneWayDelayMin:      Duration(rapid.Int64Range(0, int64(5*Millisecond)).Draw(t, "min")),
			OneWayDelayMean:     Duration(rapid.Int64Range(0, int64(20*Millisecond)).Draw(t, "mean")),
			PathMaximumCapacity: 1000,
		}
		r := newNetRig(t, rapid.Uint64().Draw(t, "seed"), opts)
		require.Zero(t, r.loop.Pending(), "no fault tick without path faults")
		sends := rapid.IntRange(0, 150).Draw(t, "sends")
		for range sends {
			at := Time(rapid.Int64Range(0, int64(50*Millisecond)).Draw(t, "at"))
			from := rapid.IntRange(0, opts.NodeCount-1).Draw(t, "from")
			to := rapid.IntRange(0, opts.NodeCount-1).Draw(t, "to")
			r.loop.At(at, func() { r.send(from, to) })
		}
		r.drain(t)
		require.Len(t, r.got, sends)
		for _, g := range r.got {
			s := r.sent[g.id]
			require.Equal(t, 1, r.count[g.id], "packet %d delivered once", g.id)
			require.Equal(t, s.msg, g.msg, "packet %d intact", g.id)
			require.Equal(t, [2]int{s.from, s.to}, [2]int{g.from, g.to})
			require.GreaterOrEqual(t, g.at-s.at, Time(opts.OneWayDelayMin))
		}
		n := uint64(sends)
		require.Equal(t, NetworkStats{Sent: n, Delivered: n}, r.net.Stats())
		require.Zero(t, r.net.InFlight())
	})
}

func TestNetworkLossRate(t *testing.T) {
	opts := NetworkOptions{NodeCount: 3, OneWayDelayMean: Millisecond,
		PacketLossProbability: 0.3, PathMaximumCapacity: 1000}
	r := newNetRig(t, 1, opts)
	r.sendSpread(1, 20_000, 10*Microsecond)
	r.drain(t)
	s := r.net.Stats()
	requireRate(t, "lost", s.Lost, s.Sent, 0.3, 0.02)
	require.Equal(t, s.Sent, s.Delivered+s.Lost)
	require.Equal(t, NetworkStats{Sent: s.Sent, Delivered: s.Delivered, Lost: s.Lost}, s)
	for _, g := range r.got {
		require.Equal(t, r.sent[g.id].msg, g.msg)
	}
}

// TestNetworkLoopbackHasNoFaults: a node's packets to itself only see the delay, whatever the
// fault options, and survive an isolation of the node.
func TestNetworkLoopbackHasNoFaults(t *testing.T) {
	opts := allFaults(3)
	opts.PacketLossProbability, opts.PacketCorruptionProbability = 0.9, 0.9
	r := newNetRig(t, 2, opts)
	r.net.Isolate(1)
	for i := range 2000 {
		r.loop.At(Time(i)*Time(Microsecond), func() { r.send(i%3, i%3) })
	}
	r.loop.RunUntil(Time(Second))
	require.Len(t, r.got, 2000)
	for _, g := range r.got {
		require.Equal(t, 1, r.count[g.id])
		require.Equal(t, r.sent[g.id].msg, g.msg)
		require.GreaterOrEqual(t, g.at-r.sent[g.id].at, Time(opts.OneWayDelayMin))
	}
}

func TestNetworkReplay(t *testing.T) {
	t.Run("at_rate", func(t *testing.T) {
		opts := NetworkOptions{NodeCount: 4, OneWayDelayMean: Millisecond,
			PacketReplayProbability: 0.2, PathMaximumCapacity: 1000}
		r := newNetRig(t, 3, opts)
		r.sendSpread(3, 20_000, 10*Microsecond)
		r.drain(t)
		s := r.net.Stats()
		// Duplicates are replayed in turn: p + p^2 + ... = p/(1-p) per packet.
		requireRate(t, "replayed", s.Replayed, s.Sent, 0.25, 0.02)
		require.Equal(t, s.Sent+s.Replayed, s.Delivered)
		first := make([]Time, len(r.sent))
		for _, g := range r.got {
			require.Equal(t, r.sent[g.id].msg, g.msg)
			require.Equal(t, [2]int{r.sent[g.id].from, r.sent[g.id].to}, [2]int{g.from, g.to})
			if first[g.id] == 0 {
				first[g.id] = g.at
			} else {
				require.Greater(t, g.at, first[g.id], "a duplicate arrives later")
			}
		}
	})
	t.Run("only_when_enabled", func(t *testing.T) {
		opts := allFaults(4)
		opts.PacketReplayProbability = 0
		r := newNetRig(t, 4, opts)
		r.sendSpread(4, 5000, 100*Microsecond)
		r.loop.RunUntil(Time(2 * Second))
		require.Zero(t, r.net.Stats().Replayed)
		for id, c := range r.count {
			require.LessOrEqual(t, c, 1, "packet %d duplicated", id)
		}
	})
}

func TestNetworkCorruption(t *testing.T) {
	t.Run("one_bit_at_rate", func(t *testing.T) {
		opts := NetworkOptions{NodeCount: 3, OneWayDelayMean: Millisecond,
			PacketCorruptionProbability: 0.1, PathMaximumCapacity: 1000}
		r := newNetRig(t, 5, opts)
		r.sendSpread(5, 20_000, 10*Microsecond)
		r.drain(t)
		corrupted := uint64(0)
		for _, g := range r.got {
			d := hamming(r.sent[g.id].msg, g.msg)
			require.LessOrEqual(t, d, 1, "packet %d: more than one bit flipped", g.id)
			corrupted += uint64(d)
		}
		s := r.net.Stats()
		require.Equal(t, s.Corrupted, corrupted)
		require.Equal(t, s.Sent, s.Delivered)
		requireRate(t, "corrupted", s.Corrupted, s.Delivered, 0.1, 0.015)
		r.requireSentIntact(t)
	})
	t.Run("only_when_enabled", func(t *testing.T) {
		opts := allFaults(4)
		opts.PacketCorruptionProbability = 0
		r := newNetRig(t, 6, opts)
		r.sendSpread(6, 5000, 100*Microsecond)
		r.loop.RunUntil(Time(2 * Second))
		require.NotEmpty(t, r.got)
		require.Zero(t, r.net.Stats().Corrupted)
		for _, g := range r.got {
			require.Equal(t, r.sent[g.id].msg, g.msg)
		}
	})
	t.Run("empty_message_is_never_corrupted", func(t *testing.T) {
		opts := NetworkOptions{NodeCount: 2, PacketCorruptionProbability: 1}
		r := newNetRig(t, 7, opts)
		var got [][]byte
		r.net.SetDeliver(func(from, to int, msg []byte) { got = append(got, msg) })
		r.net.Send(0, 1, nil)
		r.drain(t)
		require.Len(t, got, 1)
		require.Empty(t, got[0])
		require.Zero(t, r.net.Stats().Corrupted)
	})
}

// TestNetworkReorder uses a constant delay, so that a packet arrives out of order only if the
// reorder fault delayed it.
func TestNetworkReorder(t *testing.T) {
	run := func(p float64) (*netRig, []Duration) {
		opts := NetworkOptions{NodeCount: 2, OneWayDelayMin: Millisecond,
			PacketReorderProbability: p, PathMaximumCapacity: 1000}
		r := newNetRig(t, 8, opts)
		for i := range 5000 {
			r.loop.At(Time(i)*Time(100*Microsecond), func() { r.send(0, 1) })
		}
		r.drain(t)
		delays := make([]Duration, len(r.sent))
		for _, g := range r.got {
			delays[g.id] = Duration(g.at - r.sent[g.id].at)
		}
		return r, delays
	}
	t.Run("fifo_when_disabled", func(t *testing.T) {
		r, delays := run(0)
		for i, g := range r.got {
			require.Equal(t, i, g.id)
			require.Equal(t, Millisecond, delays[i])
		}
		require.Zero(t, r.net.Stats().Reordered)
	})
	t.Run("at_rate", func(t *testing.T) {
		r, delays := run(0.2)
		s := r.net.Stats()
		requireRate(t, "reordered", s.Reordered, s.Sent, 0.2, 0.02)
		late, inversions := uint64(0), 0
		for i, d := range delays {
			require.GreaterOrEqual(t, d, Millisecond)
			require.LessOrEqual(t, d, 5*Millisecond)
			if d > Millisecond {
				late++
			}
			if i > 0 && r.got[i].id < r.got[i-1].id {
				inversions++
			}
		}
		require.Equal(t, s.Reordered, late)
		require.Greater(t, inversions, 100)
	})
}

func TestNetworkMeanDelay(t *testing.T) {
	for _, tc := range []struct {
		name      string
		min, mean Duration
	}{
		{"exponential", 0, 5 * Millisecond},
		{"with_minimum", 2 * Millisecond, 5 * Millisecond},
		{"minimum_only", 3 * Millisecond, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := NetworkOptions{NodeCount: 3, OneWayDelayMin: tc.min,
				OneWayDelayMean: tc.mean, PathMaximumCapacity: 1000}
			r := newNetRig(t, 9, opts)
			r.sendSpread(9, 20_000, 10*Microsecond)
			r.drain(t)
			total := 0.0
			for _, g := range r.got {
				d := g.at - r.sent[g.id].at
				require.GreaterOrEqual(t, d, Time(tc.min))
				total += float64(d)
			}
			// E[max(m, X)] for X ~ Exp(mean) is m + mean*e^(-m/mean).
			want := float64(tc.min)
			if tc.mean > 0 {
				want += float64(tc.mean) * math.Exp(-float64(tc.min)/float64(tc.mean))
			}
			require.InEpsilon(t, want, total/float64(len(r.got)), 0.03)
		})
	}
}

func TestNetworkSetDelay(t *testing.T) {
	r := newNetRig(t, 10, NetworkOptions{NodeCount: 2, OneWayDelayMin: Millisecond})
	r.send(0, 1)
	r.drain(t)
	r.net.SetDelay(150*Millisecond, 0)
	r.send(1, 0)
	r.drain(t)
	require.Equal(t, Time(Millisecond), r.got[0].at)
	require.Equal(t, Time(Millisecond+150*Millisecond), r.got[1].at)
}

func TestNetworkPartitionDropsInFlight(t *testing.T) {
	r := newNetRig(t, 11, NetworkOptions{NodeCount: 3, OneWayDelayMin: 10 * Millisecond})
	r.send(0, 1) // in flight when the cut starts: dropped at delivery
	r.send(1, 0) // the other direction is not cut
	r.loop.RunUntil(Time(5 * Millisecond))
	r.net.Cut(0, 1)
	r.send(0, 1) // dropped at send
	r.send(0, 2)
	r.drain(t)
	require.Equal(t, []int{0, 1, 0, 1}, r.count) // 1->0 and 0->2 arrive
	require.Equal(t, uint64(2), r.net.Stats().DroppedPartition)

	r.net.Heal()
	id := r.send(0, 1)
	r.drain(t)
	require.Equal(t, 1, r.count[id])

	// A cut that starts and heals while a packet is in flight does not touch it: the check
	// is at send and at delivery.
	id = r.send(0, 1)
	r.loop.RunUntil(r.loop.Now() + Time(Millisecond))
	r.net.Isolate(0)
	r.loop.RunUntil(r.loop.Now() + Time(Millisecond))
	r.net.Heal()
	r.drain(t)
	require.Equal(t, 1, r.count[id])
	require.Equal(t, uint64(2), r.net.Stats().DroppedPartition)
}

// IsolateBehind lets the packets already in flight on the node's paths arrive and drops
// every later one, both ways; a cut made afterwards by any other means drops them again.
func TestNetworkIsolateBehindSparesInFlight(t *testing.T) {
	r := newNetRig(t, 12, NetworkOptions{NodeCount: 3, OneWayDelayMin: 10 * Millisecond})
	out, in := r.send(0, 1), r.send(2, 0)
	r.loop.RunUntil(Time(5 * Millisecond))
	r.net.IsolateBehind(0)
	late := r.send(0, 2)
	r.drain(t)
	require.Equal(t, 1, r.count[out])
	require.Equal(t, 1, r.count[in])
	require.Equal(t, 0, r.count[late])
	require.Equal(t, uint64(1), r.net.Stats().DroppedPartition)

	r.net.Heal()
	id := r.send(0, 1)
	r.loop.RunUntil(r.loop.Now() + Time(Millisecond))
	r.net.IsolateBehind(0)
	r.net.Cut(0, 1) // a cut in front of the packet: it is lost after all
	r.drain(t)
	require.Equal(t, 0, r.count[id])
}

func TestNetworkIsolateSplitCutHeal(t *testing.T) {
	const nodes = 5
	split := []bool{true, false, true, false, false}
	for _, tc := range []struct {
		name  string
		apply func(n *Network)
		cut   func(from, to int) bool
	}{
		{"isolate", func(n *Network) { n.Isolate(2) },
			func(from, to int) bool { return from != to && (from == 2 || to == 2) }},
		{"split", func(n *Network) { n.SplitInTwo(split) },
			func(from, to int) bool { return split[from] != split[to] }},
		{"cut_is_asymmetric", func(n *Network) { n.Cut(1, 3) },
			func(from, to int) bool { return from == 1 && to == 3 }},
		{"layers_add_up", func(n *Network) { n.Isolate(0); n.Cut(3, 4) },
			func(from, to int) bool {
				return from != to && (from == 0 || to == 0) || from == 3 && to == 4
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newNetRig(t, 12, NetworkOptions{NodeCount: nodes})
			tc.apply(r.net)
			for from := range nodes {
				for to := range nodes {
					require.Equal(t, !tc.cut(from, to), r.net.Connected(from, to),
						"%d->%d", from, to)
					r.send(from, to)
				}
			}
			r.drain(t)
			for _, s := range r.got {
				require.False(t, tc.cut(s.from, s.to), "delivered on a cut path")
			}
			require.Len(t, r.got, int(r.net.Stats().Sent-r.net.Stats().DroppedPartition))
			require.NotZero(t, r.net.Stats().Partitions)
			r.net.Heal()
			for from := range nodes {
				for to := range nodes {
					require.True(t, r.net.Connected(from, to))
				}
			}
		})
	}
}

// TestNetworkCapacity checks, before and after every operation, that no path holds more
// than its capacity and that a send evicts a packet exactly when its path was full.
func TestNetworkCapacity(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		opts := NetworkOptions{
			NodeCount:           rapid.IntRange(2, 3).Draw(t, "nodes"),
			OneWayDelayMean:     Duration(rapid.Int64Range(0, int64(10*Millisecond)).Draw(t, "mean")),
			PathMaximumCapacity: rapid.IntRange(1, 6).Draw(t, "capacity"),
		}
		r := newNetRig(t, rapid.Uint64().Draw(t, "seed"), opts)
		for range rapid.IntRange(0, 200).Draw(t, "ops") {
			from := rapid.IntRange(0, opts.NodeCount-1).Draw(t, "from")
			to := rapid.IntRange(0, opts.NodeCount-1).Draw(t, "to")
			if rapid.Bool().Draw(t, "step") {
				r.loop.Step()
				continue
			}
			p := &r.net.paths[r.net.pathIndex(from, to)]
			full := len(p.queue) == opts.PathMaximumCapacity
			before := r.net.Stats().DroppedCapacity
			r.send(from, to)
			require.Equal(t, full, r.net.Stats().DroppedCapacity == before+1)
			for i := range r.net.paths {
				require.LessOrEqual(t, len(r.net.paths[i].queue), opts.PathMaximumCapacity)
			}
		}
		r.drain(t)
		s := r.net.Stats()
		require.Equal(t, s.Sent, s.Delivered+s.DroppedCapacity)
	})
}

func TestNetworkCapacityDefault(t *testing.T) {
	r := newNetRig(t, 13, NetworkOptions{NodeCount: 2, OneWayDelayMin: Second})
	for range 100 {
		r.send(0, 1)
	}
	require.Equal(t, DefaultPathMaximumCapacity, r.net.InFlight())
	require.Equal(t, uint64(100-DefaultPathMaximumCapacity), r.net.Stats().DroppedCapacity)
}

func TestNetworkClogHoldsThenReleases(t *testing.T) {
	r := newNetRig(t, 14, NetworkOptions{NodeCount: 2, OneWayDelayMin: Millisecond})
	r.net.Clog(0, 1, 50*Millisecond)
	require.True(t, r.net.Clogged(0, 1))
	require.True(t, r.net.Connected(0, 1), "a clog holds, it does not cut")
	for i := range 10 {
		r.loop.At(Time(i)*Time(Millisecond), func() { r.send(0, 1) })
	}
	r.loop.At(0, func() { r.send(1, 0) })
	r.loop.At(Time(49500*Microsecond), func() { r.send(0, 1) }) // ready after the clog ends
	r.loop.RunUntil(Time(50*Millisecond - 1))
	require.Len(t, r.got, 1, "only the other direction got through")
	require.Equal(t, 1, r.got[0].from)

	r.drain(t)
	require.Len(t, r.got, 12)
	held := r.got[1:11]
	for i, g := range held {
		require.Equal(t, 0, g.from)
		require.True(t, i == 0 || held[i-1].id < g.id, "held packets keep their order")
		require.Equal(t, Time(50*Millisecond), g.at)
	}
	require.Equal(t, Time(50500*Microsecond), r.got[11].at)

	// Unclog ends a clog early.
	r.net.Clog(0, 1, Second)
	id := r.send(0, 1)
	r.loop.RunUntil(r.loop.Now() + Time(5*Millisecond))
	r.net.Unclog(0, 1)
	require.False(t, r.net.Clogged(0, 1))
	at := r.loop.Now()
	r.drain(t)
	require.Equal(t, 1, r.count[id])
	require.Equal(t, at, r.got[len(r.got)-1].at)
	s := r.net.Stats()
	require.Equal(t, uint64(2), s.Clogs)
	require.Equal(t, s.Sent, s.Delivered)
}

// TestNetworkRandomClogs: random clogs hold packets (delays far above the constant delay) and
// never lose one; without the fault, every delay is exactly the constant.
func TestNetworkRandomClogs(t *testing.T) {
	run := func(p float64) (*netRig, Duration) {
		opts := NetworkOptions{NodeCount: 4, OneWayDelayMin: Millisecond,
			PathMaximumCapacity: 1000, PathClogProbability: p,
			PathClogDurationMean: 30 * Millisecond}
		r := newNetRig(t, 15, opts)
		r.sendSpread(15, 10_000, Millisecond)
		r.loop.RunUntil(Time(10 * Second))
		r.net.SetFaultsEnabled(false)
		r.drain(t)
		longest := Duration(0)
		for _, g := range r.got {
			longest = max(longest, Duration(g.at-r.sent[g.id].at))
		}
		return r, longest
	}
	r, longest := run(0.01)
	s := r.net.Stats()
	// 12 paths x 1000 ticks x 1%, on the paths not already clogged.
	require.Greater(t, s.Clogs, uint64(40))
	require.Less(t, s.Clogs, uint64(130))
	require.Greater(t, longest, 20*Millisecond)
	require.Equal(t, NetworkStats{Sent: 10_000, Delivered: 10_000, Clogs: s.Clogs}, s)

	r, longest = run(0)
	require.Zero(t, r.net.Stats().Clogs)
	require.Equal(t, Millisecond, longest)
}

// sidesOf reads the two sides of a partition from Connected: the side of the first
// partitionable node is every node it can talk to in at least one direction... which in a
// symmetric partition is exactly its side.
func sidesOf(n *Network, nodes []int) []bool {
	side := make([]bool, n.opts.NodeCount)
	for _, j := range nodes {
		side[j] = n.Connected(nodes[0], j) && n.Connected(j, nodes[0])
	}
	return side
}

func TestNetworkRandomPartitionShapes(t *testing.T) {
	const nodes, exempt, draws = 6, 5, 3000
	eligible := []int{0, 1, 2, 3, 4}
	for _, mode := range []PartitionMode{PartitionUniformSize, PartitionUniformPartition,
		PartitionIsolateSingle} {
		t.Run(mode.String(), func(t *testing.T) {
			opts := NetworkOptions{NodeCount: nodes, PartitionMode: mode,
				PartitionExempt: []bool{false, false, false, false, false, true}}
			r := newNetRig(t, 16, opts)
			sizes := make([]int, len(eligible)+1) // by the size of autoSide's true side
			isolated := make([]int, nodes)
			for range draws {
				r.net.autoPartition()
				side := sidesOf(r.net, eligible)
				size := 0
				for _, i := range eligible {
					for _, j := range eligible {
						require.Equal(t, side[i] == side[j], r.net.Connected(i, j))
					}
					require.True(t, r.net.Connected(i, exempt) && r.net.Connected(exempt, i))
					if r.net.autoSide[i] {
						size++
						isolated[i]++
					}
				}
				sizes[size]++
				r.net.autoUnpartition()
			}
			require.Zero(t, sizes[0]+sizes[len(eligible)], "a side is never empty")
			checkPartitionSizes(t, mode, sizes, isolated, draws)
		})
	}
}

func checkPartitionSizes(t *testing.T, mode PartitionMode, sizes, isolated []int, draws int) {
	t.Helper()
	switch mode {
	case PartitionUniformSize:
		for s := 1; s <= 4; s++ {
			require.InDelta(t, draws/4, sizes[s], float64(draws)/16, "size %d", s)
		}
	case PartitionUniformPartition:
		// Coins: P(size 1 or 4) = 6/32 each, P(size 2 or 3) = 10/32 each.
		require.InDelta(t, draws*6/32, sizes[1], float64(draws)/25)
		require.InDelta(t, draws*10/32, sizes[2], float64(draws)/25)
	case PartitionIsolateSingle:
		require.Equal(t, draws, sizes[1])
		for i := range 5 {
			require.InDelta(t, draws/5, isolated[i], float64(draws)/20, "node %d", i)
		}
	}
}

func TestNetworkRandomPartitionAsymmetric(t *testing.T) {
	opts := NetworkOptions{NodeCount: 5, PartitionMode: PartitionUniformPartition,
		PartitionSymmetry: PartitionAsymmetric}
	r := newNetRig(t, 17, opts)
	directions := [2]int{}
	for range 500 {
		r.net.autoPartition()
		side := r.net.autoSide
		open := -1 // which side still reaches the other: 1 if the true side
		for i := range 5 {
			for j := range 5 {
				if side[i] == side[j] {
					require.True(t, r.net.Connected(i, j))
					continue
				}
				require.NotEqual(t, r.net.Connected(i, j), r.net.Connected(j, i),
					"exactly one direction cut between %d and %d", i, j)
				if r.net.Connected(i, j) {
					o := map[bool]int{false: 0, true: 1}[side[i]]
					require.True(t, open == -1 || open == o, "one side is open")
					open = o
				}
			}
		}
		directions[open]++
		r.net.autoUnpartition()
	}
	require.Greater(t, directions[0], 150)
	require.Greater(t, directions[1], 150)
}

// netFaultRecords returns the times of the kept "net" records whose text starts with prefix.
func netFaultRecords(tr *Trace, prefix string) []Time {
	var at []Time
	for _, rec := range tr.Kept {
		if rec.Kind == "network" && len(rec.Text) >= len(prefix) && rec.Text[:len(prefix)] == prefix {
			at = append(at, rec.At)
		}
	}
	return at
}

func TestNetworkRandomPartitionsRespectStability(t *testing.T) {
	opts := NetworkOptions{NodeCount: 5, PartitionMode: PartitionUniformSize,
		PartitionProbability: 0.2, UnpartitionProbability: 0.2,
		PartitionStabilityMin: 100 * Millisecond, UnpartitionStabilityMin: 50 * Millisecond}
	r := newNetRig(t, 18, opts)
	r.trace.KeepMax = 100_000
	r.loop.RunUntil(Time(20 * Second))
	starts := netFaultRecords(r.trace, "partition ")
	ends := netFaultRecords(r.trace, "unpartition")
	require.Greater(t, len(starts), 30)
	require.Equal(t, uint64(len(starts)), r.net.Stats().Partitions)
	require.GreaterOrEqual(t, starts[0], Time(opts.UnpartitionStabilityMin))
	for i, end := range ends {
		require.GreaterOrEqual(t, end-starts[i], Time(opts.PartitionStabilityMin))
		if i+1 < len(starts) {
			require.GreaterOrEqual(t, starts[i+1]-end, Time(opts.UnpartitionStabilityMin))
		}
	}
}

func TestNetworkNoFaultTickWithoutPathFaults(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts NetworkOptions
		want int
	}{
		{"none", NetworkOptions{NodeCount: 3, PacketLossProbability: 0.5}, 0},
		{"mode_without_probability", NetworkOptions{NodeCount: 3,
			PartitionMode: PartitionIsolateSingle, UnpartitionProbability: 1}, 0},
		{"probability_without_mode", NetworkOptions{NodeCount: 3, PartitionProbability: 1}, 0},
		{"partitions", NetworkOptions{NodeCount: 3, PartitionMode: PartitionIsolateSingle,
			PartitionProbability: 0.1}, 1},
		{"clogs", NetworkOptions{NodeCount: 3, PathClogProbability: 0.1,
			PathClogDurationMean: Millisecond}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newNetRig(t, 19, tc.opts)
			require.Equal(t, tc.want, r.loop.Pending())
			if tc.want == 0 {
				r.loop.RunUntil(Time(Second))
				require.Zero(t, r.loop.Steps())
				require.Zero(t, r.net.Stats().Partitions+r.net.Stats().Clogs)
			}
		})
	}
}

// TestNetworkFaultsDisabled: with every fault at a high rate, SetFaultsEnabled(false) stops
// all random decisions and lifts the random partition and clogs, while an explicit cut stays
// until Heal.
func TestNetworkFaultsDisabled(t *testing.T) {
	opts := allFaults(4)
	opts.PacketLossProbability, opts.PacketReplayProbability = 0.5, 0.5
	opts.PathClogProbability, opts.PartitionProbability = 0.5, 0.5
	r := newNetRig(t, 20, opts)
	r.sendSpread(20, 2000, 500*Microsecond)
	r.loop.RunUntil(Time(Second))
	before := r.net.Stats()
	require.NotZero(t, before.Lost*before.Replayed*before.Corrupted*before.Reordered*
		before.Clogs*before.Partitions, "%+v", before)

	r.net.Cut(0, 1)
	r.net.SetFaultsEnabled(false)
	r.drain(t) // terminates: no fault tick is rescheduled
	firstID := len(r.sent)
	r.got = r.got[:0]
	for from := range 4 {
		for to := range 4 {
			for range 50 {
				r.send(from, to)
			}
		}
	}
	r.drain(t)
	after := r.net.Stats()
	require.Equal(t, before.Lost, after.Lost)
	require.Equal(t, before.Replayed, after.Replayed)
	require.Equal(t, before.Corrupted, after.Corrupted)
	require.Equal(t, before.Reordered, after.Reordered)
	require.Equal(t, before.Partitions+1, after.Partitions, "only the explicit cut")
	require.Len(t, r.got, 15*50, "all but 0->1")
	for _, g := range r.got {
		require.GreaterOrEqual(t, g.id, firstID)
		require.Equal(t, 1, r.count[g.id])
		require.Equal(t, r.sent[g.id].msg, g.msg)
	}
	r.net.Heal()
	id := r.send(0, 1)
	r.drain(t)
	require.Equal(t, 1, r.count[id])
}

// netRunHash runs a busy faulty network and returns its trace hash and stats.
func netRunHash(t *testing.T, seed uint64) (uint64, NetworkStats) {
	r := newNetRig(t, seed, allFaults(5))
	r.sendSpread(seed, 3000, 300*Microsecond)
	r.loop.RunUntil(Time(2 * Second))
	return r.trace.Hash(), r.net.Stats()
}

func TestNetworkDeterminism(t *testing.T) {
	h1, s1 := netRunHash(t, 21)
	h2, s2 := netRunHash(t, 21)
	h3, _ := netRunHash(t, 22)
	require.Equal(t, h1, h2)
	require.Equal(t, s1, s2)
	require.NotEqual(t, h1, h3)
}

// TestNetworkTraceCoversContent: two runs that differ only in one byte of one message end
// with different fingerprints.
func TestNetworkTraceCoversContent(t *testing.T) {
	hash := func(b byte) uint64 {
		r := newNetRig(t, 23, NetworkOptions{NodeCount: 2})
		r.net.SetDeliver(func(from, to int, msg []byte) {})
		r.net.Send(0, 1, []byte{1, 2, b})
		r.drain(t)
		return r.trace.Hash()
	}
	require.NotEqual(t, hash(3), hash(4))
}

func TestNetworkOptionsValidate(t *testing.T) {
	ok := NetworkOptions{NodeCount: 3}
	require.NoError(t, ok.Validate())
	for _, tc := range []struct {
		name   string
		modify func(o *NetworkOptions)
		want   string
	}{
		{"no_nodes", func(o *NetworkOptions) { o.NodeCount = 0 }, "NodeCount"},
		{"too_many_nodes", func(o *NetworkOptions) { o.NodeCount = NetworkNodeCountMax + 1 },
			"NodeCount"},
		{"probability", func(o *NetworkOptions) { o.PacketLossProbability = 1.5 }, "PacketLoss"},
		{"nan", func(o *NetworkOptions) { o.PartitionProbability = math.NaN() }, "PartitionProb"},
		{"negative_delay", func(o *NetworkOptions) { o.OneWayDelayMean = -1 }, "OneWayDelayMean"},
		{"capacity", func(o *NetworkOptions) { o.PathMaximumCapacity = -1 }, "PathMaximumCapacity"},
		{"clog_mean", func(o *NetworkOptions) { o.PathClogProbability = 0.1 }, "PathClogDurationMean"},
		{"mode", func(o *NetworkOptions) { o.PartitionMode = 9 }, "PartitionMode(9)"},
		{"symmetry", func(o *NetworkOptions) { o.PartitionSymmetry = -1 }, "PartitionSymmetry"},
		{"exempt", func(o *NetworkOptions) { o.PartitionExempt = []bool{true} }, "PartitionExempt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := ok
			tc.modify(&o)
			require.ErrorContains(t, o.Validate(), tc.want)
		})
	}
	r := newNetRig(t, 24, ok)
	require.ErrorContains(t, r.net.SetOptions(NetworkOptions{NodeCount: 4}), "cannot change")
	require.NoError(t, r.net.SetOptions(NetworkOptions{NodeCount: 3, PathClogProbability: 1,
		PathClogDurationMean: Millisecond}))
	require.Equal(t, 1, r.loop.Pending(), "new path faults start the fault tick")
}

// BenchmarkNetwork runs a busy 6-node all-to-all network with every fault on: each node sends
// a 128-byte packet to every peer each millisecond.
func BenchmarkNetwork(b *testing.B) {
	opts := allFaults(6)
	opts.OneWayDelayMin, opts.OneWayDelayMean = 200*Microsecond, Millisecond
	opts.PacketLossProbability, opts.PacketReplayProbability = 0.01, 0.01
	opts.PacketReorderProbability, opts.PacketCorruptionProbability = 0.01, 0.01
	opts.PathMaximumCapacity = 64
	r := newNetRig(b, 25, opts)
	r.net.SetDeliver(func(from, to int, msg []byte) {})
	msg := make([]byte, 128)
	var pump func()
	pump = func() {
		for from := range 6 {
			for to := range 6 {
				if from != to {
					r.net.Send(from, to, msg)
				}
			}
		}
		r.loop.After(Millisecond, pump)
	}
	r.loop.At(0, pump)
	b.ReportAllocs()
	b.ResetTimer()
	start, simStart := r.loop.Steps(), r.loop.Now()
	for b.Loop() {
		r.loop.Step()
	}
	wall := b.Elapsed().Seconds()
	b.ReportMetric(float64(r.loop.Steps()-start)/wall, "events/s")
	b.ReportMetric(float64(r.loop.Now()-simStart)/float64(Second)/wall, "sim-s/s")
}

// TestNetworkRecordsReadOrNot: the same faulty run, once logged in full and once not, has
// the same fingerprint, and its packet records read as "verb from->to #seq len=N" and what
// the verb adds.
func TestNetworkRecordsReadOrNot(t *testing.T) {
	opts := NetworkOptions{NodeCount: 3, PacketLossProbability: 0.1, PacketReorderProbability: 0.2,
		PacketReplayProbability: 0.1, PacketCorruptionProbability: 0.1, PathMaximumCapacity: 4}
	run := func(full bool) (uint64, string) {
		r := newNetRig(t, 31, opts)
		var out bytes.Buffer
		if full {
			r.trace.Out, r.trace.Level = &out, LevelFull
		}
		r.sendSpread(31, 400, 100*Microsecond)
		r.loop.RunUntil(Time(Second))
		return r.trace.Hash(), out.String()
	}
	quiet, _ := run(false)
	loud, text := run(true)
	require.Equal(t, quiet, loud)
	for _, want := range []string{" send 0->", " recv ", " d=", " reorder", " drop ", " corrupt bit=", " replay ", " as #", " len="} {
		require.Contains(t, text, want)
	}
}
