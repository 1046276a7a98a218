package scenarios

import (
	"fmt"
	"strings"

	"vopr/cluster/vsr"
	"vopr/internal/coverage"
	"vopr/sim"
)

// Zombies of the lost region. A swarm failover loses the active region for good (every old
// replica crashed and its disk wiped), but real regions come back: a partitioned or
// powered-off region returns with its disks intact after the operator failed over. In half
// the failover seeds (drawn from their own stream, "swarm/failover_zombie", so that the
// other seeds keep their draws), one or more old active replicas are not wiped: they stay
// down through the promotion and restart, with their old disks and the network to the new
// configuration open, a drawn while into the liveness phase. Slot 0 is among them in half
// of those runs: the promoted standby takes slot 0, so the zombie's index is the one the new
// configuration's replica uses. The zombies are fewer than a view-change quorum of the old
// configuration, so that the old configuration cannot elect a primary among them, or, in half
// the runs, the whole region comes back: every old active replica, whose configuration has
// its quorums and serves on in its own epoch until it hears of the new one.
//
// The contract (vsr/failover.go, DESIGN.md's failover): a replica of an older epoch that
// comes back stops itself as soon as it hears from the new configuration, and can neither
// vote in nor lead it. So a zombie must never be in the new configuration's epoch (or a later
// one) as a member of it: no commit or vote of its own there, no "configuration epoch"
// status entering it, and no inspection showing it in that epoch, not stopped, its own slot
// a member. It may stay in its old epoch or stop as removed. The zombies hold the old
// configuration's history, replaced above the promotion point by the operator's approval,
// so the Suite does not follow them (swarmRun.outsiders, as quorum_lost's old active
// replica): it keeps checking the new configuration, the clients' history stays held to
// linearizability and the acknowledged ops lost to the count the failover made. The checks
// here watch the zombies every tick for zombieWatchTicks after their start.

const (
	// zombieStartTicksMax: a zombie restarts up to this long into the liveness phase.
	zombieStartTicksMax = 300
	// zombieWatchTicks is how long each zombie is watched after it started.
	zombieWatchTicks = 2000
)

var (
	markZombieBack = coverage.Declare("failover_zombie.back",
		"a run in which old active replicas came back with their intact disks after a swarm failover")
	markZombieSlot0 = coverage.Declare("failover_zombie.slot0",
		"a run in which a returning old replica uses slot 0, the promoted standby's index")
	markZombieWhole = coverage.Declare("failover_zombie.whole_region",
		"a run in which the whole old region came back: the old configuration has its quorums")
	markZombieStopped = coverage.Declare("failover_zombie.stopped",
		"a returning old replica stopped itself as removed on hearing the new configuration")
)

// zombiePlan is the zombie move of one failover: the old active nodes kept, and when they
// restart.
type zombiePlan struct {
	nodes   []int
	startAt int  // ticks after the promotion
	whole   bool // every old active replica: the old configuration has its quorums back
}

// drawZombies draws the move for a cluster of count active replicas (no nodes: none). In
// half the runs the whole region comes back (every old active replica); otherwise fewer
// than a majority of them, starting at slot 0 in half the runs.
func drawZombies(seed uint64, count int) zombiePlan {
	rng := sim.Stream(seed, "swarm/failover_zombie")
	on, slot0, k, pick, startAt := rng.IntN(2) == 0, rng.IntN(2) == 0, rng.Int(), rng.Int(), rng.IntN(zombieStartTicksMax+1)
	whole := rng.IntN(2) == 0
	if !on {
		return zombiePlan{}
	}
	p := zombiePlan{startAt: startAt, whole: whole}
	if whole {
		for i := 0; i < count; i++ {
			p.nodes = append(p.nodes, i)
		}
		return p
	}
	most := count / 2 // below a majority: no view change among them
	if most == 0 {
		return zombiePlan{}
	}
	first := 0
	if !slot0 {
		first = 1 + pick%(count-1)
	}
	for j := 0; j < 1+k%most; j++ {
		p.nodes = append(p.nodes, (first+j)%count)
	}
	return p
}

func (p zombiePlan) keeps(node int) bool {
	for _, i := range p.nodes {
		if i == node {
			return true
		}
	}
	return false
}

// zombieWatch holds the zombies to staying out of the new configuration. A zombie is in
// the new configuration when it holds its epoch and membership (slot 0 alone: the old
// region's configurations always count the promoted standby a member), or an epoch above
// it that it did not restart in. An epoch number alone does not tell: a standby promoted
// behind the region's last change gets the epoch that change entered (the failover's
// "isolated" moment), so a zombie may restart in an old configuration of the same epoch.
type zombieWatch struct {
	epoch    uint32 // the new configuration's epoch
	promoted int    // its node
	nodes    []int
	base     map[int]uint32 // each zombie's epoch when first seen running
	stopped  map[int]bool
	// inspect returns a running replica's state, nil while it is down.
	inspect func(node int) *vsr.Inspection
}

func newZombieWatch(epoch uint32, promoted int, nodes []int, inspect func(int) *vsr.Inspection) *zombieWatch {
	return &zombieWatch{epoch: epoch, promoted: promoted, nodes: nodes, base: map[int]uint32{}, stopped: map[int]bool{},
		inspect: inspect}
}

// inNew reports whether zombie node's state in is in the new configuration.
func (w *zombieWatch) inNew(node int, in *vsr.Inspection) bool {
	if _, seen := w.base[node]; !seen {
		w.base[node] = in.Epoch
	}
	members := memberSlots(in.Outside)
	return in.Epoch == w.epoch && len(members) == 1 && members[0] == 0 || in.Epoch > w.epoch && in.Epoch > w.base[node]
}

// checkEvent is one of a zombie's events held to staying out: "" if it does. A commit, a
// vote of its own or its entering a configuration is checked against the state it is in.
func (w *zombieWatch) checkEvent(e vsr.Event) string {
	if !w.zombie(e.Replica) {
		return ""
	}
	if e.Kind == vsr.EventStatus && strings.HasPrefix(e.Text, "stopped: removed") {
		w.stopped[e.Replica] = true
	}
	what := participation(e)
	if what == "" {
		return ""
	}
	in := w.inspect(e.Replica)
	if in == nil || !w.inNew(e.Replica, in) || in.Removed || in.Status == vsr.StatusStopped {
		return ""
	}
	return fmt.Sprintf("failover zombie: old active replica %d, back with its intact disk after cluster failover --promote-standby 100, %s in the new configuration's epoch %d (view %d, members %v): expected it to stop (or stay in its old configuration), never to join, vote or commit in it",
		e.Replica, what, in.Epoch, e.View, memberSlots(in.Outside))
}

// checkState is a running zombie's state held to staying out, with the promoted replica's
// (nil if it is down): "" if it does.
func (w *zombieWatch) checkState(node int, in, promoted *vsr.Inspection) string {
	if !w.inNew(node, in) || in.Removed || in.Status == vsr.StatusStopped || !memberOf(in.Outside, in.Replica) {
		return ""
	}
	twin := ""
	if promoted != nil && promoted.Epoch == in.Epoch && promoted.Replica == in.Replica {
		twin = fmt.Sprintf("; the promoted replica (node %d) holds the same index %d in epoch %d: two processes act as one replica",
			w.promoted, in.Replica, in.Epoch)
	}
	return fmt.Sprintf("failover zombie: old active replica %d, back with its intact disk after cluster failover --promote-standby 100, takes part in the new configuration: expected it outside epoch %d (stopped as removed, or in its old configuration), got status %s role %s replica %d epoch %d view %d (members %v)%s",
		node, w.epoch, in.Status, in.Role, in.Replica, in.Epoch, in.View, memberSlots(in.Outside), twin)
}

func (w *zombieWatch) zombie(node int) bool {
	for _, i := range w.nodes {
		if i == node {
			return true
		}
	}
	return false
}

func memberOf(outside uint16, i int) bool { return i >= 0 && i < 16 && outside&(1<<uint(i)) == 0 }

// startZombies arms the move after a promotion to epoch on node promoted: the zombies are
// outside what the Suite follows, start plan.startAt ticks from now, and are watched every
// tick. A violation goes to run.broken.
func (run *swarmRun) startZombies(plan zombiePlan, epoch uint32, promoted int) {
	if len(plan.nodes) == 0 {
		return
	}
	c := run.c
	inspect := func(i int) *vsr.Inspection {
		if r := c.Replica(i); r != nil {
			in := r.InspectState()
			return &in
		}
		return nil
	}
	w := newZombieWatch(epoch, promoted, plan.nodes, inspect)
	if run.outsiders == nil {
		run.outsiders = make([]bool, c.MemberCount())
	}
	for _, i := range plan.nodes {
		run.outsiders[i] = true
	}
	// The zombies' superblocks store the old configuration's audit heads: not the Suite's.
	if heads := run.storage.superblocks.onAuditHead; heads != nil {
		run.storage.superblocks.onAuditHead = func(replica int, op uint64, head [32]byte, seeded bool) {
			if !run.outsider(replica) {
				heads(replica, op, head, seeded)
			}
		}
	}
	previous := run.onReplicaEvent
	run.onReplicaEvent = func(e vsr.Event) {
		if run.broken == "" {
			run.broken = w.checkEvent(e)
		}
		if previous != nil {
			previous(e)
		}
	}
	c.Trace.Emitf(sim.LevelShort, promoted, "nemesis", "failover zombie: old active replicas %v kept with their disks, back in %d ticks",
		plan.nodes, plan.startAt)
	ticks := 0
	var watch func()
	watch = func() {
		if run.broken == "" {
			pin := inspect(promoted)
			for _, i := range plan.nodes {
				if in := inspect(i); in != nil && run.broken == "" {
					run.broken = w.checkState(i, in, pin)
				}
			}
		}
		if ticks++; ticks < zombieWatchTicks && run.broken == "" {
			c.Loop.After(sim.TickInterval, watch)
		} else {
			for _, i := range plan.nodes {
				if w.stopped[i] {
					run.nemesis.Marks().Hit(markZombieStopped)
				}
			}
		}
	}
	c.Loop.After(sim.Duration(plan.startAt)*sim.TickInterval, func() {
		for _, i := range plan.nodes {
			if c.Nodes[i].Status() == sim.NodeCrashed {
				c.StartReplica(i)
			}
		}
		run.nemesis.Marks().Hit(markZombieBack)
		if plan.whole {
			run.nemesis.Marks().Hit(markZombieWhole)
		}
		if plan.keeps(0) {
			run.nemesis.Marks().Hit(markZombieSlot0)
		}
		watch()
	})
}
