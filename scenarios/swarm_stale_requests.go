package scenarios

import (
	"vopr/faults"
	"vopr/sim"
)

// staleRequestsQuietTicks is how long before the heal the stale-requests nemesis
// (faults/stale_requests.go) stops: the copies it released are delivered or lost by the
// heal, so that the liveness phase never sees one.
const staleRequestsQuietTicks = 50

// armStaleRequests draws the stale-requests nemesis of the seed from its own stream (nil
// when off) and has it see every message a client sends. It runs after every other setter
// of opts.OnClientSend, which it calls first.
func armStaleRequests(seed uint64, s faults.Swarm, opts *sim.ClusterOptions) *faults.StaleRequests {
	st := faults.DrawStaleRequests(sim.Stream(seed, "nemesis/stale_requests"), s)
	if st == nil {
		return nil
	}
	prev, cluster := opts.OnClientSend, opts.ClusterID
	opts.OnClientSend = func(client, slot int, msg []byte) {
		if prev != nil {
			prev(client, slot, msg)
		}
		st.Capture(cluster, client, msg)
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
