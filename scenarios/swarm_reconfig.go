package scenarios

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"vopr/cluster/kv"

	"vopr/cluster/vsr"
	"vopr/faults"
	"vopr/ops"
	"vopr/sim"
)

// The reconfiguring nemesis (faults.Swarm.Reconfig): during the fault phase it changes the
// membership the way an operator would, through the same steps as `cluster reconfig`
// (ClusterReconfigChange, ReplaceDisk), under every fault the seed draws: it removes an
// active replica or a standby, adds a slot that is outside (its disk replaced and formatted
// to join first, so a removed replica comes back wiped and state-syncs), and replaces a
// member (remove, new disk, add). One action at a time, each change awaited until it commits
// (asked again while no primary takes it). Its draws come from their own stream, so the
// nemesis's schedule is the seed's either way. The liveness phase then holds the final
// configuration to convergence: members must converge; removed replicas stay stopped and
// a slot still outside stays silent.

// reconfigRestoreTicks bounds the heal's restoring of the membership.
const reconfigRestoreTicks = 6000

// reconfigRate is the chance per tick, while idle, that the next action starts.
const reconfigRate = 0.004

// reconfigRetryTicks: a change asked but not committed after this long is asked again (its
// primary lost its view before preparing it, or a view change truncated it).
const reconfigRetryTicks = 300

type swarmReconfig struct {
	r       *rand.Rand
	path    string         // the action in progress, for coverage (coverage.path.reconfig_*)
	steps   []reconfigStep // what is left of it, in order
	wiping  bool           // a new disk is being formatted
	awaited uint32         // the epoch the last change asked for leads to (0: none)
	askedAt int            // the tick it was asked at
	tick    int
	// restoring: the heal is adding back what the nemesis left outside; no new action.
	restoring bool
	// settling: the last action completed; the next waits until every member has caught up
	// (settleTarget: caughtUp's), so that a replaced disk is whole again before another is
	// wiped (swarm seed 2026170937: two disks replaced a second apart, the first not yet
	// holding the ops the second took away, left an op only on two damaged copies).
	settling     bool
	settleTarget uint64
	// activeMin is the fewest active members a removal may leave: 2f+1 for the f replicas
	// the atlas lets random disk faults strike per zone, so that a quorum still holds an
	// intact copy of everything (a lone replica cannot repair a faulty entry at all).
	activeMin int
	// changes holds the accepted changes to what the operator was told (reconfig_ledger.go).
	changes changeLedger
	// twice (a seed in two, from its own stream twiceR): each change accepted is followed at
	// once by a second, the operator's next command typed before the first was prepared.
	twice  bool
	twiceR *rand.Rand
}

// reconfigStep is a change to ask for, or (wipe >= 0) a node whose disk to replace.
type reconfigStep struct {
	change vsr.Change
	wipe   int
}

func change(kind vsr.ChangeKind, node int) reconfigStep {
	return reconfigStep{change: vsr.Change{Kind: kind, Replica: node}, wipe: -1}
}

func newSwarmReconfig(seed uint64, atlasF int) *swarmReconfig {
	twiceR := sim.Stream(seed, "swarm/reconfig_twice")
	return &swarmReconfig{r: sim.Stream(seed, "reconfig"), activeMin: max(2*atlasF+1, 1), twice: sim.Chance(twiceR, 0.5),
		twiceR: twiceR}
}

// step runs one tick of the nemesis: it advances the action in progress or starts one.
func (run *swarmRun) stepReconfig() {
	rc := run.reconfig
	if rc == nil {
		return
	}
	rc.tick++
	c := run.c
	if why := rc.changes.observe(c); why != "" && run.broken == "" {
		run.broken = why
	}
	switch {
	case rc.wiping:
		return
	case rc.awaited > 0:
		if established(c, rc.awaited) {
			rc.awaited, rc.steps = 0, rc.steps[1:]
			if len(rc.steps) == 0 {
				run.paths["reconfig_"+rc.path]++
				rc.settling, rc.settleTarget = true, 0
			}
		} else if rc.tick-rc.askedAt > reconfigRetryTicks {
			rc.awaited = 0 // asked again below, next tick
		}
		return
	case len(rc.steps) > 0 && rc.steps[0].wipe >= 0:
		node := rc.steps[0].wipe
		rc.steps, rc.wiping = rc.steps[1:], true
		run.nemesis.Hold(node)
		run.storage.replacing = node
		ReplaceDisk(c, node, run.onReplacedDisk, func(err error) {
			rc.wiping = false
			run.nemesis.Release(node)
			run.storage.replacing = -1
			if !rc.restoring {
				run.c.Nodes[node].Disk.SetFaultsEnabled(true) // still the fault phase
			}
			if err != nil {
				run.broken = fmt.Sprintf("reconfig: formatting the replaced disk of replica %d: %v", node, err)
			}
		})
		return
	case len(rc.steps) > 0:
		run.askReconfig()
		return
	}
	if rc.settling {
		if !run.caughtUp(&rc.settleTarget) {
			return
		}
		rc.settling = false
	}
	run.nemesis.SetLeaving(-1)
	if !rc.restoring && sim.Chance(rc.r, reconfigRate) {
		rc.start(c, run.nemesis)
	}
}

// restoreMembership is the operator's part of the heal: every slot the nemesis left outside
// is added back (a new disk, then add-replica or add-standby), one at a time, so that the
// liveness phase runs on the cluster's whole size, as an operator restores it after an
// incident (a cluster shrunk to two members on slow disks gates every op on its slower one).
// It reports whether the membership is whole; the liveness phase then holds whatever
// configuration there is.
func (run *swarmRun) restoreMembership() bool {
	rc := run.reconfig
	if rc == nil {
		return true
	}
	rc.restoring = true
	// One slot at a time, each added member caught up before the next: a replica added on a
	// new disk writes the whole log it joins before it votes (its log view is durable only
	// then), and until one has, a configuration with two such members may have no quorum
	// (on slow disks, seconds per dozen ops: swarm seeds 20265476, 2026155682).
	var target uint64 // the primary's op_number once the last change was in force
	catching := true  // the cluster as the heal left it counts as a change to catch up with
	return run.runChecked(func() bool {
		run.stepReconfig()
		if rc.busy() {
			return false
		}
		if catching {
			if !run.caughtUp(&target) {
				return false
			}
			catching, target = false, 0
		}
		for i := 0; i < run.c.MemberCount(); i++ {
			if !run.c.IsMember(i) {
				rc.addBack(i, run.c.ReplicaCount())
				catching = true
				return false
			}
		}
		return true
	}, reconfigRestoreTicks)
}

// caughtUp reports whether the configuration in force commits again with every member: an op
// past *target (the primary's op_number when first asked: the clients' load goes on) is
// committed, and every member is normal and has executed up to it.
func (run *swarmRun) caughtUp(target *uint64) bool {
	p := run.c.Primary()
	if p < 0 {
		return false
	}
	primary := run.c.Replica(p).InspectState()
	if *target == 0 {
		*target = primary.Op
	}
	if primary.CommitMax <= *target {
		return false
	}
	for i := 0; i < run.c.MemberCount(); i++ {
		r := run.c.Replica(i)
		if r == nil || !run.c.IsMember(i) {
			continue
		}
		if in := r.InspectState(); in.Status != vsr.StatusNormal || in.CommitMin < *target {
			return false
		}
	}
	return true
}

// busy reports whether an action is in progress.
func (rc *swarmReconfig) busy() bool { return rc.wiping || rc.awaited > 0 || len(rc.steps) > 0 }

// addBack starts adding slot node back (its disk replaced first).
func (rc *swarmReconfig) addBack(node, replicas int) {
	kind, path := vsr.ChangeAddReplica, "add_replica"
	if node >= replicas {
		kind, path = vsr.ChangeAddStandby, "add_standby"
	}
	rc.path = path
	rc.steps = []reconfigStep{{wipe: node}, change(kind, node)}
}

// onReplacedDisk tells the checkers a node's disk is being replaced: its process is gone
// (inspect reports the crash, while its old disk is still there to read), then the disk.
func (run *swarmRun) onReplacedDisk(node int) {
	run.inspect()
	if run.checked {
		run.declareWipe(node)
	}
	// The new hardware runs the newest binary: it must run whatever release the cluster
	// has upgraded to, or stop (an operator installs the current release on a replacement).
	run.c.SetRelease(node, kv.ReleaseLatest)
}

// askReconfig asks the primary for the next change; a refusal that will not pass (the
// configuration moved under the action) drops the action.
func (run *swarmRun) askReconfig() {
	rc := run.reconfig
	rep, err := run.askChange(rc.steps[0].change)
	switch {
	case err == nil:
		rc.awaited, rc.askedAt = rep.Epoch, rc.tick
		if rc.twice || run.knobs.reconfigTwice {
			run.askTwice(rc.steps[0].change)
		}
	case retriable(err):
	default:
		if why := refusedValidChange(run.c, rc.steps[0].change); why != "" && run.broken == "" {
			run.broken = fmt.Sprintf("reconfig: the primary refused %s %d (%v), which its configuration allows: %s",
				rc.steps[0].change.Kind, rc.steps[0].change.Replica, err, why)
		}
		rc.steps = nil
		run.paths["reconfig_refused"]++
	}
}

// askChange asks the primary for a change (the knob's transport in a test) and enters an
// accepted one in the ledger.
func (run *swarmRun) askChange(change vsr.Change) (ops.ReconfigReport, error) {
	ask := ClusterReconfigChange
	if run.knobs.reconfigAsk != nil {
		ask = run.knobs.reconfigAsk
	}
	rep, err := ask(run.c, change)
	if err == nil {
		if why := run.reconfig.changes.accepted(run.c, change, rep); why != "" && run.broken == "" {
			run.broken = why
		}
	}
	return rep, err
}

// askTwice is the operator's slip: right after first was accepted, before it can have been
// prepared, another change the configuration allows is asked for. The primary must refuse it
// as busy, or carry out both in order (the ledger holds it to that). The second is one the
// nemesis could carry out safely after the first: a standby removed, or an active replica
// while enough stay.
func (run *swarmRun) askTwice(first vsr.Change) {
	rc, c := run.reconfig, run.c
	active, standbys := c.Members()
	var options []vsr.Change
	for _, i := range standbys {
		if i != first.Replica {
			options = append(options, vsr.Change{Kind: vsr.ChangeRemoveStandby, Replica: i})
		}
	}
	left := len(active) - 1
	if first.Kind == vsr.ChangeRemoveReplica {
		left--
	}
	for _, i := range active {
		if i != first.Replica && left >= rc.activeMin && !run.nemesis.SoleHolder(c, i) {
			options = append(options, vsr.Change{Kind: vsr.ChangeRemoveReplica, Replica: i})
		}
	}
	if len(options) == 0 {
		return
	}
	run.paths["reconfig_twice"]++
	_, _ = run.askChange(options[rc.twiceR.IntN(len(options))])
}

// refusedValidChange says why change is one the primary's configuration allows ("" if it is
// not, or there is no primary to ask): the tester's own reading of a membership change, from
// the slots the cluster was built with and the configuration the primary runs. A refusal
// other than "not now" (no primary, a change on its way) is then the replica's bug: the
// operator's valid command would fail.
func refusedValidChange(c *sim.Cluster, change vsr.Change) string {
	p := c.Primary()
	if p < 0 || c.Replica(p) == nil {
		return ""
	}
	in := c.Replica(p).InspectState()
	member := func(i int) bool { return in.Outside&(1<<uint(i)) == 0 }
	active := 0
	for i := 0; i < c.ReplicaCount(); i++ {
		if member(i) {
			active++
		}
	}
	i := change.Replica
	switch change.Kind {
	case vsr.ChangeAddReplica, vsr.ChangeRemoveReplica:
		if i < 0 || i >= c.ReplicaCount() {
			return ""
		}
	case vsr.ChangeAddStandby, vsr.ChangeRemoveStandby:
		if i < c.ReplicaCount() || i >= c.MemberCount() {
			return ""
		}
	default:
		return ""
	}
	add := change.Kind == vsr.ChangeAddReplica || change.Kind == vsr.ChangeAddStandby
	switch {
	case add && member(i), !add && !member(i):
		return ""
	case change.Kind == vsr.ChangeRemoveReplica && active <= 1:
		return ""
	}
	where := "a member"
	if add {
		where = "outside"
	}
	return fmt.Sprintf("slot %d is a %s slot, %s, with %d active members in epoch %d", i, change.Kind, where, active, in.Epoch)
}

// start draws the next action among those the configuration allows. A replica whose disk
// holds the only intact copy of an entry another member's disk has damaged is neither
// removed nor replaced (faults.Nemesis.SoleHolder), and one that is stops guaranteeing copies
// to the nemesis's correlated moves until the change is done.
func (rc *swarmReconfig) start(c *sim.Cluster, n *faults.Nemesis) {
	active, standbys := c.Members()
	var outsideActive, outsideStandbys []int
	for i := 0; i < c.MemberCount(); i++ {
		if !c.IsMember(i) {
			if i < c.ReplicaCount() {
				outsideActive = append(outsideActive, i)
			} else {
				outsideStandbys = append(outsideStandbys, i)
			}
		}
	}
	type action struct {
		name  string
		nodes []int
	}
	var options []action
	if len(outsideActive) > 0 {
		options = append(options, action{"add_replica", outsideActive})
	}
	if removable := slices.DeleteFunc(slices.Clone(active), func(i int) bool { return n.SoleHolder(c, i) }); len(active) > rc.activeMin && len(removable) > 0 {
		options = append(options, action{"remove_replica", removable}, action{"replace", removable})
	}
	if len(outsideStandbys) > 0 {
		options = append(options, action{"add_standby", outsideStandbys})
	}
	if len(standbys) > 0 {
		options = append(options, action{"remove_standby", standbys})
	}
	if len(options) == 0 {
		return
	}
	a := options[rc.r.IntN(len(options))]
	node := a.nodes[rc.r.IntN(len(a.nodes))]
	rc.path = a.name
	wipe := reconfigStep{wipe: node}
	switch a.name {
	case "add_replica":
		rc.steps = []reconfigStep{wipe, change(vsr.ChangeAddReplica, node)}
	case "remove_replica":
		rc.steps = []reconfigStep{change(vsr.ChangeRemoveReplica, node)}
		n.SetLeaving(node)
	case "replace":
		rc.steps = []reconfigStep{change(vsr.ChangeRemoveReplica, node), wipe, change(vsr.ChangeAddReplica, node)}
		n.SetLeaving(node)
	case "add_standby":
		rc.steps = []reconfigStep{wipe, change(vsr.ChangeAddStandby, node)}
	case "remove_standby":
		rc.steps = []reconfigStep{change(vsr.ChangeRemoveStandby, node)}
	}
}
