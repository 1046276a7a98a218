package scenarios

import (
	"vopr/cluster/vsr"
	"vopr/faults"
	"vopr/sim"
)

// staleRequestsQuietTicks is how long before the heal the stale-requests nemesis
// (faults/stale_requests.go) stops: the copies it released are delivered or lost by the
// heal, so that the liveness phase never sees one.
const staleRequestsQuietTicks = 50

// armStaleRequests draws the stale-requests nemesis of the seed from its own stream (nil
// when off) and has it see every message a client sends, and every replica that starts a
// view as its primary. It runs after every other setter of opts.OnClientSend and
// opts.OnEvent, which it calls first; cluster is the cluster being built (nil until then).
func armStaleRequests(seed uint64, s faults.Swarm, opts *sim.ClusterOptions, cluster func() *sim.Cluster) *faults.StaleRequests {
	st := faults.DrawStaleRequests(sim.Stream(seed, "nemesis/stale_requests"), s)
	if st == nil {
		return nil
	}
	prev, id := opts.OnClientSend, opts.ClusterID
	opts.OnClientSend = func(client, slot int, msg []byte) {
		if prev != nil {
			prev(client, slot, msg)
		}
		st.Capture(id, client, msg)
	}
	prevEvent := opts.OnEvent
	opts.OnEvent = func(e vsr.Event) {
		if prevEvent != nil {
			prevEvent(e)
		}
		if c := cluster(); c != nil && e.Kind == vsr.EventStatus && e.Text == "normal primary" {
			st.OnNewPrimary(c, e.Replica)
		}
	}
	return st
}

// stepStaleRequests releases the copies due at this tick of the fault phase, and stops the
// nemesis staleRequestsQuietTicks before its end.
func (run *swarmRun) stepStaleRequests(tick, faultTicks int) {
	if tick >= faultTicks-staleRequestsQuietTicks {
		run.staleRequests.Stop()
		return
	}
	run.staleRequests.Step(run.c)
}
