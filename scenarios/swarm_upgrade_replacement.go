package scenarios

import (
	"fmt"
	"strings"

	"vopr/cluster/vsr"
	"vopr/sim"
)

// The upgrade-replacement episode: hardware replaced in the middle of a rolling upgrade. The
// runbook's rolling upgrade restarts the replicas one by one on the new binary, and the
// cluster release rises only once every member reports a binary that knows it (vsr
// upgrade.go: the upgrade target is the lowest release the members reported, and a member
// that has not reported blocks it). Hardware fails at any time, the upgrade's included: the
// operator removes the replica, replaces its disk and adds the new node back, installing on
// it the cluster's current release (an operator installs the current release on a
// replacement, swarm_reconfig.go), which may be older than the binary the slot's previous
// occupant had been upgraded to. A report is the binary of a process in a configuration, so
// a report of the slot's previous occupant says nothing of the new node: a primary that
// counts it, or any report older than the configuration, may upgrade the cluster past the
// new node's binary, which then stops (release too old) as it catches up. The swarm never
// meets this: its replacements run the newest binary, and its nemesis only upgrades.
//
// Some passing swarm seeds end with one such drill on a cluster of its own (three replicas,
// every invariant checker): two backups upgraded, one of them (the victim) then replaced by
// a node on the old release whose network is not up yet (so it reports nothing for a
// while), the last replica upgraded, and its primary role moved around so that the replica
// that had heard the victim's old report leads. While the victim stays silent the cluster
// release must not rise (checkUpgradeBinaries judges every upgrade op against the binaries
// installed, and no replica may stop as too old); once its network is up it must catch up;
// once it is upgraded too, the cluster release must rise. The draws come from the seed's
// "swarm_upgrade_replacement" stream, so the swarm's other draws are unchanged.

// upgradeReplacementOneIn is how many passing swarm seeds share one drill (about as costly
// as a runbook drill).
const upgradeReplacementOneIn = 8

const (
	upgradeReplacementTicks    = 14000
	upgradeReplacementPhaseMax = 1500
	// upgradeReplacementLeads is how many times the drill restarts a primary that is not the
	// replica it wants to lead (each restart moves the view on).
	upgradeReplacementLeads = 6
	// upgradeReplacementSilentTicks is how long the victim stays cut off once that replica
	// leads: the primary decides upgrades at every tick.
	upgradeReplacementSilentTicks = 300
)

// upgradeReplacementEpisode is the drill as the swarm draws and runs it.
var upgradeReplacementEpisode = oneInEpisode{stream: "swarm_upgrade_replacement", label: "upgrade-replacement",
	oneIn: upgradeReplacementOneIn, run: runUpgradeReplacement, fold: func(counters map[string]uint64, er Result) {
		counters["coverage.episode.upgrade_replacement"]++
		counters["episode.upgrade_replacement.led"] += er.Counters["upgrade_replacement.led"]
	}}

type upgradeReplacementRun struct {
	*runbookRun
}

// runUpgradeReplacement runs one drill.
func runUpgradeReplacement(o Options) Result {
	rng := sim.Stream(o.Seed, "upgrade_replacement")
	delay := sim.Duration(1+rng.IntN(4)) * sim.Millisecond
	run := &upgradeReplacementRun{runbookRun: newRunbookRun(o, 3, 1+rng.IntN(2), upgradeReplacementTicks,
		upgradeReplacementPhaseMax, runbookWorld(delay, sim.DiskOptions{}))}
	run.onReplicaEvent = run.checkEvent
	outcome, reason := run.finish(run.procedure(rng.IntN(2)))
	return run.result(o, "upgrade_replacement", fmt.Sprintf("net.delay=%s", delay), outcome, reason, "upgrade")
}

// checkEvent holds every upgrade op to the binaries installed, and no replica may stop as
// too old: nothing is ever rolled back here.
func (run *upgradeReplacementRun) checkEvent(e vsr.Event) {
	if run.broken != "" {
		return
	}
	if v := checkUpgradeBinaries(run.c, e); v != "" {
		run.broken = v
	} else if e.Kind == vsr.EventStatus && strings.HasPrefix(e.Text, "stopped: release too old") {
		run.broken = fmt.Sprintf("upgrade_beyond_binaries: replica %d stopped, no binary was rolled back: %s", e.Replica, e.Text)
	}
}

// restartOn restarts replica i on binary release and waits until it caught up.
func (run *upgradeReplacementRun) restartOn(i int, release uint32, what string) (Outcome, string) {
	run.c.CrashReplica(i)
	run.inspect()
	run.c.SetRelease(i, release)
	return run.restartAndCatchUp(i, what, upgradeReplacementPhaseMax)
}

func (run *upgradeReplacementRun) procedure(pick int) (Outcome, string) {
	c := run.c
	healthy := func() bool { return ClusterStatus(c).Healthy == 3 && run.acked > 0 }
	if !run.until(healthy, upgradeReplacementPhaseMax) {
		return run.fail(Liveness, "upgrade replacement: the cluster never reported every replica healthy under load")
	}
	last := ClusterStatus(c).Primary
	var backups []int
	for i := 0; i < 3; i++ {
		if i != last {
			backups = append(backups, i)
		}
	}
	heard, victim := backups[pick], backups[1-pick]
	// 1. The rolling upgrade's first two steps: both backups on the new binary.
	for _, i := range []int{heard, victim} {
		if outcome, reason := run.restartOn(i, releaseNew, "upgrade replacement: upgrading a backup"); outcome != Pass {
			return outcome, reason
		}
	}
	run.pause(50) // the victim's new report reaches its peers
	// 2. The victim's hardware fails: removed, its disk replaced, the node installed with the
	// cluster's current release, its network not up yet; then added back.
	if outcome, reason := run.removeReplica(victim, "upgrade replacement"); outcome != Pass {
		return outcome, reason
	}
	c.Network.Isolate(victim)
	c.SetRelease(victim, releaseOld)
	if outcome, reason := run.replaceHardware(victim, "upgrade replacement"); outcome != Pass {
		return outcome, reason
	}
	if _, err := run.op.Reconfig("add-replica", victim, nil); err != nil {
		return run.failReconfig("upgrade replacement", "add-replica", victim, err)
	}
	// 3. The last replica upgraded; then the replica that heard the victim's old report leads.
	if outcome, reason := run.restartOn(last, releaseNew, "upgrade replacement: upgrading the last replica"); outcome != Pass {
		return outcome, reason
	}
	for n := 0; n < upgradeReplacementLeads && run.broken == ""; n++ {
		p := ClusterStatus(c).Primary
		if p == heard {
			run.counts["upgrade_replacement.led"]++
			break
		}
		if p >= 0 {
			if outcome, reason := run.restartOn(p, releaseNew, "upgrade replacement: moving the primary"); outcome != Pass {
				return outcome, reason
			}
		} else {
			run.pause(50)
		}
	}
	run.pause(upgradeReplacementSilentTicks)
	if run.broken != "" {
		return run.fail(Correctness, "%s", run.broken)
	}
	// 4. The victim's network comes up: it catches up, still on the old cluster release; once
	// it is upgraded too, the cluster release rises.
	c.Network.Heal()
	target := clusterCommit(c)
	caughtUp := func() bool {
		s := ReplicaStatus(c, victim)
		return s.Status == vsr.StatusNormal.String() && s.CommitMin >= target
	}
	if !run.until(caughtUp, 2*upgradeReplacementPhaseMax) {
		return run.fail(Liveness, "upgrade replacement: replica %d, replaced on release %d, did not catch up to op %d once its network was up: %s",
			victim, releaseOld, target, ReplicaStatus(c, victim))
	}
	if v := ClusterVersion(c); v.Cluster != releaseOld {
		return run.fail(Correctness, "upgrade replacement: cluster release %d with replica %d on release %d", v.Cluster, victim, releaseOld)
	}
	if outcome, reason := run.restartOn(victim, releaseNew, "upgrade replacement: upgrading the replacement"); outcome != Pass {
		return outcome, reason
	}
	if !run.until(func() bool { return ClusterVersion(c).Cluster == releaseNew }, upgradeReplacementPhaseMax) {
		return run.fail(Liveness, "upgrade replacement: cluster release not raised once every replica ran release %d: %s",
			releaseNew, ClusterVersion(c))
	}
	run.load = false
	if !run.until(run.converged, upgradeReplacementPhaseMax) {
		return run.fail(Liveness, "upgrade replacement: no convergence after the upgrade")
	}
	return Pass, ""
}
