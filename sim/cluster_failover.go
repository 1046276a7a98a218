package sim

import (
	"fmt"

	"vopr/cluster/vsr"
)

// A failover (vsr/failover.go) makes a standby the only active replica of a new
// configuration: the replica on that node is then replica 0 of 1, and the nodes of the old
// configuration are gone. The simulator keeps knowing replicas by node (checkers, faults,
// the trace); what changes is the promoted node's identity (the options its replica opens
// with) and the routing of replica indices to nodes, for the new configuration's messages
// and for the clients.

// memberIdentity is a node's place in its configuration.
type memberIdentity struct {
	replica, count, standbys int
	nodes                    []int // replica index -> node, in this configuration
}

// identity returns node i's place: as formatted, or as promoted.
func (c *Cluster) identity(i int) memberIdentity {
	if id, ok := c.identities[i]; ok {
		return id
	}
	return memberIdentity{replica: i, count: c.options.Replicas, standbys: c.options.Standbys}
}

// nodeOf routes a message from node from to replica index replica of from's configuration.
func (c *Cluster) nodeOf(from, replica int) (int, bool) {
	if len(c.identities) == 0 {
		// No failover: every node has its formatted place, whose nodes are the replica
		// indices (what identity would give), without a map lookup and copy per message.
		return replica, replica >= 0 && replica < c.MemberCount()
	}
	id := c.identity(from)
	if id.nodes == nil {
		return replica, replica >= 0 && replica < c.MemberCount()
	}
	if replica < 0 || replica >= len(id.nodes) {
		return 0, false
	}
	return id.nodes[replica], true
}

// clientTarget is the node of replica index replica for the clients: the current
// configuration's.
func (c *Cluster) clientTarget(replica int) int {
	if c.members == nil || replica >= len(c.members) {
		return replica
	}
	return c.members[replica]
}

// ActiveNodes returns the nodes of the current configuration's active replicas.
func (c *Cluster) ActiveNodes() []int {
	if c.members != nil {
		return append([]int(nil), c.members...)
	}
	nodes := make([]int, c.options.Replicas)
	for i := range nodes {
		nodes[i] = i
	}
	return nodes
}

// PromoteStandby is the failover of the running standby on node (vsr.Replica.Promote): its
// storage is rewritten as the single active replica of a new configuration, its process is
// stopped, and from then on the node starts as replica 0 of 1 and the clients send to it.
// done runs once the storage work completes; the caller starts the node (StartReplica),
// after telling its checkers that the old process is gone.
func (c *Cluster) PromoteStandby(node int, done func(vsr.PromoteReport, error)) {
	r := c.Replica(node)
	if node < c.options.Replicas || node >= c.MemberCount() || r == nil || c.Nodes[node].Status() != NodeUp {
		c.Loop.After(0, func() { done(vsr.PromoteReport{}, fmt.Errorf("node %d runs no standby", node)) })
		return
	}
	c.Nodes[node].Guard(func() { r.Promote(func(rep vsr.PromoteReport, err error) { c.promoted(node, rep, err, done) }) })
}

// promoted takes the new identity on and stops the node's process.
func (c *Cluster) promoted(node int, rep vsr.PromoteReport, err error, done func(vsr.PromoteReport, error)) {
	c.Loop.After(0, func() { // outside the replica's completion: the node restarts
		if err == nil {
			if c.identities == nil {
				c.identities = map[int]memberIdentity{}
			}
			c.identities[node] = memberIdentity{replica: 0, count: 1, nodes: []int{node}}
			c.members = []int{node}
			// The new configuration replaces the old one whatever their epochs: its epoch is
			// above the standby's (and above every change its kept log moves to), and a
			// standby may lag the cluster's.
			c.newest = configuration{outside: c.options.Outside}
			for _, cl := range c.clients {
				cl.Reconfigure(1)
			}
			c.clientsReconfigured++
			c.Trace.Emit(LevelShort, node, "node", fmt.Sprintf(
				"promoted: replica 0 of 1 in epoch %d from op %d (%d log entries above dropped)", rep.Epoch, rep.Op, rep.Dropped))
			c.CrashReplica(node)
		}
		done(rep, err)
	})
}
