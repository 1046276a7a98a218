package scenarios

import (
	"fmt"
)

// A healed cluster keeps its primary. Once the healed cluster has converged, the load stops
// and the alert hold runs it idle for a few seconds (holdAlerts) with every fault cured: the
// primary's commit heartbeats must keep every backup from starting an election. The runbook's
// ViewChangeStorm alert needs more than ten view changes in 30 s, so an election every second
// or two (a heartbeat that no longer resets the election timeout, a timeout drawn too short)
// passes it, while each one drops the requests that arrive meanwhile. The hold therefore
// requires the view of every running member to stay what it was when the hold began: a view
// change there is an election that nothing asked for. Except with the lasting clock fault
// (swarm_lasting.go): a primary whose clock the heal left off must abdicate once a request
// waits for it, and a client's retry of a request in flight at the hold is one.

// viewsAt returns the highest view of the running members.
func (run *swarmRun) viewsAt() uint32 {
	var view uint32
	for i := 0; i < run.c.MemberCount(); i++ {
		if r := run.c.Replica(i); r != nil && run.c.IsMember(i) {
			view = max(view, r.InspectState().View)
		}
	}
	return view
}

// viewHeld returns why the hold that began in view `from` did not keep it ("" if it did).
func (run *swarmRun) viewHeld(from uint32) string {
	if to := run.viewsAt(); to != from && run.lasting != lastingClock {
		return fmt.Sprintf("the healed, converged cluster changed views while idle, from view %d to %d during the %s alert hold: elections with no fault to cause them",
			from, to, alertSettle+alertHold)
	}
	return ""
}
