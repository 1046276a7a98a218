package scenarios

import (
	"errors"
	"fmt"

	"vopr/cluster/vsr"

	"vopr/sim"
)

// A DR failover in the swarm (faults.Swarm.Failover, a quarter of the seeds with standbys):
// after the nemesis heals, once standby 100 is in normal status, the active region is lost
// (every active replica and every other standby down for good, their disks wiped), and
// `cluster failover --promote-standby 100 --approve-data-loss-risk --force` (forced: the
// faults may have left it lagging; the count below holds either way) promotes it. The
// checkers are told (Suite.OnFailover) and the acknowledged ops they count lost must be the
// ones the clients were acknowledged above the promotion point. The liveness phase then runs
// on the new configuration, on fresh keys. The alert monitor samples the formatted
// configuration, so a run that failed over checks no alerts after it.
//
// Half the seeds that fail over with two replicas or more also run the reconfiguring
// nemesis (faults.Swarm.DrawFailoverReconfig), whose heal restores the membership before
// the failover (a standby to promote that was removed comes back on a new disk, and is
// promoted once normal; one that never settles skips the failover). Most of them make a
// last change just before the loss, which may leave the standby between views or restarting
// (swarm_failover_change.go): it is promoted as it is.

// failoverWaitTicks bounds the wait for the healed standby to be normal, and each window of
// the wait for the promotion's answer. The standby acknowledges nothing, so its disk may lag
// its log by many ops; on a slow disk writing them takes longer than one window (fresh-range
// seed 2026229459: 24 ops at 85 ms a write, 10 s), and the operator waits on while the
// standby's storage makes progress, for up to failoverWindowsMax windows.
const (
	failoverWaitTicks  = 1000
	failoverWindowsMax = 20
)

// loseRegion loses the active region: every node but standby down for good (the nemesis
// forgets them). It returns them.
func (run *swarmRun) loseRegion(standby int) []int {
	c := run.c
	var gone []int
	for i := 0; i < c.MemberCount(); i++ {
		if i == standby {
			continue
		}
		if c.Nodes[i].Status() != sim.NodeCrashed {
			c.CrashReplica(i)
		}
		gone = append(gone, i)
	}
	run.nemesis.Forget(gone)
	run.gone = map[int]bool{}
	for _, i := range gone {
		run.gone[i] = true
	}
	return gone
}

// failover runs the failover; it returns a correctness failure, or "". The operator acts a
// drawn reaction time after the loss (its own stream), and the standby's contact lag must
// hold meanwhile (holdContactLag).
func (run *swarmRun) failover(seed uint64) string {
	c := run.c
	standby := c.ReplicaCount()
	normal := func() bool { return replicaStatus(c, standby).Healthy() }
	if !run.runChecked(normal, failoverWaitTicks) {
		run.failoverSkipped = true // the healed standby never settled: no failover this run
		return ""
	}
	restart := run.runLastChange(seed, standby) // swarm_failover_change.go
	gone := run.loseRegion(standby)
	zombies := drawZombies(seed, c.ReplicaCount()) // kept with their disks (swarm_failover_zombie.go)
	if restart {
		c.CrashReplica(standby)
		run.inspect() // the checkers see its old process gone
		c.StartReplica(standby)
		opened := func() bool {
			st := replicaStatus(c, standby)
			return st.Standby != nil && st.Status != vsr.StatusRecovering.String()
		}
		if !run.runChecked(opened, failoverWaitTicks) {
			run.failoverSkipped = true // it cannot open without the lost region: nothing to promote
			return ""
		}
	}
	wait := func(ticks int) { run.runChecked(func() bool { return false }, ticks) }
	reaction := run.lastChange.reaction(drawReaction(seed, "swarm/failover_reaction"))
	settled, reason := holdContactLag(c, standby, reaction, wait, run.knobs.contactLagGrows)
	if reason == "" {
		reason = run.safety()
	}
	if reason != "" {
		return reason
	}
	before := replicaStatus(c, standby)
	if before.Status == vsr.StatusViewChange.String() {
		run.lastChange.betweenViews++ // promoted between views (swarm_failover_change.go)
	}
	var result *FailoverResult
	var err error
	inFlight := false
	promoted := func() bool { // asks again while the standby's last writes land (busy)
		if inFlight {
			return false
		}
		if result != nil && !errors.Is(err, vsr.ErrPromoteBusy) {
			return true
		}
		result, inFlight = nil, true
		if run.knobs.refuseBetweenViews && replicaStatus(c, standby).Status == vsr.StatusViewChange.String() {
			result, err, inFlight = &FailoverResult{}, errors.New("promote: refused between views (test knob)"), false
			return true
		}
		ClusterFailover(c, standby, true, true, func(r FailoverResult, e error) { result, err, inFlight = &r, e, false })
		return false
	}
	writes := func() uint64 { return c.Nodes[standby].Disk.Stats().Writes }
	for window := 0; window < failoverWindowsMax; window++ {
		before := writes()
		if run.runChecked(promoted, failoverWaitTicks) || writes() == before {
			break // answered, or the standby's storage stood still for a whole window
		}
	}
	switch {
	case run.safety() != "":
		return run.safety()
	case result == nil:
		return "cluster failover --promote-standby 100: no answer"
	case err != nil:
		return fmt.Sprintf("cluster failover --promote-standby 100: %v", err)
	}
	if reason := failoverJudgedFairly(settled, result.Plan); reason != "" {
		return reason
	}
	if result.Promote.Epoch > before.Epoch+1 {
		run.lastChange.keptAhead++ // its kept log moves past its epoch (swarm_failover_change.go)
	}
	point := result.Promote.Op
	lost := run.suite.OnFailover(int64(c.Loop.Now()), point, standby)
	// Unchecked runs (--unchecked, the benchmark's checkers_off) show the checkers nothing,
	// so they have nothing to count.
	if above := ackedAbove(run.ackedOps, point); run.checked && len(lost) != len(above) {
		return fmt.Sprintf("failover to op %d: the checkers count %d acknowledged ops lost, the clients were acknowledged %d above it (%v)",
			point, len(lost), len(above), above)
	}
	for _, i := range gone {
		if !zombies.keeps(i) {
			c.Nodes[i].Disk.Reformat() // after the checkers moved to the new configuration's disk
		}
	}
	run.releaseHeld() // the lost configuration's late replies, to a reconfigured client
	run.paths["failover"]++
	run.failoverLost = uint64(len(lost))
	run.inspect() // the checkers see the standby's old process gone
	c.StartReplica(standby)
	run.startZombies(zombies, result.Promote.Epoch, standby)
	run.keyPrefix = "failover."
	run.alerts.unsampled = true
	return ""
}
