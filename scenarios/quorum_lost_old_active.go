package scenarios

import (
	"fmt"
	"strings"

	"vopr/cluster/vsr"
	"vopr/ops"
)

// Option B's checks of the configuration a failover leaves (vsr/failover.go).
//
// The new configuration: once the promoted standby settles as the new primary, the operator
// reads its configuration (`replica status --replica-id 100`): its epoch must be the one the
// failover reported, and its membership must name exactly the promoted replica (slot 0 of
// the new configuration) a member, every other slot outside. A configuration that kept the
// old active replicas' slots as members would take them in when they come back.
//
// An old active replica that comes back: in half the option B seeds (drawn from the seed),
// one active replica of the lost region was only cut off; it keeps its old disk and its node
// restarts a drawn while after the promoted replica did (the runbook asks no fencing of the
// old region before the failover, so it comes back unfenced). The old configuration has no
// quorum left, and the new one has only the promoted replica: the old replica must never
// take part in the new epoch (it stays in its own, or stops as removed on hearing the new
// one), never vote in it, and never commit anything the old cluster had not committed
// before the loss. It is watched every tick while writes resume on the promoted replica
// (with the load on for at least oldActiveWatchTicks after it started), and its status is
// read at the end. The Suite's checkers stay on throughout for the new configuration; the
// old replica holds the old configuration's history (its log and commits above the
// promotion point were replaced by the operator's approval), so they do not follow it
// (swarmRun.outsiders): the checks here do.

// oldActiveWatchTicks is how long the load runs on after the old active replica started.
const oldActiveWatchTicks = 300

// oldActive is the old active replica option B brings back.
type oldActive struct {
	node      int
	startAt   int    // the run's tick to start it at
	epoch     uint32 // the new configuration's epoch
	commitMax uint64 // the highest op prepared when the quorum was lost: it commits nothing above
	started   bool
	startedAt int
}

// watchOldActive starts the old active replica when its tick comes, and then holds it to
// staying out of the new configuration (a violation goes to run.broken).
func (run *quorumLostRun) watchOldActive() {
	w := run.old
	if w == nil || run.broken != "" {
		return
	}
	if !w.started {
		if run.ticks >= w.startAt {
			// It holds the old configuration's history, replaced above the promotion
			// point: the Suite follows the new configuration only.
			if run.outsiders == nil {
				run.outsiders = make([]bool, run.c.MemberCount())
			}
			run.outsiders[w.node] = true
			run.c.StartReplica(w.node)
			w.started, w.startedAt = true, run.ticks
			run.counts["failover.old_active_back"]++
		}
		return
	}
	if r := run.c.Replica(w.node); r != nil {
		run.broken = w.check(r.InspectState())
	}
}

// oldActiveEvent holds the old active replica's events to staying out of the new epoch.
func (run *quorumLostRun) oldActiveEvent(e vsr.Event) {
	if w := run.old; w != nil && w.started && e.Replica == w.node && run.broken == "" {
		run.broken = w.checkEvent(e)
	}
}

// check is the old active replica's state held to staying out: "" if it does.
func (w *oldActive) check(in vsr.Inspection) string {
	switch {
	case in.Epoch >= w.epoch && !in.Removed:
		return fmt.Sprintf("old active replica %d, back with its old disk after cluster failover --promote-standby 100, took part in the new configuration: expected it to stay out of epoch %d (in its old epoch, or stopped as removed), got status %s role %s epoch %d view %d (members %v)",
			w.node, w.epoch, in.Status, in.Role, in.Epoch, in.View, memberSlots(in.Outside))
	case in.CommitMax > w.commitMax:
		return fmt.Sprintf("old active replica %d, back with its old disk after cluster failover --promote-standby 100, committed past the loss: expected commit_number at most %d (the highest op prepared when the quorum was lost), got %d (status %s, epoch %d)",
			w.node, w.commitMax, in.CommitMax, in.Status, in.Epoch)
	}
	return ""
}

// checkEvent is one of the old active replica's events held to staying out: "" if it does.
func (w *oldActive) checkEvent(e vsr.Event) string {
	if e.Epoch < w.epoch {
		return ""
	}
	what := participation(e)
	if what == "" {
		return ""
	}
	return fmt.Sprintf("old active replica %d, back with its old disk after cluster failover --promote-standby 100, %s in the new configuration's epoch %d (view %d): expected it never to join, vote or commit in it",
		w.node, what, e.Epoch, e.View)
}

// participation says how event e takes part in a configuration (it committed, counted its
// own vote, or joined one), or "" if it does not: what a replica of a configuration the
// operator gave up (quorum_lost's old active replica, a failover's zombies) must never do in
// the new one.
func participation(e vsr.Event) string {
	switch {
	case e.Kind == vsr.EventCommit:
		return fmt.Sprintf("committed op %d", e.Op)
	case e.Kind == vsr.EventVoteSelf:
		return fmt.Sprintf("counted its own vote for op %d", e.Op)
	case e.Kind == vsr.EventStatus && strings.HasPrefix(e.Text, "configuration epoch"):
		return fmt.Sprintf("joined it (%s)", e.Text)
	}
	return ""
}

// memberSlots lists the slots a membership (a bit per slot outside) names members.
func memberSlots(outside uint16) []int {
	var members []int
	for slot := 0; slot < vsr.ReplicasMax+vsr.StandbysMax; slot++ {
		if outside&(1<<uint(slot)) == 0 {
			members = append(members, slot)
		}
	}
	return members
}

// checkPromotedConfiguration holds the promoted standby's status (`replica status
// --replica-id 100`) to the configuration a failover makes: epoch the failover's, the
// promoted replica slot 0 and the only member, every other slot outside. "" if it is.
func checkPromotedConfiguration(s ops.ReplicaStatusReport, epoch uint32) string {
	members := memberSlots(s.Outside)
	if s.Status != ops.StatusUnreachable && s.Replica == 0 && s.Epoch == epoch && len(members) == 1 && members[0] == 0 {
		return ""
	}
	return fmt.Sprintf("replica status --replica-id 100 after cluster failover --promote-standby 100 --approve-data-loss-risk: expected the new configuration (epoch %d) to name only the promoted standby (replica 0) a member and every other slot outside, got status %s replica %d epoch %d with members %v (outside=%#04x)",
		epoch, s.Status, s.Replica, s.Epoch, members, s.Outside)
}

// oldActiveStaysOut is the end of option B with an old active replica back: its status
// (`replica status --replica-id N`) must show it outside the new configuration.
func (run *quorumLostRun) oldActiveStaysOut() (Outcome, string) {
	w := run.old
	if w == nil {
		return Pass, ""
	}
	s := ReplicaStatus(run.c, w.node)
	if s.Status != ops.StatusUnreachable && s.Epoch >= w.epoch && !s.Removed {
		return run.fail(Correctness, "replica status --replica-id %d (the old active replica back after the failover): expected it outside the new configuration (epoch %d), got status %s role %s epoch %d (members %v)",
			w.node, w.epoch, s.Status, s.Role, s.Epoch, memberSlots(s.Outside))
	}
	if s.Removed {
		run.counts["failover.old_active_stopped"]++
	}
	return Pass, ""
}
