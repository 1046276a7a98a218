package sim

import (
	"errors"
	"fmt"
	"slices"

	"vopr/cluster/vsr"
)

// Reconfiguration (vsr/reconfig.go) keeps every replica on the node of its slot: what
// changes is which slots are members. The simulator reads the configuration from the
// replicas themselves, asks the primary for a change as an operator would, and formats a
// replaced node's disk as a joining replica.

// ErrNoPrimary: no running replica is the primary of a normal view to take a change.
var ErrNoPrimary = errors.New("no running replica is a normal primary")

// configuration is a membership: its epoch and the slots outside it.
type configuration struct {
	epoch   uint32
	outside uint16
}

// Configuration returns the newest configuration a replica has taken part in (its epoch
// and the slots outside it); the formatted one until a change. It is remembered while every
// member of it is down: a replica takes an epoch only once its change has committed, and
// epochs only rise. Read from the running replicas alone, it went back to an older epoch
// while the newest one's members were down, and an operator acting on that replaced the disk
// of a member (swarm seed 2026442563: replica 1 of a two-replica configuration was wiped
// while it and replica 2 were down, and came back empty as a member, and its nack truncated
// an acknowledged op).
func (c *Cluster) Configuration() (epoch uint32, outside uint16) {
	for i := 0; i < c.MemberCount(); i++ {
		c.noteConfiguration(c.Replica(i))
	}
	return c.newest.epoch, c.newest.outside
}

// noteConfiguration takes r's configuration as the newest if it is (r may be nil). A
// joining replica's is not one: it is the epoch it was formatted at, with only its own slot
// outside.
func (c *Cluster) noteConfiguration(r *vsr.Replica) {
	if r == nil {
		return
	}
	if epoch, outside, joining := r.Configuration(); epoch > c.newest.epoch && !joining {
		c.newest = configuration{epoch: epoch, outside: outside}
	}
}

// IsMember reports whether node i's slot is a member of the newest configuration (after a
// failover: whether it runs the new configuration's replica).
func (c *Cluster) IsMember(i int) bool {
	if c.members != nil {
		return slices.Contains(c.members, i)
	}
	_, outside := c.Configuration()
	return outside&(1<<uint(i)) == 0
}

// Members returns the nodes of the newest configuration's members: active replicas, then
// standbys.
func (c *Cluster) Members() (active, standbys []int) {
	if c.members != nil {
		return c.ActiveNodes(), nil
	}
	_, outside := c.Configuration()
	for i := 0; i < c.MemberCount(); i++ {
		switch {
		case outside&(1<<uint(i)) != 0:
		case i < c.options.Replicas:
			active = append(active, i)
		default:
			standbys = append(standbys, i)
		}
	}
	return active, standbys
}

// Primary returns the node of the newest epoch's normal primary of the highest view, or -1.
func (c *Cluster) Primary() int {
	epoch, _ := c.Configuration()
	best, view := -1, uint32(0)
	for i := 0; i < c.MemberCount(); i++ {
		r := c.Replica(i)
		if r == nil {
			continue
		}
		in := r.InspectState()
		if in.Epoch == epoch && in.Status == vsr.StatusNormal && in.Role == vsr.RolePrimary && (best < 0 || in.View > view) {
			best, view = i, in.View
		}
	}
	return best
}

// FormatJoining replaces node i's disk (the node must be down) and formats it as a replica
// that joins the cluster when a change adds its slot (`format --join`), at the epoch of the
// configuration in force (it joins only a later one). The new disk has random faults off. done runs once the
// format is durable; the caller starts the node.
func (c *Cluster) FormatJoining(i int, done func(error)) {
	if c.Nodes[i].Status() != NodeCrashed {
		c.Loop.After(0, func() { done(fmt.Errorf("node %d is running: stop it before replacing its disk", i)) })
		return
	}
	disk := c.Nodes[i].Disk
	disk.Reformat()
	// A fresh disk: its format is not the fault phase's business. Random faults stay off
	// after it; a fault injector that wants them on again says so (a heal meanwhile must not
	// be undone by a format completing after it).
	disk.SetFaultsEnabled(false)
	epoch, _ := c.Configuration()
	vsr.FormatJoin(disk, c.options.ClusterID, i, c.options.Replicas, c.options.Standbys, epoch,
		c.Release(i), done)
}
