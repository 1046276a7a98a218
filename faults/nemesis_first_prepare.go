package faults

import (
	"vopr/cluster/vsr"
	"vopr/sim"
)

// The first primary's crash, an aimed move of the node.crash kind: the primary of view 0
// crashes just after it sends the cluster's first prepare, before its own write of that
// prepare may be durable, while the backups may already hold it. When it restarts (soon,
// often still in view 0), its log is empty, as on the cluster's first boot: it must not take
// itself for the first boot's primary and prepare other ops at the numbers the backups hold.
// A bootstrap edge no random crash reaches (the window is the first prepare's disk write).

// ActionCrashFirstPrepare is the move's action name.
const ActionCrashFirstPrepare = "crash.first_prepare"

// onFirstPrepare makes the move, with its probability, at the first prepare any replica
// sends in view 0 (once the call that sent it returns).
func (n *Nemesis) onFirstPrepare(c *sim.Cluster, from int, msg []byte) {
	if n.firstPrepareSeen || n.o.FirstPrepareCrashProbability == 0 || n.healed {
		return // after the heal nothing restarts it (swarm seed 6373194600773404913: the first prepare came at 30 s)
	}
	if command, ok := vsr.PeekCommand(msg); !ok || command != vsr.CommandPrepare {
		return
	}
	n.firstPrepareSeen = true
	r := c.Replica(from)
	if r == nil || r.Inspect().View != 0 || !sim.Chance(n.r, n.o.FirstPrepareCrashProbability) {
		return
	}
	for _, i := range n.mayTakeDown(c) {
		if i == from {
			n.record(c, from, ActionCrashFirstPrepare, "just after sending the first prepare")
			n.hits.Hit(MarkCrashFirstPrepare)
			c.Nodes[from].CrashAfterCall()
			return
		}
	}
}
