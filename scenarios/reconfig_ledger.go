package scenarios

import (
	"fmt"

	"vopr/cluster/vsr"
	"vopr/ops"
	"vopr/sim"
)

// The ledger of accepted membership changes: a change `cluster reconfig` reported accepted
// must take effect, as the configuration of the epoch it leads to, in the order accepted.
// The one way it may vanish is that the primary that took it lost the view it took it in
// (it went down, or a view change came before the change was prepared: the operator asks
// again). A change that vanishes while its primary stays the primary of that view was
// acknowledged and then lost, for instance replaced by a second change asked before it was
// prepared: an operator who types the next command before the first has finished must see
// the second refused as busy, or both carried out, never the first silently dropped.
//
// Everything here is what an operator sees: the accepting replica's status (role, view, its
// configuration) and the newest configuration the replicas have entered, never the replica's
// own record of what it was asked.

// acceptedChange is one change a primary accepted and what it must lead to.
type acceptedChange struct {
	change  vsr.Change
	epoch   uint32 // the epoch it leads to
	outside uint16 // that epoch's membership: bit i set for a slot outside
	primary int    // the replica that accepted it, and that replica's view then
	view    uint32
	lost    bool // its primary was seen out of that view (or down) before the epoch came
}

// changeLedger holds the accepted changes whose epoch has not come yet.
type changeLedger struct {
	pending []acceptedChange
	// seenEpoch and seenOutside are the newest configuration at the last observe, to judge
	// a change whose epoch was passed since (the configuration moved twice between looks).
	seenEpoch   uint32
	seenOutside uint16
}

// accepted records a change primary rep.Primary accepted. It follows the changes that
// replica accepted in the same view and that are still on their way (in the order accepted),
// or else the replica's configuration. It returns why the acceptance itself breaks the
// property ("" if it does not): the change cannot follow one still on its way (the same
// remove asked again, say), so that one was lost. (A change another primary accepted starts
// from that primary's configuration: an old primary cut off from the cluster may not know it
// has lost its view, and the operator asks the new one.)
func (l *changeLedger) accepted(c *sim.Cluster, change vsr.Change, rep ops.ReconfigReport) string {
	s := replicaStatus(c, rep.Primary)
	base := acceptedChange{epoch: s.Epoch, outside: s.Outside}
	for _, p := range l.pending {
		if !p.lost && p.primary == rep.Primary && p.view == s.View {
			base = p
		}
	}
	bit := uint16(1) << uint(change.Replica)
	add := change.Kind == vsr.ChangeAddReplica || change.Kind == vsr.ChangeAddStandby
	l.pending = append(l.pending, acceptedChange{change: change, epoch: base.epoch + 1, outside: base.outside ^ bit,
		primary: rep.Primary, view: s.View})
	if base.change.Kind != 0 && add != (base.outside&bit != 0) {
		return fmt.Sprintf("reconfig: replica %d, primary of view %d, accepted %s %d while %s %d, which it accepted in "+
			"that view, was still on its way, and after that one there is no such change to make: the first was lost",
			rep.Primary, s.View, change.Kind, change.Replica, base.change.Kind, base.change.Replica)
	}
	return ""
}

// observe looks at the cluster once (every tick while changes are on their way): a change
// whose epoch has come must be that epoch's configuration, unless its primary lost its view
// first; one still waiting is lost once its primary is seen out of that view. It returns why
// an accepted change vanished ("" if none did).
func (l *changeLedger) observe(c *sim.Cluster) string {
	if len(l.pending) == 0 {
		return ""
	}
	epoch, outside := c.Configuration()
	why := ""
	kept := l.pending[:0]
	for _, p := range l.pending {
		got, judged := outside, epoch == p.epoch
		if epoch > p.epoch && l.seenEpoch == p.epoch {
			got, judged = l.seenOutside, true
		}
		switch {
		case epoch < p.epoch:
			if s := replicaStatus(c, p.primary); !s.Healthy() || s.Role != vsr.RolePrimary.String() || s.View != p.view {
				p.lost = true
			}
			kept = append(kept, p)
		case judged && got != p.outside && !p.lost && why == "":
			why = fmt.Sprintf("reconfig: replica %d, primary of view %d, accepted %s %d, leading to epoch %d with %s "+
				"outside, and stayed the primary of that view until epoch %d came, with %s outside: "+
				"the accepted change vanished", p.primary, p.view, p.change.Kind, p.change.Replica, p.epoch,
				slotsText(p.outside), p.epoch, slotsText(got))
		}
	}
	l.pending = kept
	l.seenEpoch, l.seenOutside = epoch, outside
	return why
}

// slotsText names the slots a membership leaves outside.
func slotsText(outside uint16) string {
	s := ""
	for i := 0; i < 16; i++ {
		if outside&(1<<uint(i)) != 0 {
			s += fmt.Sprintf(" %d", i)
		}
	}
	if s == "" {
		return "no slot"
	}
	return "slots" + s
}
