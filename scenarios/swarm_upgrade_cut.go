package scenarios

import (
	"encoding/binary"
	"fmt"

	"vopr/cluster/kv"
	"vopr/cluster/vsr"
	"vopr/sim"
)

// The upgrade op lost in a view change. Once every replica runs a binary of a newer release,
// the primary prepares the upgrade op (vsr/upgrade.go), and no other until that one has
// executed. If the primary is cut off before a quorum holds that prepare, the view change
// that follows truncates it, and each later primary must prepare the upgrade again: one that
// still counts the lost op as pending waits for it to execute, forever on an idle cluster, and
// the cluster's release never rises although every binary supports it.
//
// A real cluster meets this at the end of a rolling upgrade. Operators upgrade in a quiet
// window, so the cluster is idle and the upgrade op is the first thing any new primary
// prepares; the restarts of the upgrade itself and the network trouble that often comes with
// maintenance (a switch or a link reconfigured in the same window) cut primaries off, and a
// flapping link can cut several in a row, each one just as it prepares. Views rotate through
// the replicas, so the first primary to lose its prepare leads again after one view per
// replica. The fault phase never lines this up: its load commits client ops past the lost
// upgrade op, which releases any stale wait, and its faults fall at random.
//
// So once the healed cluster has held its view (after the rounds of swarm_isolation.go,
// swarm_deposed.go and swarm_blip.go), in every seed with at least three active replicas and
// a release left to upgrade to, with the load stopped: the operator restarts each active
// replica whose binary is older than the newest release on the newest one, backups first and
// the primary last, waiting for the cluster to converge after each but the last. Every
// primary that then prepares an upgrade op in a view later than the last cut is cut off from
// every node just as it sends it (so no one receives it; what it sent before arrives), and
// the replica cut before it comes back: one outage at a time, so the others keep a quorum. The first replica cut is
// never cut again, so the chain ends when it leads again (or after one cut per active
// replica). Then the network heals, and every active replica's cluster release must reach
// the lowest binary release within the budget of a convergence. Before the round, the same
// check applies to the held cluster as it is: every binary newer than the cluster release
// and no upgrade after the heal and the hold is the same failure.

// upgradeCutState is the round's chain of cuts, and its counters.
type upgradeCutState struct {
	armed bool
	first int // the first primary cut, -1 until then
	// firstView is the view in which first prepared the upgrade op it lost; cut is the
	// replica cut off now (-1 if none); lastView the view of the newest cut's prepare.
	firstView, lastView uint32
	cut                 int
	cuts, cutsMax       int
	// back: the first primary cut led a later view.
	back bool
	// rounds counts the rounds that cut a primary's upgrade prepare; returned those in
	// which the first primary cut led again.
	rounds, returned uint64
}

// upgradeCutRound runs the round; the reason it failed, or "".
func (run *swarmRun) upgradeCutRound(livenessTicks int) string {
	c := run.c
	active, p, ok := run.roundCluster(livenessTicks, 3)
	if !ok || !run.checked {
		return ""
	}
	if reason := run.releaseBehind(); reason != "" {
		return reason + fmt.Sprintf(" after the heal, convergence and a hold of %s", alertSettle+alertHold)
	}
	order := upgradeOrder(c, active, p)
	if len(order) == 0 {
		return "" // every binary is the newest already: no upgrade left to lose
	}
	budget := run.electionBudget(livenessTicks)
	run.runChecked(run.logsWritten, livenessTicks/4) // nothing acknowledged lives only in memory (swarm_lasting.go)
	u := &run.upgradeCut
	u.armed, u.first, u.cut, u.cuts, u.cutsMax, u.lastView, u.back = true, -1, -1, 0, len(active), 0, false
	c.Trace.Emitf(sim.LevelShort, -1, "nemesis", "upgrade_cut: replicas %v restart on release %d; each primary that "+
		"prepares the upgrade is cut off as it sends it", order, kv.ReleaseLatest)
	for k, i := range order {
		c.CrashReplica(i)
		run.inspect() // the checkers hear of the crash before the new process reports anything
		c.SetRelease(i, kv.ReleaseLatest)
		c.StartReplica(i)
		if k < len(order)-1 && !run.runChecked(run.converged, budget) {
			u.armed = false
			if run.safety() != "" {
				return ""
			}
			return fmt.Sprintf("no convergence within %d ticks after R%d restarted on release %d", budget, i, kv.ReleaseLatest)
		}
	}
	run.runChecked(func() bool { return run.firstCutLeads() || run.releaseBehind() == "" }, budget)
	u.armed = false
	if u.back {
		u.returned++
	}
	c.Network.Heal()
	if run.knobs.afterUpgradeCut != nil {
		run.knobs.afterUpgradeCut(c)
	}
	cuts := "no primary cut off as it prepared the upgrade"
	if u.first >= 0 {
		u.rounds++
		cuts = fmt.Sprintf("%d primaries cut off as they prepared the upgrade (the first, R%d, in view %d; it led again: %t)",
			u.cuts, u.first, u.firstView, u.back)
	}
	c.Trace.Emitf(sim.LevelShort, -1, "nemesis", "upgrade_cut ends: the network heals after %s", cuts)
	if !run.runChecked(func() bool { return run.releaseBehind() == "" }, budget) {
		if run.safety() != "" {
			return ""
		}
		return run.releaseBehind() + fmt.Sprintf(" within %d ticks after the network healed, following %s", budget, cuts)
	}
	if !run.runChecked(run.converged, budget) {
		return fmt.Sprintf("no convergence within %d ticks after the upgrade_cut round", budget)
	}
	return ""
}

// upgradeOrder lists the active replicas whose binary is older than the newest release,
// backups first and the primary p last (the runbook's order).
func upgradeOrder(c *sim.Cluster, active []int, p int) []int {
	var order []int
	for _, i := range active {
		if i != p && binaryRelease(c, i) < kv.ReleaseLatest {
			order = append(order, i)
		}
	}
	if binaryRelease(c, p) < kv.ReleaseLatest {
		order = append(order, p)
	}
	return order
}

// binaryRelease is the release of the binary replica i's node boots (0 means the base).
func binaryRelease(c *sim.Cluster, i int) uint32 { return max(c.Release(i), kv.ReleaseBase) }

// firstCutLeads reports whether the first primary cut leads again, in a later view: the state
// the round is for. It notes it (back) for the round's counter.
func (run *swarmRun) firstCutLeads() bool {
	u := &run.upgradeCut
	if u.first < 0 || run.c.Primary() != u.first || run.c.Replica(u.first).InspectState().View <= u.firstView {
		return u.back
	}
	u.back = true
	return true
}

// releaseBehind returns why the cluster's release is behind its binaries ("" if it is not):
// an active replica whose cluster release is below the lowest binary release of the active
// replicas, all of which must be up.
func (run *swarmRun) releaseBehind() string {
	c := run.c
	active, _ := c.Members()
	target := kv.ReleaseLatest
	for _, i := range active {
		target = min(target, binaryRelease(c, i))
	}
	for _, i := range active {
		r := c.Replica(i)
		if r == nil {
			return fmt.Sprintf("release_stuck: R%d is down", i)
		}
		if in := r.InspectState(); in.ClusterRelease < target {
			return fmt.Sprintf("release_stuck: every active replica runs a binary of release %d or later, but R%d "+
				"(%s %s view %d commit %d) runs cluster release %d", target, i, in.Status, in.Role, in.View, in.CommitMin,
				in.ClusterRelease)
		}
	}
	return ""
}

// onUpgradePrepare cuts off a primary as it sends an upgrade prepare it has just made, while
// the round is armed (see upgradeCutState), and reconnects the replica cut before it.
// It runs before the network takes the message, so no replica receives it.
func (run *swarmRun) onUpgradePrepare(from int, msg []byte) {
	u := &run.upgradeCut
	if !u.armed {
		return
	}
	m, err := vsr.Decode(msg, run.c.ClusterID())
	r := run.c.Replica(from)
	if err != nil || r == nil || m.Header.View <= u.lastView || !createdNow(r.TraceState(), m.Header) ||
		!isUpgradeBatch(m.Body) {
		return
	}
	if from == u.first {
		u.back = true // it leads again, and prepares the upgrade anew: the chain is over
		return
	}
	if u.cuts >= u.cutsMax {
		return
	}
	c := run.c
	c.Network.Heal() // the replica cut before comes back: one outage at a time
	// What it sent before still arrives: a new primary's start_view, sent just before its
	// upgrade prepare, installs its view (a cut that dropped it too would leave the backups
	// on the older log view, whose longer log, with an earlier primary's upgrade op in it,
	// the next view change would then choose).
	c.Network.IsolateBehind(from)
	if u.first < 0 {
		u.first, u.firstView = from, m.Header.View
	}
	u.cut, u.lastView = from, m.Header.View
	u.cuts++
	c.Trace.Emitf(sim.LevelShort, from, "nemesis", "upgrade_cut: primary R%d of view %d cut off as it sends the upgrade op %d",
		from, m.Header.View, m.Header.Op)
	// Each primary of the chain is cut off as it takes office, so for as long as the chain
	// runs no replica that reaches the clients can commit their requests: one retried all
	// along runs out of retries, while one whose retry happened to reach a primary in the few
	// ms before its cut is served. The clients are judged on what they send after the cut
	// (swarm seed 2039000371: c1's put, sent in the blip round, gave up during five cuts).
	run.clients.again(c.Loop.Now(), fmt.Sprintf("the upgrade_cut round cut off primary R%d", from))
}

// isUpgradeBatch reports whether a prepare's body is an upgrade op's batch: one entry
// (count u16) whose operation (the byte after client u64, session u64 and request u32) is
// OperationUpgrade, with its release (u32) as payload (vsr/batch.go).
func isUpgradeBatch(body []byte) bool {
	const entry = 2 + 8 + 8 + 4 // count, then the entry's client, session and request
	return len(body) == entry+1+4+4 && binary.LittleEndian.Uint16(body) == 1 &&
		vsr.Operation(body[entry]) == vsr.OperationUpgrade
}
