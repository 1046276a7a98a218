package sim

import (
	"slices"
	"strconv"

	"vopr/internal/assert"
)

// Path faults of the simulated network: explicit partitions and clogs for scenarios and the
// nemesis, and the fault tick that draws random clogs and partitions.
//
// Two layers of cuts are kept per path: explicit ones (Isolate, SplitInTwo, Cut) and the
// random partition. A path is connected only when neither cuts it, so a random partition
// ending never heals a cut a scenario made on purpose. Heal clears both.

// Isolate cuts every path to and from node (not its loopback): it can neither send nor
// receive until Heal.
func (n *Network) Isolate(node int) {
	assert.That(node >= 0 && node < n.opts.NodeCount, "network: isolate of an unknown node")
	for other := 0; other < n.opts.NodeCount; other++ {
		if other != node {
			n.paths[n.pathIndex(node, other)].cutAll()
			n.paths[n.pathIndex(other, node)].cutAll()
		}
	}
	n.stats.Partitions++
	n.trace.Emit(LevelShort, node, "network", "isolate n"+strconv.Itoa(node))
}

// IsolateBehind cuts node off like Isolate, except that the packets already in flight on its
// paths still arrive: a link that fails behind them, as when a node's own uplink goes down
// just after it sent. (Every other cut also drops what is in flight, as a link that fails
// in front of it.) A path that was cut already keeps dropping what it dropped.
func (n *Network) IsolateBehind(node int) {
	assert.That(node >= 0 && node < n.opts.NodeCount, "network: isolate of an unknown node")
	for other := 0; other < n.opts.NodeCount; other++ {
		if other == node {
			continue
		}
		for _, pi := range [2]int{n.pathIndex(node, other), n.pathIndex(other, node)} {
			if p := &n.paths[pi]; !p.cut {
				p.cut, p.sparedBelow = true, n.seq+1
			}
		}
	}
	n.stats.Partitions++
	n.trace.Emit(LevelShort, node, "network", "isolate_behind n"+strconv.Itoa(node))
}

// SplitInTwo cuts every path, both ways, between the nodes with side[i] and the rest.
func (n *Network) SplitInTwo(side []bool) {
	assert.That(len(side) == n.opts.NodeCount, "network: SplitInTwo needs one entry per node")
	for pi := range n.paths {
		p := &n.paths[pi]
		if side[p.from] != side[p.to] {
			p.cutAll()
		}
	}
	n.stats.Partitions++
	n.trace.Emit(LevelShort, -1, "network", "split "+sidesText(side, nil))
}

// Cut cuts the one direction from->to (an asymmetric partition) until Heal.
func (n *Network) Cut(from, to int) {
	assert.That(from != to, "network: cannot cut a loopback path")
	n.paths[n.pathIndex(from, to)].cutAll()
	n.stats.Partitions++
	n.trace.Emit(LevelShort, from, "network", "cut "+strconv.Itoa(from)+"->"+strconv.Itoa(to))
}

// Uncut ends the cut of the one direction from->to, if there is one (Cut); other cuts and
// partitions stay.
func (n *Network) Uncut(from, to int) {
	p := &n.paths[n.pathIndex(from, to)]
	if !p.cut {
		return
	}
	p.cut = false
	n.trace.Emit(LevelShort, from, "network", "uncut "+strconv.Itoa(from)+"->"+strconv.Itoa(to))
}

// Heal removes every partition and cut, explicit and random. Clogs stay: they end on their
// own or with Unclog. After Heal no random partition starts for UnpartitionStabilityMin.
func (n *Network) Heal() {
	for pi := range n.paths {
		n.paths[pi].cut = false
		n.paths[pi].autoCut = false
	}
	n.autoActive = false
	n.autoStableUntil = n.loop.Now() + Time(n.opts.UnpartitionStabilityMin)
	n.trace.Emit(LevelShort, -1, "network", "heal")
}

// Clog holds the packets of from->to (none is lost to the clog) for d, or longer if the path
// is already clogged for longer. Packets that became ready meanwhile are delivered, in order,
// when the clog ends.
func (n *Network) Clog(from, to int, d Duration) {
	assert.That(from != to, "network: cannot clog a loopback path")
	assert.That(d > 0, "network: clog duration must be positive")
	pi := n.pathIndex(from, to)
	n.clogPath(pi, n.loop.Now()+Time(d), false)
	n.trace.Emit(LevelShort, from, "network",
		"clog "+strconv.Itoa(from)+"->"+strconv.Itoa(to)+" for "+d.String())
}

// Unclog ends a clog of from->to now; it does nothing if the path is not clogged.
func (n *Network) Unclog(from, to int) {
	pi := n.pathIndex(from, to)
	if n.paths[pi].clogUntil > n.loop.Now() {
		n.unclogPath(pi)
	}
}

// Clogged reports whether from->to is holding its packets.
func (n *Network) Clogged(from, to int) bool {
	return n.paths[n.pathIndex(from, to)].clogUntil > n.loop.Now()
}

// clogPath clogs path pi until the given time, unless it is already clogged for longer, and
// schedules the end of the clog. The generation number makes superseded ends no-ops.
func (n *Network) clogPath(pi int, until Time, random bool) {
	p := &n.paths[pi]
	assert.That(p.from != p.to, "network: loopback clogged")
	assert.That(until > n.loop.Now(), "network: clog ends in the past")
	n.stats.Clogs++
	if !random {
		p.clogRandom = false // an explicit clog survives SetFaultsEnabled(false)
	}
	if until <= p.clogUntil {
		return
	}
	if p.clogUntil <= n.loop.Now() {
		p.clogRandom = random
	}
	p.clogUntil = until
	p.clogGen++
	gen := p.clogGen
	n.loop.At(until, func() {
		if n.paths[pi].clogGen == gen {
			n.unclogPath(pi)
		}
	})
}

// unclogPath ends the clog of path pi now and schedules one wake for each packet that became
// ready during the clog (their own wakes found the path clogged and were spent).
func (n *Network) unclogPath(pi int) {
	p := &n.paths[pi]
	now := n.loop.Now()
	assert.That(p.clogUntil >= now, "network: unclog of a path not clogged")
	p.clogUntil = now
	p.clogGen++
	p.clogRandom = false
	ready := 0
	for _, pk := range p.queue {
		if pk.readyAt <= now {
			ready++
			n.loop.At(now, p.wake)
		}
	}
	n.trace.Emit(LevelShort, p.from, "network", "unclog "+strconv.Itoa(p.from)+"->"+
		strconv.Itoa(p.to)+" ready="+strconv.Itoa(ready))
}

// faultTickNeeded reports whether a fault tick can change anything. When it cannot, no tick
// is scheduled, so a fault-free network costs no events.
func (n *Network) faultTickNeeded() bool {
	if !n.faultsEnabled {
		return false
	}
	o := &n.opts
	return o.PathClogProbability > 0 || n.autoActive ||
		(o.PartitionMode != PartitionNone && o.PartitionProbability > 0)
}

func (n *Network) scheduleFaultTick() {
	if n.faultTickScheduled || !n.faultTickNeeded() {
		return
	}
	n.faultTickScheduled = true
	n.loop.After(n.opts.FaultTickInterval, n.faultTickFn)
}

// faultTick draws the random partition change, then the random clogs, then reschedules
// itself while path faults remain possible.
func (n *Network) faultTick() {
	assert.That(n.faultTickScheduled, "network: fault tick not scheduled")
	n.faultTickScheduled = false
	if !n.faultTickNeeded() {
		return
	}
	n.tickPartition()
	n.tickClogs()
	n.scheduleFaultTick()
}

// tickPartition starts or ends the random partition, respecting the stability minimums.
func (n *Network) tickPartition() {
	if n.loop.Now() < n.autoStableUntil {
		return
	}
	if n.autoActive {
		if Chance(n.rng, n.opts.UnpartitionProbability) {
			n.autoUnpartition()
		}
		return
	}
	if n.opts.PartitionMode == PartitionNone || len(n.autoNodes) < 2 {
		return
	}
	if Chance(n.rng, n.opts.PartitionProbability) {
		n.autoPartition()
	}
}

// tickClogs clogs each unclogged non-loopback path with PathClogProbability, in path order.
func (n *Network) tickClogs() {
	if n.opts.PathClogProbability <= 0 {
		return
	}
	now := n.loop.Now()
	for pi := range n.paths {
		p := &n.paths[pi]
		if p.from == p.to || p.clogUntil > now {
			continue
		}
		if Chance(n.rng, n.opts.PathClogProbability) {
			d := ExpDuration(n.rng, Nanosecond, n.opts.PathClogDurationMean)
			n.clogPath(pi, now+Time(d), true)
			n.trace.Emit(LevelShort, p.from, "network", "clog "+strconv.Itoa(p.from)+"->"+
				strconv.Itoa(p.to)+" for "+d.String()+" random")
		}
	}
}

// autoPartition starts a random partition of the partitionable nodes with the configured
// mode and symmetry. Exempt nodes keep all their paths.
func (n *Network) autoPartition() {
	assert.That(!n.autoActive, "network: partition while partitioned")
	assert.That(len(n.autoNodes) >= 2, "network: too few nodes to partition")
	n.drawPartitionSides()
	// In an asymmetric partition the nodes on side openSide still reach the other side.
	asymmetric := n.opts.PartitionSymmetry == PartitionAsymmetric
	openSide := asymmetric && n.rng.IntN(2) == 1
	for pi := range n.paths {
		p := &n.paths[pi]
		p.autoCut = n.partitionable(p.from) && n.partitionable(p.to) &&
			n.autoSide[p.from] != n.autoSide[p.to] &&
			!(asymmetric && n.autoSide[p.from] == openSide)
	}
	n.autoActive = true
	n.autoStableUntil = n.loop.Now() + Time(n.opts.PartitionStabilityMin)
	n.stats.Partitions++
	text := "partition " + n.opts.PartitionSymmetry.String() + " " +
		sidesText(n.autoSide, n.opts.PartitionExempt)
	if asymmetric {
		text += " open=" + strconv.FormatBool(openSide)
	}
	n.trace.Emit(LevelShort, -1, "network", text)
}

// drawPartitionSides fills autoSide for the partitionable nodes so that each side holds at
// least one of them (TigerBeetle's auto_partition_network).
func (n *Network) drawPartitionSides() {
	clear(n.autoSide)
	nodes := n.autoNodes
	m := len(nodes)
	switch n.opts.PartitionMode {
	case PartitionUniformSize:
		size := 1 + n.rng.IntN(m-1)
		n.rng.Shuffle(m, func(i, j int) { nodes[i], nodes[j] = nodes[j], nodes[i] })
		for i, node := range nodes {
			n.autoSide[node] = i < size
		}
	case PartitionUniformPartition:
		same := true
		for _, node := range nodes {
			n.autoSide[node] = n.rng.IntN(2) == 1
			same = same && n.autoSide[node] == n.autoSide[nodes[0]]
		}
		if same {
			node := nodes[n.rng.IntN(m)]
			n.autoSide[node] = !n.autoSide[node]
		}
	case PartitionIsolateSingle:
		n.autoSide[nodes[n.rng.IntN(m)]] = true
	default:
		assert.Unreachable("network: partition with mode none")
	}
	sides := 0
	for _, node := range nodes {
		if n.autoSide[node] {
			sides++
		}
	}
	assert.That(sides > 0 && sides < m, "network: partition with an empty side")
}

// autoUnpartition ends the random partition; explicit cuts stay.
func (n *Network) autoUnpartition() {
	assert.That(n.autoActive, "network: unpartition while whole")
	for pi := range n.paths {
		n.paths[pi].autoCut = false
	}
	n.autoActive = false
	n.autoStableUntil = n.loop.Now() + Time(n.opts.UnpartitionStabilityMin)
	n.trace.Emit(LevelShort, -1, "network", "unpartition")
}

func (n *Network) partitionable(node int) bool {
	return n.opts.PartitionExempt == nil || !n.opts.PartitionExempt[node]
}

// resetAutoNodes lists the partitionable nodes in index order.
func (n *Network) resetAutoNodes() {
	n.autoNodes = n.autoNodes[:0]
	for node := 0; node < n.opts.NodeCount; node++ {
		if n.partitionable(node) {
			n.autoNodes = append(n.autoNodes, node)
		}
	}
}

// sidesText prints a two-sided split as "0,2|1,3", leaving out exempt nodes.
func sidesText(side, exempt []bool) string {
	var b []byte
	for pass, want := range [2]bool{true, false} {
		if pass == 1 {
			b = append(b, '|')
		}
		first := true
		for node, s := range side {
			if s != want || (exempt != nil && exempt[node]) {
				continue
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b = strconv.AppendInt(b, int64(node), 10)
		}
	}
	return string(b)
}

// Shape is a partition of some nodes, Jepsen-style: which of them it keeps apart. A shape
// cuts only the paths between two of its own nodes; every other path (a client's, say) is
// left as it is. Apply it with Network.Partition and undo it with Network.Reconnect.
type Shape struct {
	// Name and Text describe it in the trace: "ring 0-2-1-3", "bridge 0|2|1,3".
	Name, Text string
	// Nodes are the nodes it partitions.
	Nodes []int
	apart func(a, b int) bool
}

// Apart reports whether the shape cuts the paths between a and b (both ways).
func (s Shape) Apart(a, b int) bool {
	return a != b && s.apart(a, b)
}

// IsolateFrom is node cut off from others, both ways; its paths to the nodes not listed
// (the clients of a replica) stay. It is how a primary keeps its clients while it loses its
// backups.
func IsolateFrom(node int, others []int) Shape {
	assert.That(!slices.Contains(others, node), "network: a node isolated from itself")
	nodes := append([]int{node}, others...)
	return Shape{Name: "isolate", Text: strconv.Itoa(node) + "|" + joinNodes(others, ","), Nodes: nodes,
		apart: func(a, b int) bool {
			return (a == node) != (b == node) && slices.Contains(nodes, a) && slices.Contains(nodes, b)
		}}
}

// Ring is the nodes in a circle, in order: each keeps its paths to its two neighbours only.
// With three nodes or fewer nothing is cut (every node neighbours every other).
func Ring(order []int) Shape {
	pos := map[int]int{}
	for i, node := range order {
		_, dup := pos[node]
		assert.That(!dup, "network: a node twice in a ring")
		pos[node] = i
	}
	m := len(order)
	return Shape{Name: "ring", Text: joinNodes(order, "-"), Nodes: slices.Clone(order),
		apart: func(a, b int) bool {
			pa, okA := pos[a]
			pb, okB := pos[b]
			if !okA || !okB {
				return false
			}
			d := (pa - pb + m) % m
			return d != 1 && d != m-1
		}}
}

// Bridge is two halves that cannot reach each other, joined by the bridge node, which keeps
// its paths to both.
func Bridge(left, right []int, bridge int) Shape {
	assert.That(len(left) > 0 && len(right) > 0, "network: a bridge needs two non-empty halves")
	assert.That(!slices.Contains(left, bridge) && !slices.Contains(right, bridge), "network: the bridge is in a half")
	for _, node := range left {
		assert.That(!slices.Contains(right, node), "network: a node in both halves of a bridge")
	}
	l, r := slices.Clone(left), slices.Clone(right)
	nodes := append(append(append([]int{}, l...), bridge), r...)
	return Shape{Name: "bridge", Text: joinNodes(l, ",") + "|" + strconv.Itoa(bridge) + "|" + joinNodes(r, ","),
		Nodes: nodes, apart: func(a, b int) bool {
			return (slices.Contains(l, a) && slices.Contains(r, b)) || (slices.Contains(r, a) && slices.Contains(l, b))
		}}
}

// Partition cuts, both ways, every path between two nodes the shape keeps apart, until Heal
// or Reconnect. It counts as one partition.
func (n *Network) Partition(s Shape) {
	for _, a := range s.Nodes {
		assert.That(a >= 0 && a < n.opts.NodeCount, "network: shape of an unknown node")
		for _, b := range s.Nodes {
			if s.Apart(a, b) {
				n.paths[n.pathIndex(a, b)].cutAll()
			}
		}
	}
	n.stats.Partitions++
	n.trace.Emit(LevelShort, -1, "network", "partition "+s.Name+" "+s.Text)
}

// Reconnect undoes Partition(s): the explicit cuts of the paths s keeps apart are removed
// (a cut another explicit partition made on the same path goes too; a random partition's
// stays).
func (n *Network) Reconnect(s Shape) {
	for _, a := range s.Nodes {
		for _, b := range s.Nodes {
			if s.Apart(a, b) {
				n.paths[n.pathIndex(a, b)].cut = false
			}
		}
	}
	n.trace.Emit(LevelShort, -1, "network", "reconnect "+s.Name+" "+s.Text)
}

func joinNodes(nodes []int, sep string) string {
	var b []byte
	for i, node := range nodes {
		if i > 0 {
			b = append(b, sep...)
		}
		b = strconv.AppendInt(b, int64(node), 10)
	}
	return string(b)
}
