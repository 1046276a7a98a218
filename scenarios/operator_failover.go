package scenarios

import (
	"fmt"

	"vopr/cluster/vsr"
	"vopr/ops"
	"vopr/sim"
)

// FailoverResult is what `cluster failover` did: the plan the operator was shown and the
// promotion.
type FailoverResult struct {
	Plan    ops.FailoverPlan
	Promote vsr.PromoteReport
}

// ClusterFailover is `kimberlite-cli cluster failover --promote-standby ID
// [--approve-data-loss-risk] [--force]` on standby node: ops.PlanFailover decides from the
// standby's status (refused without the approval, or for an ineligible standby unless
// forced), then the running standby is promoted (sim.Cluster.PromoteStandby: the single
// active replica of a new configuration epoch, restarted, the clients following it).
func ClusterFailover(c *sim.Cluster, node int, approve, force bool, done func(FailoverResult, error)) {
	plan, err := ops.PlanFailover(replicaStatus(c, node), approve, force)
	if err != nil {
		c.Loop.After(0, func() { done(FailoverResult{Plan: plan}, err) })
		return
	}
	c.PromoteStandby(node, func(rep vsr.PromoteReport, err error) {
		done(FailoverResult{Plan: plan, Promote: rep}, err)
	})
}

// Failover runs ClusterFailover to completion.
func (o *Operator) Failover(node int, approve, force bool) (FailoverResult, error) {
	command := fmt.Sprintf("cluster failover --promote-standby %d", replicaID(o.C, node))
	if approve {
		command += " --approve-data-loss-risk"
	}
	if force {
		command += " --force"
	}
	return awaitAction(o, command, func(done func(FailoverResult, error)) { ClusterFailover(o.C, node, approve, force, done) })
}
