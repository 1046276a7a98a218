package scenarios

import (
	"fmt"
	"math/rand/v2"

	"vopr/cluster/client"
	"vopr/cluster/kv"
)

// The client's contract, as an application sees it, held on the swarm's client ticks.
//
// A registered client holds a session: the op of the register the cluster committed, sent
// with every request. A client that counts itself registered without one (a register that
// gave up, taken for done) sends its requests under none.
//
// A client takes one request at a time: Submit and ReadStale return false while one is in
// flight, and leave it alone. An application that shares a client between its threads calls
// them at any time, so the swarm does too: now and then, on a tick that finds a client busy,
// it asks for one more request or stale read, and a client that takes it breaks its contract
// (the request in flight would never be answered). The draws come from the checker's own
// stream, and a refused call changes nothing, so the run is the same with or without them.

// An accepted operation completes: Submit returns true only for an operation the client took,
// and its done runs once, before the client is idle again. A client without a session
// registers first; an application hands it the operation it wants to send all the same, so
// the swarm hands it a get, and a client that returns true for it has taken that operation
// (and must complete it) where a correct one returns false and only registers. The payload
// of a refused call is never sent, so the run is the same.

// busyProbePercent is the share of a busy client's ticks that probe it.
const busyProbePercent = 5

// requester is the part of a client that takes requests.
type requester interface {
	Submit(payload []byte, done func(client.Result)) bool
	ReadStale(standby int, payload []byte, done func(client.Result)) bool
}

// probeBusyClient asks busy client i for another request, and records a violation if it
// takes it.
func (run *swarmRun) probeBusyClient(i int, cl requester) {
	if run.busyProbes == nil || run.broken != "" {
		return
	}
	run.broken = probeBusy(run.busyProbes, i, cl, run.c.ReplicaCount(), run.c.StandbyCount())
}

// probeBusy is probeBusyClient's draw and check, on a cluster of replicas and standbys
// (numbered after the replicas).
func probeBusy(rng *rand.Rand, i int, cl requester, replicas, standbys int) string {
	if rng.IntN(100) >= busyProbePercent {
		return ""
	}
	get := kv.EncodeOp(kv.Op{Kind: kv.KindGet, Key: "busy-probe"})
	ignore := func(client.Result) {}
	if standbys > 0 && rng.IntN(2) == 0 {
		standby := replicas + rng.IntN(standbys)
		if cl.ReadStale(standby, get, ignore) {
			return fmt.Sprintf("client %d took a stale read to replica %d while a request was in flight", i, standby)
		}
		return ""
	}
	if cl.Submit(get, ignore) {
		return fmt.Sprintf("client %d took a request while another was in flight", i)
	}
	return ""
}

// sessionProblem returns the violation, if client i counts itself registered without a
// session.
func sessionProblem(i int, cl interface {
	Registered() bool
	Session() uint64
}) string {
	if cl.Registered() && cl.Session() == 0 {
		return fmt.Sprintf("client %d counts itself registered but holds no session", i)
	}
	return ""
}

// submitUnregistered has unregistered client i register, handing it a get as an application
// hands it its operation: if the client says it took the get, the get must complete.
func (run *swarmRun) submitUnregistered(i int, cl requester) {
	get := kv.EncodeOp(kv.Op{Kind: kv.KindGet, Key: "register-probe"})
	if cl.Submit(get, func(client.Result) { run.noteCompleted(i) }) {
		run.noteAccepted(i)
	}
}

// noteAccepted records that client i took an operation; noteCompleted that its done ran.
func (run *swarmRun) noteAccepted(i int) {
	if i >= len(run.awaiting) {
		run.awaiting = append(run.awaiting, make([]bool, i+1-len(run.awaiting))...)
	}
	run.awaiting[i] = true
}

func (run *swarmRun) noteCompleted(i int) {
	if i < len(run.awaiting) {
		run.awaiting[i] = false
	}
}

// acceptedUnanswered returns the violation, if client i is idle while an operation it took
// never completed.
func (run *swarmRun) acceptedUnanswered(i int, cl interface{ Busy() bool }) string {
	if i >= len(run.awaiting) || !run.awaiting[i] || cl.Busy() {
		return ""
	}
	return fmt.Sprintf("client %d is idle, but an operation it took (Submit returned true) never completed", i)
}
