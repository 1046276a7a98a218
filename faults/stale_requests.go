package faults

import (
	"math/rand/v2"
	"strconv"

	"vopr/cluster/vsr"
	"vopr/internal/assert"
	"vopr/sim"
)

// The stale-requests nemesis: real networks duplicate packets and hold them for seconds (a
// retransmitting middlebox, a queue behind a dead link), so a client's request or
// registration may reach a replica long after the client moved on: after its session was
// evicted (a client table smaller than the client count), after it registered again, after
// a view change. The network's own replay fault re-sends a packet within a few delays only;
// this one keeps copies of some requests and registers the clients send and puts them back
// on the network seconds of simulated time later, to a random active replica. Exactly-once
// execution across sessions must hold against them: the session a request was numbered in
// travels with it (its Op), and a request of a session that is gone must never run, nor run
// under the session a stale register re-created (invariants/session_execution.go).
//
// It runs only during the fault phase: Stop, before the heal, drops what it holds.

// StaleRequests holds the copies. A nil *StaleRequests is the fault switched off: every
// method is a no-op.
type StaleRequests struct {
	r *rand.Rand
	// captureKV and captureRegister are the chances that a client's send of a key/value
	// request, or of a register, is copied.
	captureKV, captureRegister float64
	// delayMin and delayMax bound, in ticks, how long a copy is held before its release.
	delayMin, delayMax int
	// again is the chance that a released copy is held for another release.
	again   float64
	tick    int
	held    []staleRequest
	stopped bool
	// Counters of what it did.
	Captured, Released, ReleasedRegisters, ReleasedOldSession uint64
}

type staleRequest struct {
	client  int // the client's index
	msg     []byte
	due     int // the tick of its release
	session uint64
	request uint32
	op      vsr.Operation
}

// staleRequestsHeldMax bounds the copies held: a copy taken when it is full replaces a random one.
const staleRequestsHeldMax = 64

// DrawStaleRequests draws whether the fault is on for the swarm s, and its rates, from r (its
// own stream, sim.Stream(seed, "nemesis/stale_requests"), so that the swarm's other draws keep
// their values). It is on in three quarters of the seeds whose clients outnumber the sessions (the
// evictions it needs happen there), in an eighth of the others. Nil when off.
func DrawStaleRequests(r *rand.Rand, s Swarm) *StaleRequests {
	assert.That(r != nil, "stale requests: nil rand")
	chance := 0.125
	if s.ClientTable > 0 && s.ClientTable < s.Clients {
		chance = 0.75
	}
	on := r.Float64() < chance
	st := &StaleRequests{r: r,
		captureKV:       0.01 + 0.2*r.Float64(),
		captureRegister: 0.2 + 0.8*r.Float64(),
		delayMin:        20 + r.IntN(100), // 0.2 s to 1.2 s at the least
		again:           0.5 * r.Float64(),
	}
	st.delayMax = st.delayMin + 100 + r.IntN(1000) // up to ~12 s more
	if !on {
		return nil
	}
	return st
}

// Capture sees a message client sends: with the drawn chance, a request or register is
// copied for a later release. msg is kept as it is (a sent message is never changed).
func (s *StaleRequests) Capture(cluster uint64, client int, msg []byte) {
	if s == nil || s.stopped {
		return
	}
	u := s.r.Float64()
	if u >= max(s.captureKV, s.captureRegister) {
		return
	}
	if command, ok := vsr.PeekCommand(msg); !ok || command != vsr.CommandRequest {
		return
	}
	m, err := vsr.Decode(msg, cluster)
	if err != nil {
		return
	}
	switch h := m.Header; {
	case h.Operation == vsr.OperationKV && u < s.captureKV,
		h.Operation == vsr.OperationRegister && u < s.captureRegister:
		s.hold(staleRequest{client: client, msg: msg, session: h.Op, request: h.Request, op: h.Operation})
	}
}

func (s *StaleRequests) hold(q staleRequest) {
	q.due = s.tick + s.delayMin + s.r.IntN(s.delayMax-s.delayMin+1)
	s.Captured++
	if len(s.held) < staleRequestsHeldMax {
		s.held = append(s.held, q)
		return
	}
	s.held[s.r.IntN(len(s.held))] = q
}

// Step advances one tick and releases the copies due, each to a random active replica, from
// its client's node, through the network's faults like any packet.
func (s *StaleRequests) Step(c *sim.Cluster) {
	if s == nil || s.stopped {
		return
	}
	s.tick++
	kept := s.held[:0]
	var due []staleRequest
	for _, q := range s.held {
		if q.due <= s.tick {
			due = append(due, q)
		} else {
			kept = append(kept, q)
		}
	}
	s.held = kept
	for _, q := range due {
		s.release(c, q)
		if sim.Chance(s.r, s.again) {
			s.hold(q)
			s.Captured-- // the same copy, held again
		}
	}
}

// OnNewPrimary sees a replica start a view as its primary: half the copies held, drawn at
// random, go to it at once (and stay held for their own release). A new primary executes
// the ops of the log it took over only as they commit again, so for a few round trips its
// client table is older than its log: a request of a session its log already evicted (and
// perhaps re-created) still finds the session there. Sent at that moment, old requests meet
// the window that releases at random times would seldom hit.
func (s *StaleRequests) OnNewPrimary(c *sim.Cluster, node int) {
	if s == nil || s.stopped || node < 0 || node >= c.MemberCount() {
		return
	}
	for _, q := range s.held {
		if sim.Chance(s.r, 0.5) {
			s.releaseTo(c, q, node)
		}
	}
}

func (s *StaleRequests) release(c *sim.Cluster, q staleRequest) {
	nodes := c.ActiveNodes()
	s.releaseTo(c, q, nodes[s.r.IntN(len(nodes))])
}

func (s *StaleRequests) releaseTo(c *sim.Cluster, q staleRequest, to int) {
	s.Released++
	if q.op == vsr.OperationRegister {
		s.ReleasedRegisters++
	}
	cl := c.Client(q.client)
	old := q.op == vsr.OperationKV && (!cl.Registered() || cl.Session() != q.session) ||
		q.op == vsr.OperationRegister && cl.Registered()
	if old {
		s.ReleasedOldSession++
	}
	from := c.ClientNode(q.client)
	kind := "request"
	if q.op == vsr.OperationRegister {
		kind = "register"
	}
	c.Trace.Emit(sim.LevelShort, from, "nemesis", "stale_request: c"+strconv.Itoa(q.client+1)+" "+
		kind+" req="+strconv.FormatUint(uint64(q.request), 10)+" session="+
		strconv.FormatUint(q.session, 10)+" -> node "+strconv.Itoa(to))
	c.Network.Send(from, to, q.msg)
}

// Stop ends the fault (at the heal): nothing held is released.
func (s *StaleRequests) Stop() {
	if s == nil {
		return
	}
	s.stopped, s.held = true, nil
}

// Counters adds what the fault did to counters (nothing when off).
func (s *StaleRequests) Counters(counters map[string]uint64) {
	if s == nil || counters == nil {
		return
	}
	counters["nemesis.stale_requests.captured"] += s.Captured
	counters["nemesis.stale_requests.released"] += s.Released
	counters["nemesis.stale_requests.released_registers"] += s.ReleasedRegisters
	counters["nemesis.stale_requests.released_old_session"] += s.ReleasedOldSession
}
