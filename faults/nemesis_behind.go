package faults

import (
	"fmt"

	"vopr/cluster/vsr"
	"vopr/internal/assert"
	"vopr/sim"
)

// The primary left behind, an aimed move of the primary-isolation kind: the current primary
// is cut off from the other replicas, its clients kept, so it prepares an uncommitted suffix
// in its view; it stays cut off until the others, under a new primary, have checkpointed
// above its op_number. Rejoining, it holds stale ops of an older view between its checkpoint
// and theirs: it must state-sync past its own head, or repair across a checkpoint, and drop
// every op of that suffix. The shape occurs in production when a partition outlasts a
// checkpoint interval; the swarm's short random partitions almost never reach it (the two
// fresh-range bugs of forgetOffChain were found in it by chance).
//
// It shares the isolation state (n.isolation, phase isolationBehind) with the primary
// isolation, so the two never overlap, and the network heal ends it.

// ActionPrimaryBehind is its action name: the primary cut off until the others pass it.
const ActionPrimaryBehind = "partition.primary_behind"

// behindTicksMax bounds the wait for the others to checkpoint above the isolated primary
// (30 s: a checkpoint interval of ops at the swarm's slowest client rates).
const behindTicksMax = 3000

// behindWatchTicks is how long, after the reconnect, a state sync of the old primary counts
// for its mark.
const behindWatchTicks = 1000

// behindWatch follows the old primary after the reconnect: until is 0 when none is watched.
type behindWatch struct {
	replica int
	until   uint64
}

// isolatePrimaryBehind cuts the current primary off from the other replicas, with f >= 1
// (the others must be able to elect a primary and commit without it).
func (n *Nemesis) isolatePrimaryBehind(c *sim.Cluster) {
	p, in, ok := n.primary(c, -1)
	if !ok || n.atlas.F == 0 {
		return
	}
	shape := sim.IsolateFrom(p, n.otherReplicas(p))
	n.record(c, p, ActionPrimaryBehind, fmt.Sprintf("view=%d op=%d commit=%d checkpoint=%d",
		in.View, in.Op, in.CommitMax, in.CheckpointOp))
	c.Network.Partition(shape)
	n.isolation = primaryIsolation{phase: isolationBehind, old: p, oldView: in.View, oldOp: in.Op,
		shape: shape, until: n.tick + behindTicksMax}
}

// stepPrimaryBehind reconnects the old primary once a primary of the others has checkpointed
// above the old one's op_number, or when the wait has lasted behindTicksMax.
func (n *Nemesis) stepPrimaryBehind(c *sim.Cluster) {
	iso := &n.isolation
	assert.That(iso.phase == isolationBehind, "nemesis: stepPrimaryBehind outside its phase")
	old := c.Replica(iso.old)
	if old == nil {
		n.endIsolation(c, "left behind: the old primary is down")
		return
	}
	in := old.Inspect()
	next, nextIn, ok := n.primary(c, iso.old)
	if ok && nextIn.View > iso.oldView && nextIn.CheckpointOp > in.Op {
		n.hits.Hit(MarkPrimaryBehindPassed)
		if in.Op > iso.oldOp && in.LogView <= iso.oldView {
			n.hits.Hit(MarkPrimaryBehindSuffix)
		}
		n.watch = behindWatch{replica: iso.old, until: n.tick + behindWatchTicks}
		n.endIsolation(c, fmt.Sprintf("left behind: r%d checkpointed at op %d in view %d, above op=%d log_view=%d",
			next, nextIn.CheckpointOp, nextIn.View, in.Op, in.LogView))
		return
	}
	if n.tick >= iso.until {
		n.endIsolation(c, "left behind: the others did not pass it in time")
	}
}

// onBehindEvent marks a state sync of the old primary after its reconnect.
func (n *Nemesis) onBehindEvent(e vsr.Event) {
	if n.watch.until == 0 || e.Replica != n.watch.replica || e.Kind != vsr.EventStateSync {
		return
	}
	if n.tick <= n.watch.until {
		n.hits.Hit(MarkPrimaryBehindStateSync)
	}
	n.watch = behindWatch{}
}
