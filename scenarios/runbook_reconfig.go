package scenarios

import (
	"fmt"

	"vopr/cluster/vsr"
	"vopr/sim"
)

// The runbook's membership steps, shared by the scenarios that remove a replica and add it
// back (replica_crash Option C, assertion_failure): `cluster reconfig remove-replica`, the
// hardware replaced (a new disk formatted to join), `cluster reconfig add-replica`, and the
// watch until the new replica has state-synced and caught up. Each change goes through the
// log (Operator.Reconfig) while the clients' load runs and every checker watches.

// removeReplica is `cluster reconfig remove-replica --replica-id victim`: the change commits
// and the newest configuration no longer holds the victim.
func (run *runbookRun) removeReplica(victim int, what string) (Outcome, string) {
	if _, err := run.op.Reconfig("remove-replica", victim, nil); err != nil {
		return run.failReconfig(what, "remove-replica", victim, err)
	}
	if run.c.IsMember(victim) {
		return run.fail(Correctness, "%s: replica %d still a member after remove-replica committed", what, victim)
	}
	run.counts["reconfig.remove_replica"]++
	return Pass, ""
}

// replaceHardware stops the victim's node, replaces its disk with a new one formatted to
// join (the checkers are told its old contents are gone) and starts it: it must wait,
// outside the configuration, without taking part.
func (run *runbookRun) replaceHardware(victim int, what string) (Outcome, string) {
	onWipe := func(node int) { run.declareWipe(node) }
	_, err := awaitAction(run.op, fmt.Sprintf("replace the hardware of replica %d; kimberlite format --join", victim),
		func(done func(struct{}, error)) {
			ReplaceDisk(run.c, victim, onWipe, func(err error) { done(struct{}{}, err) })
		})
	if err != nil {
		return run.fail(Correctness, "%s: replacing the disk of replica %d: %v", what, victim, err)
	}
	if s := ReplicaStatus(run.c, victim); s.Status != vsr.StatusRecovering.String() {
		return run.fail(Correctness, "%s: replica %d on its new disk is %s before it is added, want recovering (joining)",
			what, victim, s)
	}
	run.counts["hardware.replaced"]++
	return Pass, ""
}

// addReplicaAndSync is `cluster reconfig add-replica --replica-id victim`, then the watch:
// the victim, on its new disk, becomes a normal member and executes up to the commit the
// cluster had when it was added (by state sync, when the cluster is past a checkpoint).
func (run *runbookRun) addReplicaAndSync(victim int, what string, phaseMax int) (Outcome, string) {
	if _, err := run.op.Reconfig("add-replica", victim, nil); err != nil {
		return run.failReconfig(what, "add-replica", victim, err)
	}
	run.counts["reconfig.add_replica"]++
	target := clusterCommit(run.c)
	caughtUp := func() bool {
		r := run.c.Replica(victim)
		if r == nil || !run.c.IsMember(victim) {
			return false
		}
		in := r.Inspect()
		return in.Status == vsr.StatusNormal && in.CommitMin >= target
	}
	if !run.until(caughtUp, phaseMax) {
		return run.fail(Liveness, "%s: replica %d added back did not catch up to op %d: %s", what, victim, target,
			ReplicaStatus(run.c, victim))
	}
	in := run.c.Replica(victim).Inspect()
	run.counts["rejoin.state_syncs"] += in.Metrics.StateSyncs
	run.counts["rejoin.commit"] = in.CommitMin
	epoch, _ := run.c.Configuration()
	run.counts["reconfig.epoch"] = uint64(epoch)
	return Pass, ""
}

// failReconfig classifies a `cluster reconfig` that did not complete: out of time is
// liveness, a refusal is a runbook step that does not hold.
func (run *runbookRun) failReconfig(what, command string, victim int, err error) (Outcome, string) {
	if err == ErrTimeout {
		return run.fail(Liveness, "%s: cluster reconfig %s --replica-id %d did not complete", what, command, victim)
	}
	return run.fail(Correctness, "%s: cluster reconfig %s --replica-id %d: %v", what, command, victim, err)
}

// clusterCommit is the highest commit any replica reports (`cluster status`).
func clusterCommit(c *sim.Cluster) uint64 {
	commit := uint64(0)
	for _, s := range ClusterStatus(c).Replicas {
		commit = max(commit, s.Commit)
	}
	return commit
}
