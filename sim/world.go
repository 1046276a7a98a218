package sim

import (
	"fmt"

	"vopr/cluster/checksum"
	"vopr/internal/assert"
)

// WorldOptions describe a simulated world: how many nodes, which of them have disks, and the
// network, disk and clock models. Every field is drawn from the seed by the caller (faults/
// for swarm runs, a scenario for a runbook run) and printed on the first line of a run.
type WorldOptions struct {
	Seed      uint64
	NodeCount int
	// DiskNodes is how many nodes, starting at 0, have a disk (the replicas); the rest
	// (clients) have none.
	DiskNodes int
	Network   NetworkOptions
	Disk      DiskOptions
	// Clocks has one entry per node, or is empty for perfect clocks.
	Clocks []ClockOptions
	// DiskPool, if set, lends the disks arrays for their files and takes theirs back at its
	// Reclaim: for a caller that runs world after world (seed after seed). It changes no
	// byte of any run.
	DiskPool *DiskPool
}

// World owns the event loop, the trace, the network and the nodes of one run. It is the
// "testing/cluster.zig" half of the harness: it knows nothing of what the actors are.
type World struct {
	Seed    uint64
	Loop    *Loop
	Trace   *Trace
	Network *Network
	Nodes   []*Node
	// bodySums is the memo of entry body sums the disks offer their engines
	// (Disk.SumMemos): every replica appends every prepare, summing it once here.
	bodySums checksum.SHA256Memo
	// auditSums is the memo of audit chain steps the disks offer their engines
	// (Disk.SumMemos): every replica audits every committed op, summing it once here.
	auditSums checksum.SHA256Memo
}

// NewWorld builds the world of a run. Each component gets its own PRNG stream.
func NewWorld(o WorldOptions) *World {
	assert.That(o.NodeCount > 0, "world: no nodes")
	assert.That(o.DiskNodes >= 0 && o.DiskNodes <= o.NodeCount, "world: disk nodes out of range")
	assert.That(len(o.Clocks) == 0 || len(o.Clocks) == o.NodeCount, "world: one clock per node")
	loop := NewLoop()
	w := &World{Seed: o.Seed, Loop: loop, Trace: NewTrace(loop.Now)}
	netOptions := o.Network
	netOptions.NodeCount = o.NodeCount
	w.Network = NewNetwork(loop, Stream(o.Seed, "network"), w.Trace, netOptions)
	for i := 0; i < o.NodeCount; i++ {
		clockOptions := ClockOptions{}
		if len(o.Clocks) > 0 {
			clockOptions = o.Clocks[i]
		}
		var disk *Disk
		if i < o.DiskNodes {
			disk = NewDisk(loop, Stream(o.Seed, fmt.Sprintf("disk/%d", i)), w.Trace, i, o.Disk)
			disk.bodySums, disk.auditSums = &w.bodySums, &w.auditSums
			if o.DiskPool != nil {
				disk.pool = o.DiskPool
				o.DiskPool.disks = append(o.DiskPool.disks, disk)
			}
		}
		w.Nodes = append(w.Nodes, NewNode(loop, w.Trace, i, NewClock(loop, clockOptions), disk))
	}
	w.Network.SetDeliver(func(from, to int, msg []byte) { w.Nodes[to].Deliver(from, msg) })
	return w
}

// Failures returns every fail-stop recorded on any node, in node order.
func (w *World) Failures() []Failure {
	var all []Failure
	for _, n := range w.Nodes {
		all = append(all, n.Failures()...)
	}
	return all
}
