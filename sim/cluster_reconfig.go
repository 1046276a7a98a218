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

// Configuration returns the newest configuration a running replica takes part in or
// knows (its epoch and the slots outside it); the formatted one if none runs.
func (c *Cluster) Configuration() (epoch uint32, outside uint16) {
	epoch, outside = 0, c.options.Outside
	for i := 0; i < c.MemberCount(); i++ {
		if r := c.Replica(i); r != nil {
			if in := r.InspectState(); in.Epoch > epoch && !in.Joining {
				epoch, outside = in.Epoch, in.Outside
			}
		}
	}
	return epoch, outside
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
