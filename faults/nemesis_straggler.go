package faults

import (
	"fmt"
	"slices"

	"vopr/cluster/kv"
	"vopr/sim"
)

// upgradeStraggler is the aimed move of a rolling upgrade with a straggler: every replica but
// one runs the newest binary (or will, the primary, once rebooted), and the one left behind
// is cut off from the other replicas while the primary reboots on the newest binary. The
// rebooted primary has heard no release from the straggler: it must not raise the cluster's
// release to one the straggler's binary lacks until the straggler reports (the straggler
// would stop, release too old, when it reconnects). The cut ends like a ring or a bridge,
// after shapeTicksMin..shapeTicksMax ticks. The move does nothing unless the cluster is in
// that state: upgrades come one restart at a time (maybeUpgrade).
func (n *Nemesis) upgradeStraggler(c *sim.Cluster) {
	straggler, ok := n.straggler(c)
	if !ok {
		return
	}
	primary, _, found := n.primary(c, straggler)
	if !found || !slices.Contains(n.mayTakeDown(c), primary) {
		return // the reboot stays inside the atlas's bound and the primary's stability period
	}
	shape := sim.IsolateFrom(straggler, n.otherReplicas(straggler))
	n.record(c, straggler, ActionUpgradeStraggler, fmt.Sprintf("cut off on release %d; primary r%d reboots on release %d",
		binaryRelease(c, straggler), primary, kv.ReleaseLatest))
	c.Network.Partition(shape)
	n.shape = &shape
	n.shapeUntil = n.tick + shapeTicksMin + uint64(n.r.IntN(shapeTicksMax-shapeTicksMin+1))
	c.CrashReplica(primary)
	c.SetRelease(primary, kv.ReleaseLatest)
	c.StartReplica(primary)
	n.stableUntil[primary] = n.tick + uint64(n.o.ReplicaStabilityTicks)
	n.hits.Hit(MarkUpgradeStraggler)
}

// straggler returns the one up replica whose binary is older than the newest release while
// every other replica but the primary runs the newest (the primary is rebooted onto it).
func (n *Nemesis) straggler(c *sim.Cluster) (int, bool) {
	behind := -1
	for i := 0; i < n.swarm.Replicas; i++ {
		if binaryRelease(c, i) == kv.ReleaseLatest || n.isPrimary(c, i) {
			continue
		}
		if behind >= 0 {
			return 0, false // two behind: not yet the last step of the upgrade
		}
		behind = i
	}
	if behind < 0 || c.Nodes[behind].Status() != sim.NodeUp || binaryRelease(c, behind) == kv.ReleaseLatest {
		return 0, false
	}
	return behind, true
}

// isPrimary reports whether replica i is up and the primary of the highest normal view.
func (n *Nemesis) isPrimary(c *sim.Cluster, i int) bool {
	p, _, found := n.primary(c, -1)
	return found && p == i
}

// binaryRelease is the release of the binary replica i's node boots (0 means the base).
func binaryRelease(c *sim.Cluster, i int) uint32 { return max(c.Release(i), kv.ReleaseBase) }
