package sim

import (
	"bytes"
	"container/heap"
	"fmt"
	"math/rand/v2"
	"strconv"

	"github.com/zeebo/xxh3"

	"vopr/internal/assert"
)

// The simulated network, after TigerBeetle's packet_simulator.
//
// Every ordered pair of nodes (from, to) is a directed path with its own queue of packets in
// flight, ordered by the time each packet is ready (ties broken by a network-wide sequence
// number, so the order never depends on anything but the seed). A packet's delay is
// max(OneWayDelayMin, Exp(OneWayDelayMean)); per-packet faults (loss, replay, reordering,
// corruption) are drawn from the network's own PRNG stream as the packet is sent or
// delivered, and path faults (clogs, random partitions) are drawn on a fault tick. Explicit
// faults (Isolate, SplitInTwo, Cut, Clog) serve scenarios and the nemesis.
//
// The loopback path (a node sending to itself) models an in-memory hand-off: it has the
// configured delay and the capacity bound, but no loss, replay, reordering, corruption,
// clogging or partition.
//
// Every send, delivery and drop is a LevelFull trace record whose running hash also folds
// the packet's content hash, so the determinism fingerprint covers the bytes on the wire.
// Faults are LevelShort records.

// PartitionMode says how random partitions split the nodes (TigerBeetle's partition_mode).
// There are always exactly two sides, each with at least one node.
type PartitionMode int

const (
	// PartitionNone disables random partitions.
	PartitionNone PartitionMode = iota
	// PartitionUniformSize draws the size of one side uniformly from 1..m-1 (m partitionable
	// nodes) and assigns nodes to it at random.
	PartitionUniformSize
	// PartitionUniformPartition assigns each node to a side by a fair coin, which biases
	// towards sides of equal size.
	PartitionUniformPartition
	// PartitionIsolateSingle puts exactly one node on its own.
	PartitionIsolateSingle
	partitionModeCount
)

var partitionModeNames = [...]string{"none", "uniform_size", "uniform_partition", "isolate_single"}

func (m PartitionMode) String() string {
	if m < 0 || m >= partitionModeCount {
		return "PartitionMode(" + strconv.Itoa(int(m)) + ")"
	}
	return partitionModeNames[m]
}

// PartitionSymmetry says whether a random partition cuts both directions between the sides.
type PartitionSymmetry int

const (
	// PartitionSymmetric cuts every path between the two sides.
	PartitionSymmetric PartitionSymmetry = iota
	// PartitionAsymmetric cuts only the paths from one side (chosen at random) to the other:
	// the other side still hears it, which is what makes asymmetric partitions nasty.
	PartitionAsymmetric
	partitionSymmetryCount
)

func (s PartitionSymmetry) String() string {
	switch s {
	case PartitionSymmetric:
		return "symmetric"
	case PartitionAsymmetric:
		return "asymmetric"
	}
	return "PartitionSymmetry(" + strconv.Itoa(int(s)) + ")"
}

// Defaults applied to zero fields of NetworkOptions, and the network's bounds.
const (
	DefaultFaultTickInterval   = 10 * Millisecond
	DefaultPathMaximumCapacity = 64
	// NetworkNodeCountMax bounds the node count: the network keeps NodeCount^2 paths.
	NetworkNodeCountMax = 256
)

// NetworkOptions are the knobs of the network, named noun-first like TigerBeetle's.
// Probabilities are in [0, 1]; durations are virtual time and must not be negative.
type NetworkOptions struct {
	// NodeCount is the number of nodes, 0..NodeCount-1: replicas and clients alike.
	NodeCount int

	// A packet's one-way delay is max(OneWayDelayMin, Exp(OneWayDelayMean)).
	OneWayDelayMin  Duration
	OneWayDelayMean Duration

	// PacketLossProbability: a sent packet is dropped.
	PacketLossProbability float64
	// PacketReplayProbability: a delivered packet is sent again on its path (a duplicate that
	// arrives later, with a fresh delay; the duplicate may itself be replayed).
	PacketReplayProbability float64
	// PacketReorderProbability: a sent packet gets an extra delay, uniform in
	// (0, 4*max(OneWayDelayMean, OneWayDelayMin, 1µs)], so later packets overtake it.
	PacketReorderProbability float64
	// PacketCorruptionProbability: one random bit of the delivered copy is flipped.
	PacketCorruptionProbability float64

	// PathMaximumCapacity bounds the packets in flight on each directed path; a packet sent
	// on a full path evicts a random queued packet. 0 means DefaultPathMaximumCapacity.
	PathMaximumCapacity int
	// PathClogProbability: per path, per fault tick, an unclogged path clogs for
	// max(1ns, Exp(PathClogDurationMean)); its packets are held, not lost.
	PathClogProbability  float64
	PathClogDurationMean Duration

	PartitionMode     PartitionMode
	PartitionSymmetry PartitionSymmetry
	// Per fault tick: the chance that a random partition starts (when none is active) or ends.
	PartitionProbability   float64
	UnpartitionProbability float64
	// A random partition lasts at least PartitionStabilityMin; the network stays whole at
	// least UnpartitionStabilityMin after one ends (and from the start of the run).
	PartitionStabilityMin   Duration
	UnpartitionStabilityMin Duration
	// PartitionExempt, when not nil, has NodeCount entries; exempt nodes (clients, say) are
	// never placed in a random partition and keep every path to and from them.
	PartitionExempt []bool

	// FaultTickInterval is how often clogs and partitions are drawn. 0 means
	// DefaultFaultTickInterval. No fault tick is scheduled while no path fault can happen.
	FaultTickInterval Duration
}

// Validate reports the first invalid field, so that bad input is a clear error rather than a
// silent default.
func (o NetworkOptions) Validate() error {
	if o.NodeCount < 1 || o.NodeCount > NetworkNodeCountMax {
		return fmt.Errorf("network: NodeCount %d: want 1..%d", o.NodeCount, NetworkNodeCountMax)
	}
	if err := CheckProbabilities("network",
		Probability{Name: "PacketLossProbability", Value: o.PacketLossProbability},
		Probability{Name: "PacketReplayProbability", Value: o.PacketReplayProbability},
		Probability{Name: "PacketReorderProbability", Value: o.PacketReorderProbability},
		Probability{Name: "PacketCorruptionProbability", Value: o.PacketCorruptionProbability},
		Probability{Name: "PathClogProbability", Value: o.PathClogProbability},
		Probability{Name: "PartitionProbability", Value: o.PartitionProbability},
		Probability{Name: "UnpartitionProbability", Value: o.UnpartitionProbability},
	); err != nil {
		return err
	}
	for _, d := range []struct {
		name  string
		value Duration
	}{
		{"OneWayDelayMin", o.OneWayDelayMin},
		{"OneWayDelayMean", o.OneWayDelayMean},
		{"PathClogDurationMean", o.PathClogDurationMean},
		{"PartitionStabilityMin", o.PartitionStabilityMin},
		{"UnpartitionStabilityMin", o.UnpartitionStabilityMin},
		{"FaultTickInterval", o.FaultTickInterval},
	} {
		if d.value < 0 {
			return fmt.Errorf("network: %s %d: must not be negative", d.name, int64(d.value))
		}
	}
	return o.validateShape()
}

func (o NetworkOptions) validateShape() error {
	switch {
	case o.PathMaximumCapacity < 0:
		return fmt.Errorf("network: PathMaximumCapacity %d: must not be negative",
			o.PathMaximumCapacity)
	case o.PathClogProbability > 0 && o.PathClogDurationMean <= 0:
		return fmt.Errorf("network: PathClogProbability %v needs a positive PathClogDurationMean",
			o.PathClogProbability)
	case o.PartitionMode < 0 || o.PartitionMode >= partitionModeCount:
		return fmt.Errorf("network: unknown %v", o.PartitionMode)
	case o.PartitionSymmetry < 0 || o.PartitionSymmetry >= partitionSymmetryCount:
		return fmt.Errorf("network: unknown %v", o.PartitionSymmetry)
	case o.PartitionExempt != nil && len(o.PartitionExempt) != o.NodeCount:
		return fmt.Errorf("network: PartitionExempt has %d entries, want NodeCount %d",
			len(o.PartitionExempt), o.NodeCount)
	}
	return nil
}

// withDefaults fills the documented defaults of zero fields and copies the slice field, so
// that the caller cannot change the network's options behind its back.
func (o NetworkOptions) withDefaults() NetworkOptions {
	if o.FaultTickInterval == 0 {
		o.FaultTickInterval = DefaultFaultTickInterval
	}
	if o.PathMaximumCapacity == 0 {
		o.PathMaximumCapacity = DefaultPathMaximumCapacity
	}
	if o.PartitionExempt != nil {
		o.PartitionExempt = append([]bool(nil), o.PartitionExempt...)
	}
	return o
}

// NetworkStats counts what the network did, for coverage reports and tests.
type NetworkStats struct {
	Sent             uint64 // Send calls
	Delivered        uint64 // deliver callbacks, duplicates and corrupted copies included
	Lost             uint64 // random packet loss
	DroppedPartition uint64 // dropped at send or delivery because the path was cut
	DroppedCapacity  uint64 // evicted from a full path
	Replayed         uint64 // duplicates put on a path
	Corrupted        uint64 // deliveries with one bit flipped
	Reordered        uint64 // packets given an extra reordering delay
	Clogs            uint64 // path clogs, random and explicit
	Partitions       uint64 // random partitions, Isolate, SplitInTwo and Cut calls
}

// Network is the simulated network. It is driven only by the event loop.
type Network struct {
	loop    *Loop
	rng     *rand.Rand
	trace   *Trace
	opts    NetworkOptions
	deliver func(from, to int, msg []byte)

	// faultsEnabled gates every random decision; explicit faults ignore it.
	faultsEnabled bool
	// paths[from*NodeCount+to].
	paths []path
	// seq numbers packets in the order they are put on a path.
	seq   uint64
	stats NetworkStats

	// Random partitions. The source of truth for connectivity is paths[*].autoCut; these
	// fields remember the partition for the trace and the stability rule.
	autoActive      bool
	autoSide        []bool // by node; meaningful only while autoActive
	autoNodes       []int  // the partitionable (not exempt) nodes, shuffled in place
	autoStableUntil Time   // no random partition change before this time

	faultTickScheduled bool
	faultTickFn        func()

	// text is scratch space for trace lines, reused so a packet record costs no allocation.
	text []byte
	// freePackets are packets that left the network, for reuse (Send allocates none).
	freePackets []*packet

	// Describe, if set, reads a packet for the trace ("prepare v3 op=17 commit=15 ..."); it
	// runs only when the packet's record is printed or tapped, and must not change anything.
	Describe func(msg []byte) string
}

// path is one directed path.
//
// Invariants:
//   - len(queue) <= opts.PathMaximumCapacity;
//   - every queued packet has its own wake event at its readyAt, or, if that event found the
//     path clogged, a wake scheduled by the release of the clog.
type path struct {
	from, to int
	queue    packetQueue
	cut      bool // explicit: Isolate, SplitInTwo, Cut
	autoCut  bool // random partition
	// sparedBelow: packets with a lower seq cross the explicit cut (IsolateBehind); 0 when
	// the cut drops everything in flight too, as every other cut does.
	sparedBelow uint64
	// clogUntil > now means the path is clogged. clogGen invalidates superseded clog ends.
	clogUntil  Time
	clogGen    uint64
	clogRandom bool
	wake       func() // delivers the head of the queue if it is ready; made once per path
}

func (p *path) connected() bool { return !p.cut && !p.autoCut }

// delivers reports whether a packet in flight on p gets through now: p is connected, or only
// an explicit cut that spares it (IsolateBehind) stands in its way.
func (p *path) delivers(pk *packet) bool {
	return p.connected() || !p.autoCut && pk.seq < p.sparedBelow
}

// cutAll cuts p explicitly, in flight included.
func (p *path) cutAll() { p.cut, p.sparedBelow = true, 0 }

type packet struct {
	readyAt Time
	seq     uint64
	data    []byte // owned by the packet; handed to the deliver callback
	hash    uint64 // content hash of data, folded into the trace
}

// NewNetwork returns a fully connected network with nothing in flight. rng must be the
// network's own stream (Stream(seed, "network")). Invalid options are a harness bug and
// fail-stop; callers that take options from users run Validate first.
func NewNetwork(loop *Loop, rng *rand.Rand, trace *Trace, opts NetworkOptions) *Network {
	assert.That(loop != nil, "network: nil loop")
	assert.That(rng != nil, "network: nil rng")
	assert.That(trace != nil, "network: nil trace")
	err := opts.Validate()
	assert.Thatf(err == nil, "%v", err)
	n := &Network{
		loop:            loop,
		rng:             rng,
		trace:           trace,
		opts:            opts.withDefaults(),
		faultsEnabled:   true,
		paths:           make([]path, opts.NodeCount*opts.NodeCount),
		autoSide:        make([]bool, opts.NodeCount),
		autoStableUntil: loop.Now() + Time(opts.UnpartitionStabilityMin),
	}
	for i := range n.paths {
		n.paths[i] = path{from: i / opts.NodeCount, to: i % opts.NodeCount}
		n.paths[i].wake = func() { n.wakePath(i) }
	}
	n.faultTickFn = n.faultTick
	n.resetAutoNodes()
	n.scheduleFaultTick()
	return n
}

// SetDeliver sets the callback that receives every delivered packet. The callback owns msg.
func (n *Network) SetDeliver(fn func(from, to int, msg []byte)) { n.deliver = fn }

// Options returns the options in force, with defaults filled in.
func (n *Network) Options() NetworkOptions { return n.opts.withDefaults() }

// Stats returns the counters so far.
func (n *Network) Stats() NetworkStats { return n.stats }

// InFlight returns the number of packets queued on all paths.
func (n *Network) InFlight() int {
	total := 0
	for i := range n.paths {
		total += len(n.paths[i].queue)
	}
	return total
}

// Connected reports whether packets on from->to currently get through: false while the path
// is cut by a partition. A clogged path is connected (it holds packets, it does not drop).
func (n *Network) Connected(from, to int) bool {
	return n.paths[n.pathIndex(from, to)].connected()
}

func (n *Network) pathIndex(from, to int) int {
	assert.That(from >= 0 && from < n.opts.NodeCount, "network: from out of range")
	assert.That(to >= 0 && to < n.opts.NodeCount, "network: to out of range")
	return from*n.opts.NodeCount + to
}

// faulty reports whether random packet faults apply to p: never on loopback, never while
// faults are switched off.
func (n *Network) faulty(p *path) bool { return n.faultsEnabled && p.from != p.to }

// Send puts msg on the path from->to. The partition check happens here and again at
// delivery, so a packet in flight when a partition starts is lost too.
//
// msg is read-only from then on, for the sender and for its receiver alike: the network keeps
// it, a broadcast hands the same bytes to every path, and delivery hands them on (a packet
// corrupted in flight is a copy). Every sender encodes a fresh message and never changes it
// (the replicas and clients keep theirs to send again); copying each packet was a tenth of
// the allocations of a saturated run.
func (n *Network) Send(from, to int, msg []byte) {
	pi := n.pathIndex(from, to)
	p := &n.paths[pi]
	n.stats.Sent++
	n.seq++
	pk := n.newPacket(n.seq, msg, contentHash(msg))
	if !p.connected() {
		n.stats.DroppedPartition++
		n.emitPacket(from, p, pk, packetRecord{verb: packetDrop, why: dropPartition})
		n.freePacket(pk)
		return
	}
	faulty := n.faulty(p)
	if faulty && Chance(n.rng, n.opts.PacketLossProbability) {
		n.stats.Lost++
		n.emitPacket(from, p, pk, packetRecord{verb: packetDrop, why: dropLoss})
		n.freePacket(pk)
		return
	}
	delay := ExpDuration(n.rng, n.opts.OneWayDelayMin, n.opts.OneWayDelayMean)
	reordered := faulty && Chance(n.rng, n.opts.PacketReorderProbability)
	if reordered {
		n.stats.Reordered++
		delay += n.reorderDelay()
	}
	n.emitPacket(from, p, pk, packetRecord{verb: packetSend, delay: delay, reorder: reordered})
	n.enqueue(p, pk, delay)
}

// reorderDelay is the extra delay of a reordered packet: long enough, relative to the normal
// delay, that packets sent after it usually overtake it.
func (n *Network) reorderDelay() Duration {
	base := max(n.opts.OneWayDelayMean, n.opts.OneWayDelayMin, Microsecond)
	return 1 + Duration(n.rng.Int64N(int64(4*base)))
}

// enqueue puts pk on p, ready after delay, evicting a random queued packet if p is full, and
// schedules the packet's wake event.
func (n *Network) enqueue(p *path, pk *packet, delay Duration) {
	assert.That(delay >= 0, "network: negative delay")
	pk.readyAt = n.loop.Now() + Time(delay)
	if len(p.queue) >= n.opts.PathMaximumCapacity {
		assert.That(len(p.queue) == n.opts.PathMaximumCapacity, "network: path over capacity")
		victim := heap.Remove(&p.queue, n.rng.IntN(len(p.queue))).(*packet)
		n.stats.DroppedCapacity++
		n.emitPacket(p.from, p, victim, packetRecord{verb: packetDrop, why: dropCapacity})
		n.freePacket(victim)
	}
	heap.Push(&p.queue, pk)
	assert.That(len(p.queue) <= n.opts.PathMaximumCapacity, "network: path over capacity")
	n.loop.At(pk.readyAt, p.wake)
}

// wakePath delivers the head of path pi if it is ready. A wake that finds the path clogged
// does nothing (the clog's release schedules fresh wakes); a wake that finds nothing ready
// belonged to a packet evicted or delivered early and is spent harmlessly.
func (n *Network) wakePath(pi int) {
	p := &n.paths[pi]
	now := n.loop.Now()
	if p.clogUntil > now {
		return
	}
	if len(p.queue) == 0 || p.queue[0].readyAt > now {
		return
	}
	pk := heap.Pop(&p.queue).(*packet)
	assert.That(pk.readyAt <= now, "network: packet delivered before it was ready")
	n.deliverPacket(p, pk)
}

// deliverPacket applies the delivery-time faults to pk and hands it to the callback. All
// bookkeeping is done before the callback, which may send, partition or panic.
func (n *Network) deliverPacket(p *path, pk *packet) {
	if !p.delivers(pk) {
		n.stats.DroppedPartition++
		n.emitPacket(p.to, p, pk, packetRecord{verb: packetDrop, why: dropPartition})
		n.freePacket(pk)
		return
	}
	faulty := n.faulty(p)
	if faulty && Chance(n.rng, n.opts.PacketReplayProbability) {
		n.replay(p, pk)
	}
	rec := packetRecord{verb: packetRecv, bit: -1}
	if faulty && len(pk.data) > 0 && Chance(n.rng, n.opts.PacketCorruptionProbability) {
		bit := n.rng.IntN(8 * len(pk.data))
		pk.data = bytes.Clone(pk.data) // others share the sent bytes (Send)
		pk.data[bit/8] ^= 1 << (bit % 8)
		pk.hash = contentHash(pk.data)
		n.stats.Corrupted++
		rec.bit = bit
	}
	n.stats.Delivered++
	n.emitPacket(p.to, p, pk, rec)
	assert.That(n.deliver != nil, "network: no deliver callback")
	from, to, data := p.from, p.to, pk.data
	n.freePacket(pk) // before the callback, which may send (and reuse it)
	n.deliver(from, to, data)
}

// newPacket returns a packet from the free list, or a new one.
func (n *Network) newPacket(seq uint64, data []byte, hash uint64) *packet {
	var pk *packet
	if last := len(n.freePackets) - 1; last >= 0 {
		pk, n.freePackets = n.freePackets[last], n.freePackets[:last]
	} else {
		pk = new(packet)
	}
	// Every field set one by one: a composite literal was built on the stack and copied,
	// the copy rereading as 16-byte loads what had just been stored 8 bytes at a time (a
	// store-forwarding stall on every packet).
	pk.readyAt, pk.seq, pk.data, pk.hash = 0, seq, data, hash
	return pk
}

// freePacket returns a packet that left the network to the free list; its data belongs to
// whoever it was delivered to.
func (n *Network) freePacket(pk *packet) {
	*pk = packet{}
	n.freePackets = append(n.freePackets, pk)
}

// replay puts a duplicate of pk (taken before any corruption of pk, which copies) back on its
// path with a fresh delay.
func (n *Network) replay(p *path, pk *packet) {
	n.seq++
	dup := n.newPacket(n.seq, pk.data, pk.hash)
	n.stats.Replayed++
	n.emitPacket(p.to, p, pk, packetRecord{verb: packetReplay, dup: dup.seq})
	n.enqueue(p, dup, ExpDuration(n.rng, n.opts.OneWayDelayMin, n.opts.OneWayDelayMean))
}

// packetRecord is what a packet's trace record says besides the path, the packet's number,
// length and content hash: its fields are hashed as words (Trace.EmitSum), and its text
// ("verb from->to #seq len=N" and what follows) is built only when the trace is read.
type packetRecord struct {
	verb    packetVerb
	why     dropCause // a drop's
	delay   Duration  // a send's drawn delay
	reorder bool      // a send's: held back to be overtaken
	bit     int       // a receive's corrupted bit, or -1
	dup     uint64    // a replay's duplicate's number
}

type packetVerb uint8

const (
	packetSend packetVerb = iota
	packetRecv
	packetDrop
	packetReplay
)

var packetVerbs = [...]string{packetSend: "send", packetRecv: "recv", packetDrop: "drop", packetReplay: "replay"}

type dropCause uint8

const (
	dropNone dropCause = iota
	dropPartition
	dropLoss
	dropCapacity
)

var dropCauses = [...]string{dropNone: "", dropPartition: "partition", dropLoss: "loss", dropCapacity: "capacity"}

var networkKind = KindHash("network")

// emitPacket records a packet event (rec, on path p, of packet pk, at node) and folds the
// packet's content hash into it. When the record is read, Describe's reading of the packet
// follows it (not hashed: the content hash already covers the bytes it decodes).
func (n *Network) emitPacket(node int, p *path, pk *packet, rec packetRecord) {
	sum := Fold(0, uint64(rec.verb))
	sum = Fold(sum, uint64(p.from)<<32|uint64(p.to))
	sum = Fold(sum, pk.seq)
	sum = Fold(sum, uint64(len(pk.data)))
	sum = Fold(sum, uint64(rec.why))
	sum = Fold(sum, uint64(rec.delay))
	if rec.reorder {
		sum = Fold(sum, 1)
	}
	sum = Fold(sum, uint64(int64(rec.bit)))
	sum = Fold(sum, rec.dup)
	sum = Fold(sum, pk.hash)
	if !n.trace.Recorded(LevelFull) {
		n.trace.EmitSum(LevelFull, node, "network", networkKind, sum, nil, "")
		return
	}
	detail := ""
	if n.Describe != nil && n.trace.Wants(LevelFull) {
		detail = n.Describe(pk.data)
	}
	n.text = n.packetText(n.text[:0], p, pk, rec)
	n.trace.EmitSum(LevelFull, node, "network", networkKind, sum, n.text, detail)
}

// packetText appends a packet record's text to b: "verb from->to #seq len=N", then what
// the verb adds (" partition", " d=1234 reorder", " corrupt bit=7", " as #12").
func (n *Network) packetText(b []byte, p *path, pk *packet, rec packetRecord) []byte {
	b = append(b, packetVerbs[rec.verb]...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(p.from), 10)
	b = append(b, "->"...)
	b = strconv.AppendInt(b, int64(p.to), 10)
	b = append(b, " #"...)
	b = strconv.AppendUint(b, pk.seq, 10)
	b = append(b, " len="...)
	b = strconv.AppendInt(b, int64(len(pk.data)), 10)
	switch rec.verb {
	case packetDrop:
		b = append(append(b, ' '), dropCauses[rec.why]...)
	case packetSend:
		b = strconv.AppendInt(append(b, " d="...), int64(rec.delay), 10)
		if rec.reorder {
			b = append(b, " reorder"...)
		}
	case packetRecv:
		if rec.bit >= 0 {
			b = strconv.AppendInt(append(b, " corrupt bit="...), int64(rec.bit), 10)
		}
	case packetReplay:
		b = strconv.AppendUint(append(b, " as #"...), rec.dup, 10)
	}
	return b
}

// SetFaultsEnabled switches every random decision on or off (loss, replay, reordering,
// corruption, clogs, partitions). Switching off also ends the random partition and the random
// clogs in force, so that the liveness phase runs on a whole network; explicit cuts and
// clogs stay until Heal and Unclog.
func (n *Network) SetFaultsEnabled(on bool) {
	if n.faultsEnabled == on {
		return
	}
	n.faultsEnabled = on
	if on {
		n.trace.Emit(LevelShort, -1, "network", "faults on")
		n.scheduleFaultTick()
		return
	}
	n.trace.Emit(LevelShort, -1, "network", "faults off")
	if n.autoActive {
		n.autoUnpartition()
	}
	now := n.loop.Now()
	for pi := range n.paths {
		if p := &n.paths[pi]; p.clogRandom && p.clogUntil > now {
			n.unclogPath(pi)
		}
	}
}

// FaultsEnabled reports whether random faults are on.
func (n *Network) FaultsEnabled() bool { return n.faultsEnabled }

// SetDelay changes the one-way delay of packets sent from now on (scenarios raise the RTT).
func (n *Network) SetDelay(min, mean Duration) {
	assert.That(min >= 0, "network: negative OneWayDelayMin")
	assert.That(mean >= 0, "network: negative OneWayDelayMean")
	n.opts.OneWayDelayMin, n.opts.OneWayDelayMean = min, mean
	n.trace.Emitf(LevelShort, -1, "network", "delay min=%v mean=%v", min, mean)
}

// SetOptions replaces every option at run time; the node count cannot change. Packets in
// flight keep their delays; the active partition and clogs run their course.
func (n *Network) SetOptions(opts NetworkOptions) error {
	if err := opts.Validate(); err != nil {
		return err
	}
	if opts.NodeCount != n.opts.NodeCount {
		return fmt.Errorf("network: NodeCount cannot change from %d to %d",
			n.opts.NodeCount, opts.NodeCount)
	}
	n.opts = opts.withDefaults()
	n.resetAutoNodes()
	n.trace.Emitf(LevelShort, -1, "network", "options %+v", n.opts)
	n.scheduleFaultTick()
	return nil
}

// contentHash is XXH3-64 of the bytes: cheap, and enough for a fingerprint.
func contentHash(b []byte) uint64 { return xxh3.Hash(b) }

// packetQueue is a min-heap of packets by (readyAt, seq).
type packetQueue []*packet

func (q packetQueue) Len() int { return len(q) }
func (q packetQueue) Less(i, j int) bool {
	if q[i].readyAt != q[j].readyAt {
		return q[i].readyAt < q[j].readyAt
	}
	return q[i].seq < q[j].seq
}
func (q packetQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *packetQueue) Push(x any)   { *q = append(*q, x.(*packet)) }
func (q *packetQueue) Pop() any {
	old := *q
	last := len(old) - 1
	pk := old[last]
	old[last] = nil
	*q = old[:last]
	return pk
}
