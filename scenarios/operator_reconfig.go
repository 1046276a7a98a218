package scenarios

import (
	"errors"
	"fmt"

	"vopr/cluster/vsr"
	"vopr/ops"
	"vopr/sim"
)

// ClusterReconfigChange asks the current primary for one membership change
// (ops.Reconfigure): the simulator's transport of one step of `cluster reconfig`. The
// change takes effect once its op commits: the configuration's epoch (sim
// Cluster.Configuration) reaches the report's Epoch.
func ClusterReconfigChange(c *sim.Cluster, change vsr.Change) (ops.ReconfigReport, error) {
	p := c.Primary()
	if p < 0 {
		return ops.ReconfigReport{}, sim.ErrNoPrimary
	}
	var rep ops.ReconfigReport
	var err error
	if e := onReplica(c, p, func(r *vsr.Replica) { rep, err = ops.Reconfigure(r, p, change) }); e != nil {
		return rep, e
	}
	return rep, err
}

// retriable reports whether a refused change may be asked again a moment later: no
// primary now, or the previous change still on its way.
func retriable(err error) bool {
	return errors.Is(err, sim.ErrNoPrimary) || errors.Is(err, vsr.ErrReconfigBusy) ||
		errors.Is(err, vsr.ErrReconfigNotPrimary) || errors.Is(err, ErrReplicaUnreachable)
}

// ReplaceDisk is the hardware replacement between a replace's two changes: node's process
// is stopped, its disk replaced and formatted to join (`kimberlite format --join`), and
// the process started again; it waits, silent, until the add-replica change includes it.
// onWipe (may be nil) tells the checkers the disk's old contents are gone.
// In some replacements the operator first runs the format by mistake against the old disk,
// or again against the new one (operator_format.go): it must refuse, else done gets the
// violation.
func ReplaceDisk(c *sim.Cluster, node int, onWipe func(node int), done func(error)) {
	c.CrashReplica(node)
	r := sim.Stream(c.Seed, fmt.Sprintf("operator/mistaken_format/%d/%d", node, c.Loop.Now()))
	formatOld, formatNew := r.IntN(mistakenFormatOldOneIn) == 0, r.IntN(mistakenFormatNewOneIn) == 0
	mistake := func(run bool, next func()) {
		if !run {
			next()
			return
		}
		mistakenFormat(c, node, c.Nodes[node].Disk, func(violation string) {
			if violation != "" {
				done(errors.New(violation))
				return
			}
			next()
		})
	}
	mistake(formatOld, func() {
		if onWipe != nil {
			onWipe(node)
		}
		c.FormatJoining(node, func(err error) {
			if err != nil {
				done(err)
				return
			}
			mistake(formatNew, func() {
				c.StartReplica(node)
				done(nil)
			})
		})
	})
}

// Reconfig runs `kimberlite-cli cluster reconfig COMMAND --replica-id ID` to completion
// (ops.PlanReconfig): each change is asked of the primary, again while there is none or the
// last change is still on its way, and awaited until it has committed; a replace replaces
// the node's disk between its two changes (ReplaceDisk).
func (o *Operator) Reconfig(command string, id int, onWipe func(node int)) (ops.ReconfigPlan, error) {
	plan, err := ops.PlanReconfig(command, id, o.C.ReplicaCount(), o.C.StandbyCount())
	line := fmt.Sprintf("cluster reconfig %s --replica-id %d", command, id)
	if err != nil {
		logOperator(o.C, line, answer("", err))
		return plan, err
	}
	for k, change := range plan.Changes {
		if k > 0 && plan.WipeBetween {
			if _, err := awaitAction(o, fmt.Sprintf("replace the disk of replica %d; kimberlite format --join", id),
				func(done func(struct{}, error)) {
					ReplaceDisk(o.C, plan.Replica, onWipe, func(err error) { done(struct{}{}, err) })
				}); err != nil {
				return plan, err
			}
		}
		if err := o.reconfigChange(line, change); err != nil {
			return plan, err
		}
	}
	return plan, nil
}

// reconfigChange asks for one change until a primary takes it, then awaits its commit.
func (o *Operator) reconfigChange(line string, change vsr.Change) error {
	var rep ops.ReconfigReport
	var err error
	taken := false
	_, err = awaitAction(o, fmt.Sprintf("%s: %s %d", line, change.Kind, change.Replica), func(done func(struct{}, error)) {
		o.untilTicks(func() bool {
			rep, err = ClusterReconfigChange(o.C, change)
			taken = err == nil
			return taken || !retriable(err)
		}, func() { done(struct{}{}, err) })
	})
	if err != nil || !taken {
		return err
	}
	vanished := o.changes.accepted(o.C, change, rep)
	_, err = awaitAction(o, fmt.Sprintf("await configuration epoch %d", rep.Epoch), func(done func(struct{}, error)) {
		o.untilTicks(func() bool {
			if vanished == "" {
				vanished = o.changes.observe(o.C)
			}
			return vanished != "" || established(o.C, rep.Epoch)
		}, func() { done(struct{}{}, nil) })
	})
	if err == nil && vanished != "" {
		err = errors.New(vanished)
	}
	return err
}

// established reports whether the configuration of epoch (or a later one) is in force: a
// replica of it is the normal primary of a view. Until then the old configuration's
// replicas, a removed one included, may be the only ones that know the change committed
// (vsr/reconfig.go): a removed replica's disk is replaced only after this.
func established(c *sim.Cluster, epoch uint32) bool {
	now, _ := c.Configuration()
	return now >= epoch && c.Primary() >= 0
}

// untilTicks checks cond now and then at every tick of the loop, and calls done once it holds.
func (o *Operator) untilTicks(cond func() bool, done func()) {
	if cond() {
		o.C.Loop.After(0, done)
		return
	}
	o.C.Loop.After(sim.Duration(sim.TickInterval), func() { o.untilTicks(cond, done) })
}
