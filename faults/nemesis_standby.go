package faults

import (
	"vopr/internal/assert"
	"vopr/sim"
)

// Standbys under the nemesis. A seed's standbys (Swarm.Standbys) are cut off by random
// partitions and suffer the disk model's faults like any node; with node.crash on, the
// nemesis also crashes and restarts them at the replicas' rates, so that a standby's own
// recovery, repair and state sync run under load. A standby counts towards no quorum, so
// these crashes are outside the atlas's bound on unavailable replicas. Its draws come after
// every other draw of the step, and only for seeds with standbys: seeds without keep their
// schedules.

// Standby crash actions (not in Actions: a seed without standbys never takes them).
const (
	ActionStandbyCrash   = "crash.standby"
	ActionStandbyRestart = "restart.standby"
)

// stepStandbys crashes or restarts one standby at the replicas' crash and restart rates.
func (n *Nemesis) stepStandbys(c *sim.Cluster) {
	if n.swarm.Standbys == 0 || n.o.ReplicaCrashProbability == 0 {
		return
	}
	assert.That(c.StandbyCount() == n.swarm.Standbys, "nemesis: cluster with another standby count")
	restart, crash := sim.Chance(n.r, n.o.ReplicaRestartProbability), sim.Chance(n.r, n.o.ReplicaCrashProbability)
	pick := n.r.IntN(n.swarm.Standbys)
	i := n.swarm.Replicas + pick
	switch status := c.Nodes[i].Status(); {
	case n.gone[i]:
	case restart && status == sim.NodeCrashed:
		n.record(c, i, ActionStandbyRestart, "")
		c.StartReplica(i)
	case crash && status == sim.NodeUp:
		n.record(c, i, ActionStandbyCrash, "")
		c.CrashReplica(i)
	}
}

// healStandbys ends the standbys' faults for the liveness phase: disks without faults, and
// every crashed standby restarted (they must catch up like the replicas).
func (n *Nemesis) healStandbys(c *sim.Cluster) {
	for i := n.swarm.Replicas; i < n.swarm.Replicas+n.swarm.Standbys; i++ {
		c.Nodes[i].Disk.SetFaultsEnabled(false)
		if c.Nodes[i].Status() == sim.NodeCrashed && !n.gone[i] {
			c.StartReplica(i)
		}
	}
}

// Hold keeps the nemesis's hands off node until Release: an operator is replacing its disk
// (the reconfiguring nemesis), and the node must stay down until the new disk is formatted.
func (n *Nemesis) Hold(node int) { n.Forget([]int{node}) }

// Release gives node back to the nemesis.
func (n *Nemesis) Release(node int) { delete(n.gone, node) }

// Forget tells the nemesis that nodes are gone for good (a failover lost their region): the
// heal leaves them down.
func (n *Nemesis) Forget(nodes []int) {
	if n.gone == nil {
		n.gone = map[int]bool{}
	}
	for _, i := range nodes {
		n.gone[i] = true
	}
}
